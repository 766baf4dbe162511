"""The seeded metro (python_jobs.geo.generate) and the readers (python_jobs.geo.readers), at a small size."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.windows import Window

from python_jobs.config import load_settings
from python_jobs.geo.generate import GeoPaths, generate_metro
from python_jobs.geo.readers import GeoInputError, read_raster, read_vector
from tests.conftest import run_module

SIZE = 128
YEARS = (2000, 2010, 2020)


@pytest.fixture(scope="module")
def metro(tmp_path_factory: pytest.TempPathFactory) -> GeoPaths:
    data = tmp_path_factory.mktemp("geo") / "data"
    settings = load_settings({}).with_(data_dir=data, warehouse_path=data / "warehouse.duckdb")
    return generate_metro(settings, seed=42, size_px=SIZE, years=YEARS)


def _content(paths: GeoPaths) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in paths.all()}


def test_files_open_with_the_stated_formats_and_crs(metro: GeoPaths) -> None:
    for year, path in metro.imagery.items():
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 32633
            assert (src.count, src.width, src.height) == (3, SIZE, SIZE)
            assert src.res == (30.0, 30.0)
            assert src.descriptions == ("red", "nir", "swir1")
            assert src.nodata == -9999.0 and src.dtypes[0] == "float32"
            assert src.profile["tiled"] and src.block_shapes[0] == (
                SIZE // 2,
                SIZE // 2,
            )  # 256 from 512 px up
            assert src.compression.name == "deflate"
            assert src.overviews(1), "overviews were built"
            assert src.tags()["ACQUISITION_YEAR"] == str(year)
            data = src.read(masked=True)
            assert data.min() >= 0.0 and data.max() <= 1.0
            assert data.mask.any(), "the scene edge is nodata"
    for path in metro.builtup_truth.values():
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 32633 and src.dtypes[0] == "uint8"
    layers = {name for name, _ in pyogrio.list_layers(metro.business)}
    assert layers == {"stores", "customers", "delivery_zones", "roads"}
    for path, layer in [(metro.tracts, "tracts"), *((metro.business, name) for name in layers)]:
        frame = pyogrio.read_dataframe(path, layer=layer)
        assert frame.crs.to_epsg() == 4326 and len(frame) > 0, layer
        assert frame.geometry.is_valid.all(), layer
    stores = pyogrio.read_dataframe(metro.business, layer="stores")
    assert stores["store_id"].tolist() == list(range(1, 13))
    roads = pyogrio.read_dataframe(metro.business, layer="roads")
    assert set(roads["road_class"]) <= {"motorway", "arterial", "local"} and (roads["speed_kmh"] > 0).all()
    zones = pyogrio.read_dataframe(metro.business, layer="delivery_zones")
    assert sorted(zones["store_id"]) == list(range(1, 13))


def test_same_seed_same_bytes_other_seed_other_metro(metro: GeoPaths, tmp_path: Path) -> None:
    again = generate_metro(metro.summary.parent.parent.parent, seed=42, size_px=SIZE, years=YEARS)
    assert again == metro  # same folder: the files were replaced...
    first = _content(metro)
    other = generate_metro(tmp_path / "same", seed=42, size_px=SIZE, years=YEARS)
    assert _content(other) == first  # ...and a fresh folder gets the same bytes (GeoPackage dates pinned)
    different = _content(generate_metro(tmp_path / "other", seed=7, size_px=SIZE, years=YEARS))
    assert all(different[name] != first[name] for name in first)
    assert not list(metro.imagery[2000].parent.glob(".tmp-*")), "no temp files left behind"


def test_built_up_grows_year_over_year_and_outward(metro: GeoPaths) -> None:
    masks = {y: read_raster(p).data[0].astype(bool) for y, p in metro.builtup_truth.items()}
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    dist = np.hypot(rows - SIZE / 2, cols - SIZE / 2)
    previous = None
    for year in YEARS:
        mask = masks[year]
        if previous is not None:
            assert (mask | previous).sum() == mask.sum(), "nothing built is unbuilt"
            assert mask.sum() > previous.sum() * 1.2
            assert dist[mask].max() >= dist[previous].max()
            assert dist[mask & ~previous].mean() > dist[previous].mean(), "new building lies further out"
        previous = mask
    # The imagery tells built from green: NDBI higher and NDVI lower on built pixels (clouds and edge aside).
    img = read_raster(metro.imagery[2020]).masked()
    red, nir, swir = img[0], img[1], img[2]
    ndvi, ndbi = (nir - red) / (nir + red), (swir - nir) / (swir + nir)
    clear = ~np.ma.getmaskarray(ndvi) & (red < 0.4)
    assert ndbi[clear & masks[2020]].mean() > 0.1 > ndbi[clear & ~masks[2020]].mean()
    assert ndvi[clear & masks[2020]].mean() < ndvi[clear & ~masks[2020]].mean()


def test_tract_population_grows_and_boundaries_ignore_the_grid(metro: GeoPaths) -> None:
    tracts = read_vector(metro.tracts).good
    assert tracts["tract_id"].is_unique
    assert (tracts["pop_2010"] >= tracts["pop_2000"]).all() and (
        tracts["pop_2020"] >= tracts["pop_2010"]
    ).all()
    assert tracts["pop_2020"].sum() > tracts["pop_2010"].sum() > tracts["pop_2000"].sum() > 0
    # Tracts tile the map without gaps or overlaps, and their vertices are not on pixel corners.
    utm = tracts.to_crs(32633)
    with rasterio.open(metro.imagery[2000]) as src:
        map_area = src.width * src.height * 900.0
        corners = shapely.get_coordinates(utm.geometry.values)
        inner = (corners[:, 0] - src.bounds.left) % 30.0
    assert utm.area.sum() == pytest.approx(map_area, rel=1e-6)
    assert np.mean((inner > 1e-3) & (inner < 30 - 1e-3)) > 0.5


def test_windowed_read_equals_the_slice_of_a_full_read(metro: GeoPaths) -> None:
    window = Window(col_off=40, row_off=24, width=50, height=70)
    full = read_raster(metro.imagery[2010])
    part = read_raster(metro.imagery[2010], window=window)
    assert np.array_equal(part.data, full.data[:, 24:94, 40:90])
    assert part.transform == full.transform @ rasterio.Affine.translation(40, 24)


def test_raster_in_another_crs_is_reprojected_and_says_so(metro: GeoPaths) -> None:
    same = read_raster(metro.builtup_truth[2020], target_crs="EPSG:32633")
    assert not same.reprojected
    moved = read_raster(metro.builtup_truth[2020], target_crs="EPSG:4326")
    assert moved.reprojected and moved.crs.to_epsg() == 4326 and moved.source_crs.to_epsg() == 32633
    assert set(np.unique(moved.data[0]).tolist()) == {0, 1}  # nearest resampling keeps the classes
    lon, lat = moved.transform @ (moved.data.shape[2] / 2, moved.data.shape[1] / 2)
    assert 14.9 < lon < 15.1 and 52.4 < lat < 52.6  # the metro's made-up place


def test_readers_reject_a_raster_without_crs_and_empty_files(tmp_path: Path) -> None:
    no_crs = tmp_path / "no_crs.tif"
    with rasterio.open(no_crs, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8") as dst:
        dst.write(np.zeros((1, 8, 8), dtype=np.uint8))
    with pytest.raises(GeoInputError, match=r"no_crs\.tif.*no coordinate reference system"):
        read_raster(no_crs)
    empty = tmp_path / "zero.tif"
    empty.write_bytes(b"")
    with pytest.raises(GeoInputError, match=r"zero\.tif: empty file"):
        read_raster(empty)
    gpkg = tmp_path / "empty.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"a": []}, geometry=[], crs=4326), gpkg, layer="nothing")
    with pytest.raises(GeoInputError, match=r"empty\.gpkg layer 'nothing': empty layer"):
        read_vector(gpkg)
    with pytest.raises(GeoInputError, match="no such file"):
        read_vector(tmp_path / "absent.gpkg")


def test_invalid_geometry_is_quarantined_or_repaired(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    frame = gpd.GeoDataFrame(
        {"id": [1, 2, 3]}, geometry=[shapely.box(0, 0, 1, 1), bowtie, shapely.box(2, 2, 3, 3)], crs=4326
    )
    path = tmp_path / "shapes.gpkg"
    pyogrio.write_dataframe(frame, path, layer="shapes")
    result = read_vector(path)
    assert result.counts == {"rows_in": 3, "good": 2, "quarantined": 1, "repaired": 0}
    assert result.quarantined["id"].tolist() == [2]
    assert result.quarantined["reason"].iloc[0].startswith("invalid geometry: Self-intersection")
    repaired = read_vector(path, invalid="repair")
    assert repaired.counts == {"rows_in": 3, "good": 3, "quarantined": 0, "repaired": 1}
    assert repaired.good.geometry.is_valid.all()
    no_crs = tmp_path / "no_crs.gpkg"
    pyogrio.write_dataframe(frame.iloc[:1].set_crs(None, allow_override=True), no_crs)
    with pytest.raises(GeoInputError, match=r"no_crs\.gpkg.*no coordinate reference system"):
        read_vector(no_crs)


def test_reads_natural_earth_shipped_with_pyogrio() -> None:
    spec = importlib.util.find_spec("pyogrio")
    assert spec is not None and spec.origin is not None
    shp = Path(spec.origin).parent / "tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp"
    if not shp.exists():
        pytest.skip(f"{shp} is not installed")
    result = read_vector(shp)
    assert result.good.crs.to_epsg() == 4326
    assert result.rows_in == len(result.good) + len(result.quarantined) > 100
    assert {"name", "pop_est"} <= set(result.good.columns)


def test_cli_help_and_generate(tmp_path: Path) -> None:
    assert "generate" in run_module("python_jobs.geo", "--help").stdout
    assert "--size" in run_module("python_jobs.geo", "generate", "--help").stdout
    out = run_module(
        "python_jobs.geo",
        "generate",
        "--seed",
        "3",
        "--size",
        "64",
        "--year",
        "2020",
        "--data-dir",
        str(tmp_path),
    )
    assert (tmp_path / "landing/geo/imagery_2020.tif").exists()
    assert str(tmp_path / "truth/geo/builtup_2020.tif") in out.stdout
