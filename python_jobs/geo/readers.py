"""Reading raster and vector inputs, rejecting what is wrong with an error that names the file.

A missing or unknown CRS, an empty file or layer: `GeoInputError`. Invalid vector geometries are repaired
(`make_valid`) or quarantined with a reason, and the result accounts for every row: rows_in = good +
quarantined. A raster in another CRS than the caller's target is reprojected, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import calculate_default_transform, reproject
from rasterio.windows import Window


class GeoInputError(ValueError):
    """An input file that cannot be used as it is; the message names the file."""


@dataclass(frozen=True)
class RasterResult:
    path: Path
    data: np.ndarray  # (bands, rows, cols)
    crs: CRS
    transform: Affine
    nodata: float | None
    band_names: tuple[str | None, ...]
    tags: dict[str, str]
    reprojected: bool  # True when the file's CRS was not the target CRS
    source_crs: CRS

    def masked(self) -> np.ma.MaskedArray:
        if self.nodata is None:
            return np.ma.masked_array(self.data)
        return np.ma.masked_equal(self.data, self.nodata)


@dataclass(frozen=True)
class VectorResult:
    path: Path
    layer: str
    good: gpd.GeoDataFrame
    quarantined: pd.DataFrame  # the rejected rows, with a `reason` column
    rows_in: int
    repaired: int  # rows kept after make_valid

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows_in": self.rows_in,
            "good": len(self.good),
            "quarantined": len(self.quarantined),
            "repaired": self.repaired,
        }


def _check_crs(path: Path, crs: CRS | None, what: str = "") -> CRS:
    if crs is None or not crs.to_wkt():
        raise GeoInputError(f"{path}{what}: no coordinate reference system; refusing to guess one")
    if crs.to_epsg() is None and not crs.is_valid:
        raise GeoInputError(f"{path}{what}: unknown coordinate reference system {crs.to_wkt()[:80]!r}")
    return crs


def _check_file(path: Path) -> None:
    if not path.exists():
        raise GeoInputError(f"{path}: no such file")
    if path.is_file() and path.stat().st_size == 0:
        raise GeoInputError(f"{path}: empty file")


def read_raster(
    path: Path | str,
    *,
    window: Window | None = None,
    bands: list[int] | None = None,
    target_crs: str | CRS | None = None,
    resampling: Resampling = Resampling.nearest,
) -> RasterResult:
    """Read (a window of) a raster's bands; reprojected onto `target_crs` when the file is in another CRS."""
    path = Path(path)
    _check_file(path)
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise GeoInputError(f"{path}: not a readable raster ({exc})") from exc
    with src:
        source_crs = _check_crs(path, src.crs)
        if src.width == 0 or src.height == 0 or src.count == 0:
            raise GeoInputError(f"{path}: empty raster")
        indexes = bands or list(range(1, src.count + 1))
        data = src.read(indexes, window=window)
        transform = src.window_transform(window) if window is not None else src.transform
        nodata = src.nodata
        names = tuple(src.descriptions[i - 1] for i in indexes)
        tags = src.tags()
    target = CRS.from_user_input(target_crs) if target_crs is not None else source_crs
    if target == source_crs:
        return RasterResult(path, data, source_crs, transform, nodata, names, tags, False, source_crs)

    height, width = data.shape[1:]
    left, top = transform @ (0, 0)
    right, bottom = transform @ (width, height)
    dst_transform, dst_width, dst_height = calculate_default_transform(
        source_crs, target, width, height, left=left, bottom=bottom, right=right, top=top
    )
    fill = nodata if nodata is not None else 0
    out = np.full((len(indexes), dst_height, dst_width), fill, dtype=data.dtype)
    reproject(
        data,
        out,
        src_transform=transform,
        src_crs=source_crs,
        src_nodata=nodata,
        dst_transform=dst_transform,
        dst_crs=target,
        dst_nodata=nodata,
        resampling=resampling,
    )
    return RasterResult(path, out, target, dst_transform, nodata, names, tags, True, source_crs)


def read_vector(
    path: Path | str,
    layer: str | None = None,
    *,
    invalid: Literal["quarantine", "repair"] = "quarantine",
    target_crs: str | None = None,
) -> VectorResult:
    """Read a vector layer; rows with a missing or invalid geometry are quarantined with a reason, or (with
    invalid="repair") repaired by make_valid and quarantined only when nothing valid is left."""
    path = Path(path)
    _check_file(path)
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise GeoInputError(f"{path}: not a readable vector file ({exc})") from exc
    names = [str(name) for name in layers[:, 0]] if len(layers) else []
    if not names:
        raise GeoInputError(f"{path}: empty file (no layers)")
    if layer is None:
        if len(names) > 1:
            raise GeoInputError(f"{path}: {len(names)} layers ({', '.join(names)}); say which one")
        layer = names[0]
    elif layer not in names:
        raise GeoInputError(f"{path}: no layer {layer!r} (has {', '.join(names)})")
    frame = pyogrio.read_dataframe(path, layer=layer)
    if len(frame) == 0:
        raise GeoInputError(f"{path} layer {layer!r}: empty layer (no rows)")
    if not isinstance(frame, gpd.GeoDataFrame):
        raise GeoInputError(f"{path} layer {layer!r}: no geometry column")
    _check_crs(path, CRS.from_user_input(frame.crs) if frame.crs else None, f" layer {layer!r}")

    geoms = frame.geometry.to_numpy()
    reason = np.full(len(frame), None, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    reason[missing] = "missing or empty geometry"
    bad = ~missing & ~shapely.is_valid(geoms)
    repaired = 0
    if invalid == "repair" and bad.any():
        fixed = shapely.make_valid(geoms[bad])
        usable = ~shapely.is_empty(fixed) & shapely.is_valid(fixed)
        geoms = geoms.copy()
        geoms[np.flatnonzero(bad)[usable]] = fixed[usable]
        repaired = int(usable.sum())
        idx = np.flatnonzero(bad)[~usable]
        reason[idx] = [
            f"invalid geometry, make_valid left nothing usable: {r}"
            for r in shapely.is_valid_reason(geoms[idx])
        ]
    elif bad.any():
        reason[bad] = [f"invalid geometry: {r}" for r in shapely.is_valid_reason(geoms[bad])]
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))

    rejected = np.array([r is not None for r in reason], dtype=bool)
    good = frame[~rejected].copy()
    quarantined = pd.DataFrame(frame[rejected].drop(columns=frame.geometry.name))
    quarantined["wkt"] = shapely.to_wkt(frame.geometry.to_numpy()[rejected])
    quarantined["reason"] = reason[rejected]
    if target_crs is not None:
        good = good.to_crs(target_crs)
    return VectorResult(path, layer, good, quarantined, len(frame), repaired)
