"""The pipeline's geo step (python_jobs/geo/job.py) on a tiny metro: generation when missing, the four tables,
their row accounting and real values, and the load into raw.geo_* (whole-table replace)."""

from __future__ import annotations

import json

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from python_jobs.config import Settings, load_settings
from python_jobs.geo import job
from python_jobs.geo.generate import DEFAULT_SIZE_PX, DEFAULT_YEARS
from python_jobs.orchestration import plan
from python_jobs.orchestration.steps import conflicts

SIZE = 128  # 3.84 km across, 12 tracts
PIXEL_KM2 = 0.0009  # 30 m x 30 m


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("geo-job") / "data"
    return load_settings({}).with_(data_dir=data, warehouse_path=data / "warehouse.duckdb", scale=0.3)


@pytest.fixture(scope="module")
def ran(settings: Settings) -> job.GeoRun:
    return job.run(settings, SIZE)


@pytest.fixture(scope="module")
def tables(ran: job.GeoRun) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(path) for name, path in ran.paths.items()}


def test_missing_landing_files_are_generated_once(settings: Settings, ran: job.GeoRun) -> None:
    assert job.PIPELINE_SIZE_PX == DEFAULT_SIZE_PX  # written out in job.py to keep `load` light
    assert ran.generated and ran.years == DEFAULT_YEARS
    assert not job.ensure_landing(settings, SIZE)  # same seed and size: kept
    assert job.ensure_landing(settings.with_(data_dir=settings.data_dir.parent / "other"), SIZE)


def test_every_customer_is_placed_unmatched_or_quarantined(
    settings: Settings, ran: job.GeoRun, tables: dict[str, pd.DataFrame]
) -> None:
    customers = pyogrio.read_dataframe(settings.landing_dir / "geo" / "business.gpkg", layer="customers")
    assert ran.balanced() and ran.customers["rows_in"] == len(customers) > 0
    # The clean metro: every customer lives in a tract, and each tract's customers add up to all of them.
    assert ran.customers["in_tract"] == len(customers) and tables["rejects"].empty
    assert tables["tracts"]["customers"].sum() == len(customers)
    assert tables["store_catchment"]["nearest_customers"].sum() == len(customers)


def test_builtup_km2_is_the_masks_pixel_count(
    settings: Settings, ran: job.GeoRun, tables: dict[str, pd.DataFrame]
) -> None:
    years = tables["tract_years"]
    assert len(years) == len(tables["tracts"]) * len(DEFAULT_YEARS)
    summary = json.loads((settings.truth_dir / "geo" / "summary.json").read_text())
    for year, rows in years.groupby("year"):
        with rasterio.open(job.output_dir(settings) / "masks" / f"builtup_{year}.tif") as src:
            mask = src.read(1)
        # The tracts tile the map and a pixel counts in the tract holding its centre: each pixel exactly once.
        assert rows["mapped_pixels"].sum() == SIZE * SIZE
        assert rows["builtup_pixels"].sum() == np.count_nonzero(mask == 1)
        assert rows["valid_pixels"].sum() == np.count_nonzero(mask != 255)
        assert rows["builtup_km2"].sum() == pytest.approx(np.count_nonzero(mask == 1) * PIXEL_KM2)
        assert rows["population"].sum() == summary["population"][str(year)]
    # Built-up land grows from image to image, as the metro does.
    totals = years.groupby("year")["builtup_km2"].sum()
    assert totals.is_monotonic_increasing


def test_areas_are_measured_in_metres_and_geometry_is_wkb_in_4326(tables: dict[str, pd.DataFrame]) -> None:
    tracts = tables["tracts"]
    assert tracts["area_km2"].sum() == pytest.approx((SIZE * 0.03) ** 2, rel=1e-9)
    assert set(tracts["crs"]) == {"EPSG:4326"}
    polygons = shapely.from_wkb(tracts["geometry_wkb_hex"].to_numpy())
    assert shapely.is_valid(polygons).all()
    lon, lat = shapely.get_coordinates(polygons).T
    assert ((lon > 14) & (lon < 16)).all() and ((lat > 52) & (lat < 53)).all()
    # Measured again from the WKB: the same km².
    again = gpd.GeoSeries(polygons, crs="EPSG:4326").to_crs("EPSG:32633").area / 1e6
    assert np.allclose(again.to_numpy(), tracts["area_km2"].to_numpy())


def test_store_catchment_values(tables: dict[str, pd.DataFrame]) -> None:
    stores = tables["store_catchment"]
    assert stores["store_id"].tolist() == list(range(1, 13))
    served = stores[stores["nearest_customers"] > 0]
    assert (served["nearest_mean_distance_m"] <= served["nearest_max_distance_m"]).all()
    # Zones are disjoint and inside the map: their people cannot exceed the metro's.
    people = tables["tract_years"].query("year == 2020")["population"].sum()
    assert 0 < stores["zone_population"].sum() <= people + 1e-6
    assert stores["zone_customers"].sum() <= stores["nearest_customers"].sum()


def test_load_replaces_the_whole_tables(settings: Settings, ran: job.GeoRun) -> None:
    for _ in range(2):  # a second load replaces, never doubles
        loaded = job.load(settings)
    assert loaded == {f"geo_{name}": rows for name, rows in ran.rows.items()}
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        for table, rows in loaded.items():
            assert con.execute(f"SELECT count(*), count(_load_date) FROM raw.{table}").fetchone() == (rows, 0)
    finally:
        con.close()


def test_a_customer_outside_every_tract_and_a_broken_one_are_rejected_with_reasons(
    tmp_path, settings: Settings, ran: job.GeoRun
) -> None:
    dirty = settings.with_(data_dir=tmp_path / "data", warehouse_path=tmp_path / "data" / "w.duckdb")
    job.ensure_landing(dirty, SIZE)
    business = dirty.landing_dir / "geo" / "business.gpkg"
    layers = {
        name: pyogrio.read_dataframe(business, layer=name) for name in pyogrio.list_layers(business)[:, 0]
    }
    customers = layers["customers"]
    extra = gpd.GeoDataFrame(
        {"customer_id": [900001, 900002], "city": ["nowhere", "nowhere"]},
        geometry=[shapely.Point(0.0, 0.0), None],
        crs=customers.crs,
    )
    layers["customers"] = pd.concat([customers, extra], ignore_index=True)
    business.unlink()
    for name, frame in layers.items():
        pyogrio.write_dataframe(frame, business, layer=name, driver="GPKG")

    result = job.run(dirty, SIZE)
    assert not result.generated  # the edited files were used, not regenerated
    assert result.customers == {
        "rows_in": len(customers) + 2,
        "in_tract": len(customers),
        "unmatched": 1,
        "quarantined": 1,
    }
    assert result.balanced()
    rejects = pd.read_parquet(result.paths["rejects"])
    assert sorted(zip(rejects["feature_id"], rejects["kind"], strict=True)) == [
        ("900001", "unmatched"),
        ("900002", "quarantined"),
    ]
    assert rejects.set_index("kind").loc["unmatched", "reason"] == "outside every tract"
    assert "geometry" in rejects.set_index("kind").loc["quarantined", "reason"]
    # The unmatched customer still has a nearest store; the broken one does not.
    catchment = pd.read_parquet(result.paths["store_catchment"])
    assert catchment["nearest_customers"].sum() == len(customers) + 1


def test_the_geo_step_runs_beside_the_engines_and_its_load_waits_its_turn(settings: Settings) -> None:
    steps = {s.name: s for s in plan(settings, [1, 2], settings.warehouse_path)}
    geo, load = steps["geo"], steps["load geo"]
    for other in ("generate", "flink replay", "ingest", "spark batch", "monte carlo"):
        assert not conflicts(steps[other], geo), other
    assert conflicts(geo, load) and conflicts(load, steps["dbt build"])
    assert geo.days == load.days == (settings.day_date(1), settings.day_date(2))


def test_duckdb_spatial_reads_the_warehouse_geometry_offline(settings: Settings, ran: job.GeoRun) -> None:
    # DuckDB spatial is the warehouse's spatial engine: loaded from its pip package (no download), it reads the
    # raw tables' hex WKB and, projected to UTM 33N, measures the same areas the step measured in Python.
    from python_jobs.geo.duckdb_spatial import spatial_extension_file

    job.load(settings)
    con = duckdb.connect(
        str(settings.warehouse_path),
        read_only=True,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        con.execute(f"LOAD '{spatial_extension_file()}'")
        rows = con.execute(
            "SELECT tract_id, area_km2, ST_Area(ST_Transform(ST_GeomFromHEXWKB(geometry_wkb_hex), crs, "
            "'EPSG:32633', always_xy := true)) / 1e6 FROM raw.geo_tracts ORDER BY tract_id"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == ran.rows["tracts"]
    for tract_id, python_km2, duckdb_km2 in rows:
        assert duckdb_km2 == pytest.approx(python_km2, rel=1e-6), tract_id


def test_a_tract_with_a_missing_or_negative_population_is_kept_and_reported(
    tmp_path, settings: Settings, ran: job.GeoRun
) -> None:
    dirty = settings.with_(data_dir=tmp_path / "data", warehouse_path=tmp_path / "data" / "w.duckdb")
    job.ensure_landing(dirty, SIZE)
    tracts_file = dirty.landing_dir / "geo" / "tracts.gpkg"
    tracts = pyogrio.read_dataframe(tracts_file, layer="tracts")
    first, second = tracts["tract_id"].iloc[0], tracts["tract_id"].iloc[1]
    tracts["pop_2010"] = tracts["pop_2010"].astype("float64")
    tracts.loc[0, "pop_2010"] = np.nan
    tracts.loc[1, "pop_2020"] = -5
    tracts_file.unlink()
    pyogrio.write_dataframe(tracts, tracts_file, layer="tracts", driver="GPKG")

    result = job.run(dirty, SIZE)
    rejects = pd.read_parquet(result.paths["rejects"]).query("kind == 'incomplete'")
    assert sorted(zip(rejects["feature_id"], rejects["reason"], strict=True)) == sorted(
        [(str(first), "pop_2010 missing"), (str(second), "pop_2020 negative")]
    )
    years = pd.read_parquet(result.paths["tract_years"]).set_index(["tract_id", "year"])
    assert len(years) == len(tracts) * len(DEFAULT_YEARS)  # every tract kept, every year
    assert pd.isna(years.loc[(str(first), 2010), "population"])
    assert pd.isna(years.loc[(str(second), 2020), "population"])
    assert years.loc[(str(first), 2020), "population"] == tracts.loc[0, "pop_2020"]
    assert years["population"].notna().sum() == len(years) - 2
