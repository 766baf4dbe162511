"""The pipeline's geo step: the seeded metro's map turned into three small tables for the warehouse.

`run` (run-wide, not per simulated day: the map is static for a run) reads the landing files of
`python_jobs.geo.generate` (generating them first when they are missing or belong to another seed or size),
classifies each year's image into a built-up mask, and writes under `<data_dir>/geo/`, each file atomically:

* `tracts.parquet`: one row per census tract: id, area in km² measured in the raster's metric CRS, the
  customers living in it, its centroid, and its geometry as hex-encoded WKB in EPSG:4326 with a `crs` column;
* `tract_years.parquet`: one row per tract x image year: population (the census), mapped, valid (cloud- and
  nodata-free) and built-up km² from the classified mask (`raster.zonal_builtup`, a pixel counted in the tract
  holding its centre);
* `store_catchment.parquet`: one row per store: its point, the customers whose nearest store it is (and their
  mean and max distance in metres), the customers inside its delivery zone, and the zone's area and
  area-weighted population (latest year);
* `rejects.parquet`: every row that could not be placed, with a reason: customers outside every tract
  (`unmatched`), rows with a missing or invalid geometry (`quarantined`) and tracts whose population of a year
  is missing or negative (`incomplete`: the tract is kept, that year's population is NULL). For the customers,
  rows_in = placed in a tract + unmatched + quarantined (`GeoRun.balanced`).

Geometry travels as hex WKB text, not a binary column: the same value in DuckDB, in PostgreSQL and in both
tools' contracts, and readable by DuckDB spatial (`ST_GeomFromHEXWKB`) and PostGIS (`geometry` cast). Areas and
distances are computed here in the metric CRS; the marts only do arithmetic on them.

`load` hands the four files to the spine's loader with `load_date=None` (whole-table replace):
raw.geo_tracts, raw.geo_tract_years, raw.geo_store_catchment, raw.geo_rejects.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from python_jobs.config import Settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

# The geospatial stack (pandas, geopandas, rasterio, shapely, the generator) takes seconds to import: `run`
# imports it, `load` (the spine's loader only) does not, so the pipeline's load step starts faster.

# The pipeline's metro: 512 x 512 pixels of 30 m (15 km across), 144 tracts; generating it takes about a second.
# The generator's default size (python_jobs.geo.generate.DEFAULT_SIZE_PX), written out to keep `load` light.
PIPELINE_SIZE_PX = 512
GEOMETRY_CRS = "EPSG:4326"
TABLES = ("tracts", "tract_years", "store_catchment", "rejects")
_YEAR_FILE = re.compile(r"^imagery_(\d{4})\.tif$")


@dataclass(frozen=True)
class GeoRun:
    paths: dict[str, Path]  # table -> parquet file
    rows: dict[str, int]
    customers: dict[str, int]  # rows_in, in_tract, unmatched, quarantined
    generated: bool
    years: tuple[int, ...]

    def balanced(self) -> bool:
        c = self.customers
        return c["rows_in"] == c["in_tract"] + c["unmatched"] + c["quarantined"]


def output_dir(settings: Settings) -> Path:
    return settings.data_dir / "geo"


def landing_dir(settings: Settings) -> Path:
    return settings.landing_dir / "geo"


def write_atomically(frame: pd.DataFrame, folder: Path, name: str, schema: pa.Schema | None = None) -> Path:
    """Temp file, then rename: a crash leaves the previous output, never half a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    temp = folder / f".{name}.tmp-{os.getpid()}"
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), temp)
    os.replace(temp, target)
    return target


def ensure_landing(settings: Settings, size_px: int = PIPELINE_SIZE_PX) -> bool:
    """Generate the metro when its files are missing or were made with another seed or size; True if it did."""
    from python_jobs.geo.generate import DEFAULT_YEARS, generate_metro

    folder = landing_dir(settings)
    summary = settings.truth_dir / "geo" / "summary.json"
    needed = [folder / "tracts.gpkg", folder / "business.gpkg", summary]
    if all(p.exists() for p in needed) and list(folder.glob("imagery_*.tif")):
        made = json.loads(summary.read_text())
        if made.get("seed") == settings.seed and made.get("size_px") == size_px:
            return False
    generate_metro(settings, settings.seed, size_px, DEFAULT_YEARS)
    return True


def image_years(settings: Settings) -> dict[int, Path]:
    from python_jobs.geo.readers import GeoInputError

    found = {}
    for path in sorted(landing_dir(settings).glob("imagery_*.tif")):
        match = _YEAR_FILE.match(path.name)
        if match:
            found[int(match.group(1))] = path
    if not found:
        raise GeoInputError(f"{landing_dir(settings)}: no imagery_<year>.tif")
    return found


def _hex_wkb(geoms: np.ndarray) -> list[str]:
    import shapely

    return list(shapely.to_wkb(geoms, hex=True))


def _rejects(layer: str, key: str, frame: pd.DataFrame, kind: str, reason: str | None = None) -> pd.DataFrame:
    """Rows of `frame` as rejects; `reason` for all of them, or (None) the frame's own `reason` column."""
    import pandas as pd

    if frame.empty:
        return pd.DataFrame(columns=["layer", "feature_id", "kind", "reason"])
    reasons = frame["reason"].astype(str).to_numpy() if reason is None else reason
    return pd.DataFrame(
        {"layer": layer, "feature_id": frame[key].astype(str).to_numpy(), "kind": kind, "reason": reasons}
    )


def build_tables(settings: Settings, work: Path) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The four tables from the landing files; masks are written under `work`."""
    import numpy as np
    import pandas as pd
    import rasterio

    from python_jobs.geo.crs import to_metric
    from python_jobs.geo.raster import write_builtup_mask, zonal_builtup
    from python_jobs.geo.readers import GeoInputError, read_vector
    from python_jobs.geo.vector import area_weighted_population, nearest_store, points_in_polygons

    folder = landing_dir(settings)
    years = image_years(settings)
    with rasterio.open(next(iter(years.values()))) as src:
        metric_crs = src.crs

    tracts_in = read_vector(folder / "tracts.gpkg", "tracts", invalid="quarantine")
    customers_in = read_vector(folder / "business.gpkg", "customers", invalid="quarantine")
    stores_in = read_vector(folder / "business.gpkg", "stores", invalid="quarantine")
    zones_in = read_vector(folder / "business.gpkg", "delivery_zones", invalid="quarantine")
    tracts = tracts_in.good.to_crs(GEOMETRY_CRS)
    tracts_m = to_metric(tracts, metric_crs)
    pop_years = [y for y in sorted(years) if f"pop_{y}" in tracts.columns]
    if not pop_years:
        raise GeoInputError(f"{tracts_in.path}: no pop_<year> column for the image years {sorted(years)}")

    # Customers: placed in a tract, or unmatched (outside every tract), or quarantined (reader or join).
    placed = points_in_polygons(customers_in.good, tracts_m, polygon_cols=["tract_id"])
    quarantined = pd.concat([customers_in.quarantined, placed.quarantined], ignore_index=True)
    per_tract = placed.joined.drop_duplicates("customer_id").groupby("tract_id").size()
    counts = {
        "rows_in": customers_in.rows_in,
        "in_tract": placed.joined_points,
        "unmatched": len(placed.unmatched),
        "quarantined": len(quarantined),
    }

    centroids = tracts_m.geometry.centroid.to_crs(GEOMETRY_CRS)
    tract_table = pd.DataFrame(
        {
            "tract_id": tracts["tract_id"].astype(str).to_numpy(),
            "area_km2": tracts_m.geometry.area.to_numpy() / 1e6,
            "customers": per_tract.reindex(tracts["tract_id"]).fillna(0).astype("int64").to_numpy(),
            "centroid_lon": centroids.x.to_numpy(),
            "centroid_lat": centroids.y.to_numpy(),
            "geometry_wkb_hex": _hex_wkb(tracts.geometry.to_numpy()),
            "crs": GEOMETRY_CRS,
        }
    )

    # A census value that is missing or negative cannot be used: the tract stays (its land is still measured),
    # its population that year is NULL, and the reject says which value and why.
    bad_population = []
    for year in pop_years:
        values = pd.to_numeric(tracts[f"pop_{year}"], errors="coerce")
        for label, bad in (("missing", values.isna()), ("negative", values < 0)):
            if bad.any():
                bad_population.append(
                    _rejects(
                        "tracts", "tract_id", tracts[bad.to_numpy()], "incomplete", f"pop_{year} {label}"
                    )
                )
        tracts[f"pop_{year}"] = values.where(values >= 0).round().astype("Int64")

    parts = []
    for year in pop_years:
        mask = write_builtup_mask(years[year], work / f"builtup_{year}.tif")
        with rasterio.open(mask) as src:
            pixel_km2 = abs(src.transform.a * src.transform.e - src.transform.b * src.transform.d) / 1e6
        zonal = zonal_builtup(mask, tracts_m)
        parts.append(
            pd.DataFrame(
                {
                    "tract_id": zonal["tract_id"].astype(str).to_numpy(),
                    "year": np.int64(year),
                    "population": tracts[f"pop_{year}"].array,
                    "mapped_pixels": zonal["pixels"].to_numpy(np.int64),
                    "valid_pixels": zonal["valid_pixels"].to_numpy(np.int64),
                    "builtup_pixels": zonal["builtup_pixels"].to_numpy(np.int64),
                    "mapped_km2": zonal["pixels"].to_numpy(np.float64) * pixel_km2,
                    "valid_km2": zonal["valid_km2"].to_numpy(np.float64),
                    "builtup_km2": zonal["builtup_km2"].to_numpy(np.float64),
                }
            )
        )
    tract_years = pd.concat(parts, ignore_index=True)

    # Stores: nearest-store catchment of the placed customers, and the delivery zone's people and customers.
    stores = stores_in.good.to_crs(GEOMETRY_CRS)
    stores_m = stores.to_crs(metric_crs)
    zones_m = zones_in.good.to_crs(metric_crs)
    usable = customers_in.good.drop(
        index=placed.quarantined.index
    )  # placed in a tract or not: still customers
    nearest = nearest_store(usable.to_crs(metric_crs), stores_m)
    by_store = nearest.groupby("store_id")["distance_m"].agg(["size", "mean", "max"])
    latest = pop_years[-1]
    pieces = area_weighted_population(
        tracts_m, zones_m, tract_id="tract_id", zone_id="store_id", pop_col=f"pop_{latest}"
    )
    zone_pop = pieces.groupby("store_id")[f"pop_{latest}"].sum()
    in_zone = points_in_polygons(usable.to_crs(metric_crs), zones_m, polygon_cols=["store_id"])
    zone_customers = in_zone.joined.groupby("store_id").size()
    zone_area = pd.Series(zones_m.geometry.area.to_numpy() / 1e6, index=zones_m["store_id"].to_numpy())
    ids = stores["store_id"].to_numpy(np.int64)
    catchment = pd.DataFrame(
        {
            "store_id": ids,
            "store_name": stores["store_name"].astype(str).to_numpy(),
            "store_format": stores["store_format"].astype(str).to_numpy(),
            "city": stores["city"].astype(str).to_numpy(),
            "lon": stores.geometry.x.to_numpy(),
            "lat": stores.geometry.y.to_numpy(),
            "geometry_wkb_hex": _hex_wkb(stores.geometry.to_numpy()),
            "crs": GEOMETRY_CRS,
            "nearest_customers": by_store["size"].reindex(ids).fillna(0).astype("int64").to_numpy(),
            "nearest_mean_distance_m": by_store["mean"].reindex(ids).to_numpy(np.float64),
            "nearest_max_distance_m": by_store["max"].reindex(ids).to_numpy(np.float64),
            "zone_customers": zone_customers.reindex(ids).fillna(0).astype("int64").to_numpy(),
            "zone_area_km2": zone_area.reindex(ids).fillna(0.0).to_numpy(np.float64),
            "zone_population": zone_pop.reindex(ids).fillna(0.0).to_numpy(np.float64),
            "population_year": np.int64(latest),
        }
    )

    rejects = pd.concat(
        [
            _rejects("customers", "customer_id", placed.unmatched, "unmatched", "outside every tract"),
            _rejects("customers", "customer_id", quarantined, "quarantined"),
            _rejects("tracts", "tract_id", tracts_in.quarantined, "quarantined"),
            *bad_population,
            _rejects("stores", "store_id", stores_in.quarantined, "quarantined"),
            _rejects("delivery_zones", "store_id", zones_in.quarantined, "quarantined"),
        ],
        ignore_index=True,
    )
    tables = {
        "tracts": tract_table,
        "tract_years": tract_years,
        "store_catchment": catchment,
        "rejects": rejects.astype(str),
    }
    return tables, counts


def rejects_schema() -> pa.Schema:
    """Typed even when empty (a clean run has no rejects, and the raw table still needs its columns' types)."""
    import pyarrow as pa

    return pa.schema([(name, pa.string()) for name in ("layer", "feature_id", "kind", "reason")])


def run(settings: Settings, size_px: int = PIPELINE_SIZE_PX) -> GeoRun:
    """Generate the metro if needed, then write the four tables under `<data_dir>/geo/`."""
    generated = ensure_landing(settings, size_px)
    out = output_dir(settings)
    work = out / "masks"
    work.mkdir(parents=True, exist_ok=True)
    tables, counts = build_tables(settings, work)
    paths = {
        name: write_atomically(frame, out, f"{name}.parquet", rejects_schema() if name == "rejects" else None)
        for name, frame in tables.items()
    }
    result = GeoRun(
        paths,
        {name: len(frame) for name, frame in tables.items()},
        counts,
        generated,
        tuple(sorted(tables["tract_years"]["year"].unique().tolist())),
    )
    if not result.balanced():
        raise RuntimeError(f"customers do not add up: {counts}")
    return result


def load(settings: Settings) -> dict[str, int]:
    """The four outputs into raw.geo_<table>, each replacing the whole table (the map has no load day)."""
    from python_jobs.ingest.outputs import load_output

    loaded = {}
    for name in TABLES:
        path = output_dir(settings) / f"{name}.parquet"
        if not path.exists():
            raise FileNotFoundError(f"no geo output {path}: run `python -m python_jobs.geo run` first")
        loaded[f"geo_{name}"] = load_output(settings, f"geo_{name}", [path], load_date=None).rows_loaded
    return loaded
