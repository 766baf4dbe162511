"""Module 5 raster patterns on tiny hand-built GeoTIFFs (no dependency on the lab's generator)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage
from shapely.geometry import box

from python_jobs.geo.crs import MissingCRSError, area_in_degrees_error, naive_overstatement, to_metric
from python_jobs.geo.raster import (
    MASK_NODATA,
    BandMap,
    builtup_rule,
    indices,
    iou,
    reproject_raster,
    vectorize_builtup,
    write_builtup_mask,
    write_indices,
    zonal_builtup,
)

UTM = "EPSG:32630"  # Madrid's zone: the tests' "metro"
X0, Y0, PIXEL = 440_000.0, 4_475_000.0, 30.0
TRANSFORM = from_origin(X0, Y0, PIXEL, PIXEL)


def write_raster(path: Path, bands: list[np.ndarray], nodata: float | None, dtype: str = "uint16") -> Path:
    """A tiled (16x16 blocks) GeoTIFF stack in UTM with 30 m pixels."""
    height, width = bands[0].shape
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": len(bands),
        "dtype": dtype,
        "crs": UTM,
        "transform": TRANSFORM,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 16,
        "blockysize": 16,
    }
    with rasterio.open(path, "w", **profile) as dst:
        for i, band in enumerate(bands, start=1):
            dst.write(band.astype(dtype), i)
    return path


def test_bandmap_is_configuration_not_assumption(tmp_path: Path) -> None:
    """The same scene as a reflectance stack (red,nir,swir1) and as a raw-DN stack in another band order."""
    rng = np.random.default_rng(1)
    red, nir, swir = (rng.uniform(0.02, 0.5, (20, 20)).astype(np.float32) for _ in range(3))
    refl = write_raster(tmp_path / "refl.tif", [red, nir, swir], None, "float32")
    # Sentinel-2 L2A style: DN = (reflectance + 0.1) / 1e-4, bands stored as (swir1, red, nir).
    to_dn = [np.round((b + 0.1) / 1e-4) for b in (swir, red, nir)]
    raw = write_raster(tmp_path / "raw.tif", to_dn, 0)
    with rasterio.open(refl) as a, rasterio.open(raw) as b:
        ndvi_a, ndbi_a = indices(a, BandMap())
        ndvi_b, ndbi_b = indices(b, BandMap(red=2, nir=3, swir1=1, scale=1e-4, offset=-0.1))
    np.testing.assert_allclose(ndvi_b, ndvi_a, atol=1e-3)  # DN rounding only
    np.testing.assert_allclose(ndbi_b, ndbi_a, atol=1e-3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        BandMap().red = 4  # type: ignore[misc]


def test_windowed_indices_equal_whole_array(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    shape = (70, 50)  # 5x4 blocks of 16, the last ones partial
    red, nir, swir = (rng.integers(1, 5000, shape) for _ in range(3))
    red[3, 3] = nir[3, 3] = 0  # NIR + red = 0: NDVI undefined, masked
    red[10, 10] = nir[10, 10] = 7  # NIR - red = 0: NDVI exactly 0, defined
    swir[20, 20] = 9999  # nodata in SWIR1 masks NDBI only: NDVI never reads that band
    src_path = write_raster(tmp_path / "scene.tif", [red, nir, swir], 9999)
    out = write_indices(src_path, tmp_path / "idx.tif")
    with rasterio.open(src_path) as src:
        assert len(list(src.block_windows(1))) == 20  # really windowed
        ndvi, ndbi = indices(src, BandMap())  # whole-array reference
    with rasterio.open(out) as dst:
        assert np.isnan(dst.nodata) and dst.dtypes == ("float32", "float32")
        w_ndvi, w_ndbi = dst.read(1), dst.read(2)
    np.testing.assert_array_equal(np.isnan(w_ndvi), ndvi.mask)
    np.testing.assert_array_equal(w_ndvi[~ndvi.mask], ndvi.compressed())
    np.testing.assert_array_equal(w_ndbi[~ndbi.mask], ndbi.compressed())
    assert np.isnan(w_ndbi[20, 20]) and not np.isnan(w_ndvi[20, 20])  # nodata respected, per index
    assert np.isnan(w_ndvi[3, 3]) and w_ndvi[10, 10] == 0.0


def test_zero_denominator_is_masked() -> None:
    from python_jobs.geo.raster import normalized_difference

    a = np.ma.MaskedArray([0.0, 0.3, 0.2], mask=[False, False, True])
    b = np.ma.MaskedArray([0.0, 0.1, 0.1], mask=[False, False, False])
    nd = normalized_difference(a, b)
    assert nd.mask.tolist() == [True, False, True]
    assert nd[1] == pytest.approx(0.5)


def _classes_scene(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """Left half built-up (SWIR1 > NIR > red), right half vegetation; one nodata pixel, one cloud."""
    shape = (40, 40)
    red, nir, swir = np.full(shape, 0.10), np.full(shape, 0.40), np.full(shape, 0.20)  # vegetation
    red[:, :20], nir[:, :20], swir[:, :20] = 0.20, 0.25, 0.35  # built-up: NDBI 0.17, NDVI 0.11
    cloud = np.zeros(shape)
    cloud[30:33, 5:8] = 1
    bands = [np.round(b * 10_000) for b in (red, nir, swir)]
    bands[1][0, 39] = 65535  # nodata
    path = write_raster(tmp_path / "y2020.tif", [*bands, cloud], 65535)
    truth = np.zeros(shape, np.uint8)
    truth[:, :20] = 1
    truth[0, 39] = MASK_NODATA
    truth[30:33, 5:8] = MASK_NODATA
    return path, truth


def test_builtup_mask_same_profile_nodata_and_iou(tmp_path: Path) -> None:
    src_path, truth = _classes_scene(tmp_path)
    bands = BandMap(scale=1e-4, cloud=4)
    out = write_builtup_mask(src_path, tmp_path / "mask.tif", bands)
    with rasterio.open(src_path) as src, rasterio.open(out) as dst:
        assert (dst.crs, dst.transform, dst.shape) == (src.crs, src.transform, src.shape)
        assert dst.dtypes == ("uint8",) and dst.nodata == MASK_NODATA
        mask = dst.read(1)
    np.testing.assert_array_equal(mask, truth)  # incl. nodata and cloud -> 255
    assert iou(mask, truth) == 1.0
    # Thresholds are parameters: a stricter NDBI cut (> 0.2) loses the whole built-up half.
    strict = write_builtup_mask(src_path, tmp_path / "strict.tif", bands, ndbi_min=0.2)
    with rasterio.open(strict) as dst:
        assert iou(dst.read(1), truth) == 0.0


def test_iou_ignores_nodata() -> None:
    mask = np.array([1, 1, 0, 0, MASK_NODATA, 1], np.uint8)
    truth = np.array([1, 0, 1, 0, 1, MASK_NODATA], np.uint8)
    # Valid in both: first four. Intersection {0}, union {0,1,2}.
    assert iou(mask, truth) == pytest.approx(1 / 3)
    ndvi = np.ma.MaskedArray([0.1, 0.5, 0.1], mask=[False, False, True])
    ndbi = np.ma.MaskedArray([0.2, 0.2, 0.2], mask=[False, False, False])
    assert builtup_rule(ndvi, ndbi).tolist() == [1, 0, MASK_NODATA]


def _write_mask(path: Path, mask: np.ndarray) -> Path:
    return write_raster(path, [mask], MASK_NODATA, "uint8")


def test_zonal_builtup_known_answer(tmp_path: Path) -> None:
    mask = np.zeros((10, 10), np.uint8)
    mask[:, 3:7] = 1  # columns 3-6 built-up: 20 pixels left of column 5, 20 right
    mask[0, 0] = MASK_NODATA
    path = _write_mask(tmp_path / "mask.tif", mask)
    # Tract A: columns 0 to 4.6 (column 4 is split 60/40; its centre 4.5 is in A, so it is A's).
    # Tract B: from 4.6 to column 12, past the raster's edge (clipped). Tract C: outside the raster.
    xs = [X0 + c * PIXEL for c in (0, 4.6, 12, 20, 25)]
    y_bottom = Y0 - 10 * PIXEL
    utm = gpd.GeoDataFrame(
        {"tract_id": ["A", "B", "C"]},
        geometry=[
            box(xs[0], y_bottom, xs[1], Y0),
            box(xs[1], y_bottom, xs[2], Y0),
            box(xs[3], y_bottom, xs[4], Y0),
        ],
        crs=UTM,
    )
    tracts = utm.to_crs(4326)  # census tracts arrive in lon/lat
    got = zonal_builtup(path, tracts).set_index("tract_id")
    assert got.loc["A", "pixels"] == 50 and got.loc["B", "pixels"] == 50  # every pixel counted once
    assert got.loc["A", "valid_pixels"] == 49 and got.loc["B", "valid_pixels"] == 50
    assert got.loc["A", "builtup_pixels"] == 20 and got.loc["B", "builtup_pixels"] == 20
    assert got.loc["A", "builtup_km2"] == pytest.approx(20 * 900 / 1e6)
    assert got.loc["A", "builtup_share"] == pytest.approx(20 / 49)
    assert got.loc["B", "builtup_share"] == pytest.approx(20 / 50)
    assert got.loc["C", "pixels"] == 0 and np.isnan(got.loc["C", "builtup_share"])
    # The tracts' CRS doesn't matter: given in UTM directly, the same answer.
    assert zonal_builtup(path, utm).set_index("tract_id").equals(got)


def test_vectorized_area_equals_pixel_count(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    mask = (ndimage.uniform_filter(rng.random((60, 60)), 5) > 0.52).astype(np.uint8)
    mask[rng.random(mask.shape) < 0.02] = MASK_NODATA
    path = _write_mask(tmp_path / "mask.tif", mask)
    polys = vectorize_builtup(path)
    assert polys.crs == UTM
    n_built = int(np.count_nonzero(mask == 1))
    assert n_built > 100
    assert polys["area_km2"].sum() == pytest.approx(n_built * PIXEL**2 / 1e6, rel=1e-12)
    _, n_patches = ndimage.label(mask == 1)  # 4-connectivity, like shapes(connectivity=4)
    assert len(polys) == n_patches


def test_to_metric_rejects_layer_without_crs() -> None:
    bare = gpd.GeoDataFrame(geometry=[box(-3.71, 40.41, -3.70, 40.42)])
    with pytest.raises(MissingCRSError, match="no CRS"):
        to_metric(bare)
    metric = to_metric(bare.set_crs(4326))
    assert metric.crs.to_epsg() == 32630  # the metro's UTM zone, estimated
    assert to_metric(bare.set_crs(4326), UTM).crs == metric.crs


@pytest.mark.parametrize("lat", [40.4, 60.0])
def test_area_in_degrees_is_wildly_wrong(lat: float) -> None:
    got = area_in_degrees_error(lon=-3.7, lat=lat)
    assert got.true_km2 == 1.0
    assert got.square_degrees < 1e-3  # "0.0001": off by four orders of magnitude as a km² figure
    # Even converting degrees to km with 111.32 km/degree overstates by 1/cos(lat): 31 % at 40°, 100 % at 60°.
    assert got.naive_km2 == pytest.approx(naive_overstatement(lat), rel=0.01)
    assert abs(got.naive_km2 - 1) > 0.3
    assert got.projected_km2 == pytest.approx(1.0, rel=1e-3)


def test_reproject_raster_nearest_for_masks_bilinear_for_reflectance(tmp_path: Path) -> None:
    mask = np.zeros((50, 50), np.uint8)
    mask[10:30, 15:40] = 1
    mask[45:, 45:] = MASK_NODATA
    mask_path = _write_mask(tmp_path / "mask.tif", mask)
    out = reproject_raster(mask_path, "EPSG:32631", tmp_path / "mask_31.tif", kind="mask")
    with rasterio.open(out) as dst:
        assert dst.crs.to_epsg() == 32631 and dst.nodata == MASK_NODATA
        warped = dst.read(1)
        pixel_m2 = abs(dst.transform.a * dst.transform.e)
    assert set(np.unique(warped)) <= {0, 1, MASK_NODATA}  # nearest invents no class
    # Why nearest: classes 0 and 2 side by side. Bilinear invents class 1 on their border; nearest can't.
    classes = np.where(np.arange(50) % 10 < 5, 0, 2).astype(np.uint8)[None, :].repeat(50, axis=0)
    classes_path = _write_mask(tmp_path / "classes.tif", classes)
    for kind, invented in (("mask", False), ("continuous", True)):
        out = reproject_raster(classes_path, "EPSG:32631", tmp_path / f"classes_{kind}.tif", kind=kind)
        with rasterio.open(out) as dst:
            assert (1 in dst.read(1)) is invented
    # The built-up area survives the warp to within a few % (edge pixels snap either way).
    assert np.count_nonzero(warped == 1) * pixel_m2 == pytest.approx(500 * 900, rel=0.05)

    ramp = np.tile(np.linspace(0.05, 0.45, 50, dtype=np.float32), (50, 1))
    refl_path = write_raster(tmp_path / "refl.tif", [ramp], np.nan, "float32")
    out = reproject_raster(refl_path, "EPSG:32631", tmp_path / "refl_31.tif")
    with rasterio.open(out) as dst:
        values = dst.read(1, masked=True).compressed()
    assert values.min() >= ramp.min() - 1e-6 and values.max() <= ramp.max() + 1e-6
    assert len(np.setdiff1d(values, ramp)) > 0  # bilinear interpolates between source values
    # An integer raster without nodata is refused: the warp's uncovered corners would read as valid 0.
    bare = write_raster(tmp_path / "bare.tif", [mask], None, "uint8")
    with pytest.raises(ValueError, match="no nodata"):
        reproject_raster(bare, "EPSG:32631", tmp_path / "bare_31.tif", kind="mask")
