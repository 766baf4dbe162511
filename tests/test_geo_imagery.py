"""Reading imagery as products ship it (geo/imagery.py), on files the tests write in Landsat C2 L2 and
Sentinel-2 L2A layouts: per-band files with metadata scale/offset read like the stacked reflectance, QA cloud
bits, bands on another grid or CRS brought onto the reference grid, and clear errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from python_jobs.geo.imagery import (
    GridReader,
    _parse_landsat_mtl,
    discover_scene,
    discover_scenes,
    landsat_scale_offset,
)
from python_jobs.geo.readers import GeoInputError
from tests.geo_imagery_support import ADD, MULT, write_band, write_landsat_scene, write_sentinel2_scene

UTM = "EPSG:32633"
T30 = Affine(30.0, 0, 500_000.0, 0, -30.0, 5_800_000.0)
WHOLE = Window(0, 0, 40, 40)


def _scene(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.02, 0.5, (3, 40, 40)).astype(np.float32)


def _stacked(path: Path, refl: np.ndarray) -> Path:
    profile = {
        "driver": "GTiff", "height": 40, "width": 40, "count": 3, "dtype": "float32", "crs": UTM,
        "transform": T30, "nodata": -9999.0, "tiled": True, "blockxsize": 16, "blockysize": 16,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(refl)
        dst.update_tags(ACQUISITION_YEAR="2020")
    return path


def test_landsat_per_band_files_equal_the_stacked_reflectance(tmp_path: Path) -> None:
    refl = _scene()
    folder = write_landsat_scene(tmp_path / "ls", refl, UTM, T30, date(2020, 7, 15))
    scene = discover_scene(folder)
    assert scene.year == 2020 and scene.acquired == date(2020, 7, 15)
    assert {r: (b.scale, b.offset) for r, b in scene.bands.items()} == {
        r: (MULT, ADD) for r in ("red", "nir", "swir1")
    }  # from the MTL, not assumed
    assert scene.bands["swir1"].path.name.endswith("_SR_B6.TIF")
    stacked = discover_scene(_stacked(tmp_path / "stack.tif", refl))
    with GridReader(scene) as per_band, GridReader(stacked) as stack:
        a, _ = per_band.read(WHOLE)
        b, _ = stack.read(WHOLE)
        assert per_band.resampled == []
    np.testing.assert_allclose(np.ma.getdata(a), np.ma.getdata(b), atol=MULT)  # DN rounding only


def test_mtl_json_gives_the_same_scale(tmp_path: Path) -> None:
    import json

    path = tmp_path / "X_MTL.json"
    path.write_text(
        json.dumps(
            {
                "LANDSAT_METADATA_FILE": {
                    "IMAGE_ATTRIBUTES": {"DATE_ACQUIRED": "2019-06-01"},
                    "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS": {
                        "REFLECTANCE_MULT_BAND_5": "2.75E-05",
                        "REFLECTANCE_ADD_BAND_5": "-0.200000",
                    },
                }
            }
        )
    )
    meta = _parse_landsat_mtl(path)
    assert meta["DATE_ACQUIRED"] == "2019-06-01"
    assert landsat_scale_offset(meta, "SR_B5", path) == (2.75e-05, -0.2)
    with pytest.raises(GeoInputError, match="REFLECTANCE_MULT_BAND_6"):
        landsat_scale_offset(meta, "SR_B6", path)


def test_qa_pixel_cloud_bits_are_masked(tmp_path: Path) -> None:
    qa = np.full((40, 40), 21824, dtype=np.uint16)  # clear land, as Landsat 8 writes it
    qa[:5, :5] |= 1 << 3  # cloud
    qa[10, 10] |= 1 << 4  # cloud shadow
    qa[20, 20] |= 1 << 1  # dilated cloud
    qa[30, 30] = (1 << 6) | (1 << 7)  # clear + water: not a cloud
    folder = write_landsat_scene(tmp_path / "ls", _scene(), UTM, T30, date(2021, 5, 2), qa=qa)
    with GridReader(discover_scene(folder)) as reader:
        _, cloud = reader.read(WHOLE)
    assert cloud[:5, :5].all() and cloud[10, 10] and cloud[20, 20]
    assert not cloud[30, 30] and int(cloud.sum()) == 27


def test_fill_dn_is_nodata(tmp_path: Path) -> None:
    invalid = np.zeros((40, 40), dtype=bool)
    invalid[:, :3] = True
    folder = write_landsat_scene(tmp_path / "ls", _scene(), UTM, T30, date(2021, 5, 2), invalid=invalid)
    with GridReader(discover_scene(folder)) as reader:
        stack, _ = reader.read(WHOLE)
    assert stack.mask[:, :, :3].all() and not stack.mask[:, :, 3:].any()


def test_missing_band_no_metadata_no_crs_are_clear_errors(tmp_path: Path) -> None:
    folder = write_landsat_scene(
        tmp_path / "a", _scene(), UTM, T30, date(2020, 1, 1), bands=("SR_B4", "SR_B5")
    )
    with pytest.raises(GeoInputError, match=r"missing band file\(s\) for swir1 \(SR_B6\)"):
        discover_scene(folder)
    folder = write_landsat_scene(tmp_path / "b", _scene(), UTM, T30, date(2020, 1, 1), mtl=False)
    with pytest.raises(GeoInputError, match="refusing to guess"):
        discover_scene(folder)
    assert discover_scene(folder, scale=MULT, offset=ADD).bands["red"].scale == MULT  # configuration
    folder = write_landsat_scene(tmp_path / "c", _scene(), None, T30, date(2020, 1, 1))
    with pytest.raises(GeoInputError, match="no coordinate reference system"):
        GridReader(discover_scene(folder))
    with pytest.raises(GeoInputError, match="no such file"):
        discover_scenes(tmp_path / "nowhere")
    dn_stack = tmp_path / "dn.tif"
    with rasterio.open(
        dn_stack, "w", driver="GTiff", height=8, width=8, count=3, dtype="uint16", crs=UTM, transform=T30
    ) as dst:
        dst.write(np.ones((3, 8, 8), dtype=np.uint16))
    with pytest.raises(GeoInputError, match="integer bands and no scale/offset"):
        discover_scene(dn_stack)  # a raw-DN stack is never taken for reflectance
    assert discover_scene(dn_stack, scale=1e-4, offset=-0.1).bands["nir"].offset == -0.1


def test_band_in_another_crs_is_reprojected_and_said(tmp_path: Path) -> None:
    refl = np.full((3, 40, 40), 0.2, dtype=np.float32)
    refl[2] = 0.3
    folder = write_landsat_scene(tmp_path / "ls", refl, UTM, T30, date(2020, 7, 15))
    swir = next(folder.glob("*_SR_B6.TIF"))
    # The same SWIR1 values written in UTM 32N (a neighbouring zone), on a larger grid covering the scene.
    t32 = Affine(30.0, 0, 906_000.0, 0, -30.0, 5_819_000.0)  # covers the scene there
    write_band(swir, np.full((200, 200), round((0.3 - ADD) / MULT)), "EPSG:32632", t32, 0)
    with GridReader(discover_scene(folder)) as reader:
        stack, _ = reader.read(WHOLE)
        assert len(reader.resampled) == 1 and "EPSG:32632 -> EPSG:32633" in reader.resampled[0]
    np.testing.assert_allclose(np.ma.getdata(stack[2]), 0.3, atol=1e-3)


def test_sentinel2_b11_at_20m_read_on_the_10m_grid(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    refl10 = rng.uniform(0.05, 0.4, (2, 40, 40))
    swir20 = np.repeat(np.repeat(rng.uniform(0.1, 0.4, (20, 20)), 1, 0), 1, 1)
    fill = np.zeros((40, 40), dtype=bool)
    fill[-4:, :] = True  # the swath's edge: DN 0, and the file declares no nodata (as Sentinel-2 JP2s)
    folder = write_sentinel2_scene(
        tmp_path, refl10, swir20, UTM, 500_000.0, 5_800_000.0, date(2022, 8, 3), fill
    )
    (scene,) = discover_scenes(folder)  # the .SAFE folder itself, bands deep under GRANULE/
    assert scene.bands["red"].path.parent.name == "R10m"
    assert scene.year == 2022 and scene.bands["red"].scale == pytest.approx(1e-4)
    assert scene.bands["red"].offset == pytest.approx(-0.1)  # BOA_ADD_OFFSET -1000 / 10000
    with GridReader(scene) as reader:
        stack, _ = reader.read(WHOLE)
        assert reader.grid.width == 40 and any("swir1" in r for r in reader.resampled)
    np.testing.assert_allclose(np.ma.getdata(stack[0])[:-4], refl10[0][:-4], atol=1e-4)
    assert stack.mask[:, -4:, :].all() and not stack.mask[:, :-4, :].any()
    # Bilinear onto the 10 m grid: interior 10 m pixels lie between their 20 m neighbours' values.
    inner = np.ma.getdata(stack[2])[2:-2, 2:-2]
    assert swir20.min() - 1e-3 <= inner.min() and inner.max() <= swir20.max() + 1e-3


def test_several_dates_sorted_by_year_from_metadata(tmp_path: Path) -> None:
    for d in (date(2021, 6, 1), date(2015, 6, 1)):
        write_landsat_scene(tmp_path / "scenes", _scene(), UTM, T30, d)
    scenes = discover_scenes(tmp_path / "scenes")
    assert [s.year for s in scenes] == [2015, 2021]


def test_a_later_date_on_a_shifted_grid_is_read_on_the_first_dates_grid(tmp_path: Path) -> None:
    refl = np.zeros((3, 40, 40), dtype=np.float32) + 0.1
    refl[:, :, 20:] = 0.3  # a vertical edge at x = 500 600 m
    first = write_landsat_scene(tmp_path / "s", refl, UTM, T30, date(2015, 6, 1))
    shifted = np.zeros((3, 40, 40), dtype=np.float32) + 0.1
    shifted[:, :, 19:] = 0.3  # the same edge, on a grid starting one pixel (30 m) further east
    second = write_landsat_scene(
        tmp_path / "s", shifted, UTM, Affine(30.0, 0, 500_030.0, 0, -30.0, 5_800_000.0), date(2021, 6, 1)
    )
    ref = GridReader(discover_scene(first))
    with ref, GridReader(discover_scene(second), ref.grid) as later:
        a, _ = ref.read(WHOLE)
        b, _ = later.read(WHOLE)
        assert len(later.resampled) == 3  # every band of the later date, and said so
    np.testing.assert_allclose(np.ma.getdata(b)[:, :, 1:39], np.ma.getdata(a)[:, :, 1:39], atol=1e-3)
    assert b.mask[:, :, 0].all()  # west of the later scene (it starts 30 m east): nodata, never a made-up 0


def test_a_scene_in_degrees_is_read_on_a_utm_grid(tmp_path: Path) -> None:
    from python_jobs.geo.imagery import grid_of, metric_grid

    refl = np.full((3, 40, 40), 0.25, dtype=np.float32)
    path = _stacked(tmp_path / "geo.tif", refl)
    with rasterio.open(path, "r+") as dst:  # the same pixels, georeferenced in degrees near 15 E, 52.3 N
        dst.crs = "EPSG:4326"
        dst.transform = Affine(0.0005, 0, 15.0, 0, -0.0005, 52.3)
    scene = discover_scene(path)
    grid, note = metric_grid(grid_of(scene.bands["red"]))
    assert grid.crs.to_epsg() == 32633 and "not in metres" in (note or "")
    assert 30 < grid.pixel_m2**0.5 < 60  # 0.0005 degrees: ~34 m east-west, ~56 m north-south
    with GridReader(scene, grid) as reader:
        stack, _ = reader.read(Window(5, 5, 10, 10))
        assert reader.resampled
    np.testing.assert_allclose(np.ma.getdata(stack), 0.25, atol=1e-5)
