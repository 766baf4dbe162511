"""Urban sprawl from multiband imagery: indices, a built-up mask, zonal statistics, polygons, reprojection.

Conventions used by every function:

* Band roles come from a `BandMap`, never from positions hard-coded here, so a raw-DN Landsat or
  Sentinel-2 stack is read by passing another BandMap (a product shipped as one GeoTIFF per band is read
  on one grid by `geo.imagery.GridReader`, with its scale and offset from the product's metadata).
* In memory, invalid pixels are **masked** (`numpy.ma.MaskedArray`); on disk, index rasters are float32
  with **NaN** as nodata and masks are uint8 with `MASK_NODATA` (255) as nodata.
* Large files are processed block by block over `src.block_windows()`: memory is one block, not one scene.
* Zonal work happens in the raster's CRS: polygons are reprojected to it, never the raster to them
  (resampling a raster changes pixel values and their count; reprojecting a polygon only moves vertices).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.crs import CRS
from rasterio.features import geometry_mask, shapes
from rasterio.io import DatasetReader
from rasterio.warp import Resampling, calculate_default_transform, reproject
from rasterio.windows import Window
from shapely.geometry import shape

from python_jobs.geo.crs import to_metric

MASK_NODATA = 255  # uint8 built-up mask: 1 built-up, 0 not, 255 nodata (input nodata or cloud)

# Default built-up rule (NDBI > 0 and NDVI < 0.2): NDBI > 0 is the classic built-up/bare split of
# Zha et al. (2003) (SWIR1 brighter than NIR); NDVI < 0.2 removes the vegetated pixels that also pass it
# (dense vegetation sits above ~0.3, sparse grass 0.2-0.3). Tune per sensor/season against a truth mask.
DEFAULT_NDBI_MIN = 0.0
DEFAULT_NDVI_MAX = 0.2


@dataclass(frozen=True)
class BandMap:
    """Which 1-based band of the stack holds which role, and how DN become reflectance.

    reflectance = DN * scale + offset (Landsat C2 L2: scale=2.75e-5, offset=-0.2; Sentinel-2 L2A:
    scale=1e-4, offset=-0.1 since baseline 04.00). `cloud` is an optional band whose non-zero pixels are
    clouds (a QA-derived mask), masked like nodata.
    """

    red: int = 1
    nir: int = 2
    swir1: int = 3
    scale: float = 1.0
    offset: float = 0.0
    cloud: int | None = None


def read_reflectance(
    src: DatasetReader, band: int, bands: BandMap, window: Window | None = None
) -> np.ma.MaskedArray:
    """One band as float32 reflectance, masked where the band is nodata or the pixel is cloud."""
    dn = src.read(band, window=window, masked=True)  # masks the dataset's nodata value
    refl = dn.astype(np.float32) * np.float32(bands.scale) + np.float32(bands.offset)
    if bands.cloud is not None:
        cloud = src.read(bands.cloud, window=window) != 0
        refl = np.ma.masked_where(cloud, refl)
    return refl


def normalized_difference(a: np.ma.MaskedArray, b: np.ma.MaskedArray) -> np.ma.MaskedArray:
    """(a - b) / (a + b), masked where either input is masked or a + b == 0 (undefined)."""
    total = a + b
    bad = np.ma.getmaskarray(total) | (np.ma.getdata(total) == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        nd = (np.ma.getdata(a) - np.ma.getdata(b)) / np.ma.getdata(total)
    return np.ma.MaskedArray(nd.astype(np.float32), mask=bad)


def indices(
    src: DatasetReader, bands: BandMap, window: Window | None = None
) -> tuple[np.ma.MaskedArray, np.ma.MaskedArray]:
    """(NDVI, NDBI) for a window (or the whole dataset): NDVI=(NIR-red)/(NIR+red), NDBI=(SWIR1-NIR)/(SWIR1+NIR)."""
    red = read_reflectance(src, bands.red, bands, window)
    nir = read_reflectance(src, bands.nir, bands, window)
    swir1 = read_reflectance(src, bands.swir1, bands, window)
    return normalized_difference(nir, red), normalized_difference(swir1, nir)


def _blocks(src: DatasetReader) -> Iterator[Window]:
    # The first band's block layout; every band of a GeoTIFF shares it.
    for _, window in src.block_windows(1):
        yield window


def write_indices(src_path: Path, dst_path: Path, bands: BandMap = BandMap()) -> Path:
    """NDVI (band 1) and NDBI (band 2) to a float32 GeoTIFF with NaN nodata, one block at a time."""
    with rasterio.open(src_path) as src:
        profile = src.profile | {"count": 2, "dtype": "float32", "nodata": np.nan}
        with rasterio.open(dst_path, "w", **profile) as dst:
            for window in _blocks(src):
                ndvi, ndbi = indices(src, bands, window)
                dst.write(ndvi.filled(np.nan), 1, window=window)
                dst.write(ndbi.filled(np.nan), 2, window=window)
            dst.set_band_description(1, "NDVI")
            dst.set_band_description(2, "NDBI")
    return dst_path


def builtup_rule(
    ndvi: np.ma.MaskedArray,
    ndbi: np.ma.MaskedArray,
    ndbi_min: float = DEFAULT_NDBI_MIN,
    ndvi_max: float = DEFAULT_NDVI_MAX,
) -> np.ndarray:
    """uint8 mask: 1 where NDBI > ndbi_min and NDVI < ndvi_max, 0 elsewhere, MASK_NODATA where masked."""
    built = (np.ma.getdata(ndbi) > ndbi_min) & (np.ma.getdata(ndvi) < ndvi_max)
    out = built.astype(np.uint8)
    out[np.ma.getmaskarray(ndvi) | np.ma.getmaskarray(ndbi)] = MASK_NODATA
    return out


def write_builtup_mask(
    src_path: Path,
    dst_path: Path,
    bands: BandMap = BandMap(),
    ndbi_min: float = DEFAULT_NDBI_MIN,
    ndvi_max: float = DEFAULT_NDVI_MAX,
) -> Path:
    """The built-up mask of one year's image: same grid and profile, uint8, nodata 255, block by block."""
    with rasterio.open(src_path) as src:
        profile = src.profile | {"count": 1, "dtype": "uint8", "nodata": MASK_NODATA}
        with rasterio.open(dst_path, "w", **profile) as dst:
            for window in _blocks(src):
                ndvi, ndbi = indices(src, bands, window)
                dst.write(builtup_rule(ndvi, ndbi, ndbi_min, ndvi_max), 1, window=window)
    return dst_path


def iou(mask: np.ndarray, truth: np.ndarray, nodata: int = MASK_NODATA) -> float:
    """Intersection over union of the built-up class, over pixels valid in both (nodata in either ignored)."""
    valid = (mask != nodata) & (truth != nodata)
    a, b = (mask == 1) & valid, (truth == 1) & valid
    union = int(np.count_nonzero(a | b))
    return float(np.count_nonzero(a & b)) / union if union else 1.0  # both empty: perfect agreement


def pixel_area_m2(src: DatasetReader) -> float:
    if src.crs is None or not src.crs.is_projected:
        raise ValueError("zonal areas need a raster in a projected, metre-based CRS (reproject it first)")
    t = src.transform
    return abs(t.a * t.e - t.b * t.d)  # determinant: also right for a rotated grid


ZONAL_COUNTS = ("pixels", "valid_pixels", "builtup_pixels")


def polygon_counts(geom, data: np.ndarray, transform) -> tuple[int, int, int]:
    """Pixels of a mask window whose **centre** lies in `geom` (`geometry_mask`, all_touched=False): all of them,
    the valid ones, the built-up ones. The rule does not depend on the window, so windows' counts add up."""
    inside = geometry_mask([geom], out_shape=data.shape, transform=transform, invert=True)
    return (
        int(np.count_nonzero(inside)),
        int(np.count_nonzero(inside & (data != MASK_NODATA))),
        int(np.count_nonzero(inside & (data == 1))),
    )


def zonal_table(ids, counts: np.ndarray, pixel_m2: float, id_col: str = "tract_id") -> pd.DataFrame:
    """The zonal table from per-polygon (pixels, valid, built-up) counts: km² and the built-up share of valid."""
    counts = np.asarray(counts, dtype=np.int64).reshape(-1, len(ZONAL_COUNTS))
    out = pd.DataFrame(counts, columns=list(ZONAL_COUNTS))
    out.insert(0, id_col, list(ids))
    out["builtup_km2"] = out["builtup_pixels"] * pixel_m2 / 1e6
    out["valid_km2"] = out["valid_pixels"] * pixel_m2 / 1e6
    valid = out["valid_pixels"]
    out["builtup_share"] = (out["builtup_pixels"] / valid.where(valid > 0)).astype("float64")
    return out


def zonal_builtup(mask_path: Path, tracts: gpd.GeoDataFrame, id_col: str = "tract_id") -> pd.DataFrame:
    """Per tract: built-up km², valid km², and built-up share of valid pixels.

    Tracts (any CRS) are reprojected to the raster's CRS. A pixel belongs to a tract when its **centre**
    lies inside it (`polygon_counts`): a pixel split by a boundary is counted once, in the tract holding its
    centre, so adjacent tracts never double-count. Only the tract's bounding window of the mask is read.
    """
    with rasterio.open(mask_path) as src:
        pixel_m2 = pixel_area_m2(src)
        local = to_metric(tracts, src.crs)
        counts = []
        for geom in local.geometry:
            window = _bounding_window(src, geom.bounds)
            if window is None:
                counts.append((0, 0, 0))
                continue
            counts.append(polygon_counts(geom, src.read(1, window=window), src.window_transform(window)))
    return zonal_table(local[id_col], counts, pixel_m2, id_col)


def _bounding_window(src: DatasetReader, bounds: tuple[float, float, float, float]) -> Window | None:
    """The whole-pixel window covering `bounds`, clipped to the raster; None when they don't overlap."""
    w = rasterio.windows.from_bounds(*bounds, transform=src.transform)
    col0, row0 = max(int(np.floor(w.col_off)), 0), max(int(np.floor(w.row_off)), 0)
    col1 = min(int(np.ceil(w.col_off + w.width)), src.width)
    row1 = min(int(np.ceil(w.row_off + w.height)), src.height)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def vectorize_builtup(mask_path: Path, connectivity: Literal[4, 8] = 4) -> gpd.GeoDataFrame:
    """Built-up patches as polygons in the raster's CRS, one row per 4-connected patch, with area_km2.

    Reads the mask whole (uint8: a 10 000² scene is 100 MB); `shapes` traces pixel edges, so each
    polygon's area is exactly its pixel count * pixel area.
    """
    with rasterio.open(mask_path) as src:
        data = src.read(1)
        crs, transform = src.crs, src.transform
    built = data == 1
    geoms = [
        shape(geom) for geom, _ in shapes(data, mask=built, connectivity=connectivity, transform=transform)
    ]
    gdf = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)
    gdf["area_km2"] = gdf.area / 1e6 if crs is not None and crs.is_projected else np.nan
    return gdf


def reproject_raster(
    src_path: Path,
    dst_crs: CRS | str | int,
    dst_path: Path,
    kind: Literal["mask", "continuous"] = "continuous",
) -> Path:
    """Every band of `src_path` warped to `dst_crs` on GDAL's default grid for that CRS.

    `kind="mask"` resamples with nearest neighbour: a class raster must keep its codes (bilinear blends
    classes 0 and 2 into a 1 neither neighbour has; on a 0/1 mask it silently becomes a 0.5 threshold).
    `kind="continuous"` (reflectance, indices) uses bilinear: smoother, and a physical quantity between
    two pixels is well estimated by interpolation. Nodata stays nodata.
    """
    resampling = Resampling.nearest if kind == "mask" else Resampling.bilinear
    dst_crs = CRS.from_user_input(dst_crs)
    with rasterio.open(src_path) as src:
        nodata = src.nodata
        if nodata is None:
            # The warped grid has corners the source doesn't cover: they need a nodata value, or they'd be
            # written as valid 0 ("not built-up", "zero reflectance").
            if not np.issubdtype(np.dtype(src.dtypes[0]), np.floating):
                raise ValueError(f"{src_path} has no nodata value: set one before warping an integer raster")
            nodata = np.nan
        transform, width, height = calculate_default_transform(
            src.crs, dst_crs, src.width, src.height, *src.bounds
        )
        profile = src.profile | {
            "crs": dst_crs,
            "transform": transform,
            "width": width,
            "height": height,
            "nodata": nodata,
        }
        with rasterio.open(dst_path, "w", **profile) as dst:
            for band in range(1, src.count + 1):
                reproject(
                    source=rasterio.band(src, band),
                    destination=rasterio.band(dst, band),
                    src_transform=src.transform,
                    src_crs=src.crs,
                    dst_transform=transform,
                    dst_crs=dst_crs,
                    src_nodata=src.nodata,
                    dst_nodata=nodata,
                    resampling=resampling,
                )
    return dst_path
