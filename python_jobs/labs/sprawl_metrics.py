"""The sprawl lab's measures: built-up area, SDG 11.3.1's LCRPGR, rings from the centre, entropy, accuracy.

Everything reads masks block by block (rasterio windows), so a scene's mask never needs to be in memory.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from python_jobs.geo.classify import confusion
from python_jobs.geo.crs import to_metric
from python_jobs.geo.raster import MASK_NODATA


def builtup_km2(mask_path: Path) -> dict[str, float]:
    """Built-up km², seen km² (valid pixels) and the share of the scene never seen, from a mask's band 1."""
    built = valid = total = 0
    with rasterio.open(mask_path) as src:
        t = src.transform
        pixel_m2 = abs(t.a * t.e - t.b * t.d)
        for _, window in src.block_windows(1):
            data = src.read(1, window=window)
            built += int(np.count_nonzero(data == 1))
            valid += int(np.count_nonzero(data != MASK_NODATA))
            total += data.size
    return {
        "builtup_km2": built * pixel_m2 / 1e6,
        "seen_km2": valid * pixel_m2 / 1e6,
        "unseen_share": 1 - valid / total if total else 0.0,
    }


def lcrpgr(urb1: float, urb2: float, pop1: float | None, pop2: float | None, years: float) -> dict:
    """SDG 11.3.1: LCR = ln(Urb_t2/Urb_t1)/y, PGR = ln(Pop_t2/Pop_t1)/y, ratio = LCR/PGR.

    Ratio > 1: land is consumed faster than population grows (sprawl); < 1: densification. Undefined (None)
    when an input is missing or non-positive, or the population does not change (PGR = 0).
    """
    lcr = math.log(urb2 / urb1) / years if urb1 > 0 and urb2 > 0 and years > 0 else None
    pgr = math.log(pop2 / pop1) / years if pop1 and pop2 and pop1 > 0 and pop2 > 0 and years > 0 else None
    ratio = lcr / pgr if lcr is not None and pgr not in (None, 0.0) else None
    return {"lcr": lcr, "pgr": pgr, "ratio": ratio}


def builtup_centroid(mask_path: Path) -> tuple[float, float]:
    """The mean position of the built-up pixels (raster CRS), read block by block."""
    sx = sy = n = 0.0
    with rasterio.open(mask_path) as src:
        for _, window in src.block_windows(1):
            rows, cols = np.nonzero(src.read(1, window=window) == 1)
            if len(rows):
                xs, ys = rasterio.transform.xy(src.window_transform(window), rows, cols, offset="center")
                sx += float(np.sum(xs))
                sy += float(np.sum(ys))
                n += len(rows)
        if n == 0:
            b = src.bounds
            return ((b.left + b.right) / 2, (b.bottom + b.top) / 2)
    return (sx / n, sy / n)


def ring_edges_m(mask_path: Path, centre: tuple[float, float], rings: int) -> np.ndarray:
    """`rings` + 1 radii from 0 to the distance from the centre to the nearest scene edge (complete rings)."""
    with rasterio.open(mask_path) as src:
        b = src.bounds
    cx, cy = centre
    reach = min(cx - b.left, b.right - cx, cy - b.bottom, b.top - cy)
    if reach <= 0:
        raise ValueError(f"the centre {centre} lies outside the scene {tuple(b)}")
    return np.linspace(0.0, reach, rings + 1)


def ring_builtup(mask_path: Path, centre: tuple[float, float], edges: np.ndarray) -> dict[str, list[float]]:
    """Per ring: built-up km² and seen km² (pixel centres binned by distance), block by block."""
    n = len(edges) - 1
    built = np.zeros(n)
    valid = np.zeros(n)
    with rasterio.open(mask_path) as src:
        t = src.transform
        pixel_km2 = abs(t.a * t.e - t.b * t.d) / 1e6
        for _, window in src.block_windows(1):
            data = src.read(1, window=window)
            rows, cols = np.mgrid[0 : data.shape[0], 0 : data.shape[1]]
            wt = src.window_transform(window)
            xs = wt.c + (cols + 0.5) * wt.a + (rows + 0.5) * wt.b
            ys = wt.f + (cols + 0.5) * wt.d + (rows + 0.5) * wt.e
            ring = np.digitize(np.hypot(xs - centre[0], ys - centre[1]), edges) - 1
            inside = (ring >= 0) & (ring < n)
            ok = inside & (data != MASK_NODATA)
            valid += np.bincount(ring[ok], minlength=n)[:n]
            built += np.bincount(ring[ok & (data == 1)], minlength=n)[:n]
    return {
        "builtup_km2": (built * pixel_km2).tolist(),
        "seen_km2": (valid * pixel_km2).tolist(),
        "builtup_share": np.divide(built, valid, out=np.full(n, np.nan), where=valid > 0).tolist(),
    }


def ring_population(
    tracts: gpd.GeoDataFrame, crs, centre: tuple[float, float], edges: np.ndarray, column: str
) -> list[float]:
    """People per ring: each tract's population shared by the part of its area in the ring (areal weighting,
    in the raster's projected CRS)."""
    local = to_metric(tracts, crs)
    geoms = local.geometry.to_numpy()
    area = shapely.area(geoms)
    pop = local[column].to_numpy(dtype=float)
    circles = [shapely.Point(centre).buffer(r, quad_segs=64) for r in edges]
    out = []
    for inner, outer in itertools.pairwise(circles):
        annulus = outer.difference(inner) if inner.area > 0 else outer
        share = np.divide(
            shapely.area(shapely.intersection(geoms, annulus)), area, out=np.zeros(len(area)), where=area > 0
        )
        out.append(float(np.sum(pop * share)))
    return out


def population_in_scene(tracts: gpd.GeoDataFrame, crs, bounds, column: str) -> float:
    """The tracts' population inside the scene's bounds, by area share (the study area is the scene)."""
    local = to_metric(tracts, crs)
    geoms = local.geometry.to_numpy()
    area = shapely.area(geoms)
    inside = shapely.area(shapely.intersection(geoms, shapely.box(*bounds)))
    share = np.divide(inside, area, out=np.zeros(len(area)), where=area > 0)
    return float(np.sum(local[column].to_numpy(dtype=float) * share))


@dataclass(frozen=True)
class DecayFit:
    d0: float  # people per km² at the centre
    gradient_per_km: float  # b in D(r) = D0 exp(-b r): the larger, the more compact
    r2: float


def fit_exponential_decay(r_km: list[float], density: list[float]) -> DecayFit | None:
    """Least squares of ln D = ln D0 - b r over the rings with people (Clark's density gradient)."""
    r = np.asarray(r_km, dtype=float)
    d = np.asarray(density, dtype=float)
    ok = np.isfinite(d) & (d > 0)
    if ok.sum() < 2:
        return None
    slope, intercept = np.polyfit(r[ok], np.log(d[ok]), 1)
    pred = intercept + slope * r[ok]
    resid = np.log(d[ok]) - pred
    total = np.log(d[ok]) - np.log(d[ok]).mean()
    r2 = 1 - float(resid @ resid) / float(total @ total) if float(total @ total) > 0 else 1.0
    return DecayFit(float(math.exp(intercept)), float(-slope), r2)


def normalised_entropy(builtup_per_zone: list[float]) -> float | None:
    """Shannon entropy of the built-up area across zones, / ln(zones): 0 all in one ring, 1 spread evenly."""
    x = np.asarray(builtup_per_zone, dtype=float)
    if len(x) < 2 or x.sum() <= 0:
        return None
    p = x[x > 0] / x.sum()
    return float(-(p * np.log(p)).sum() / math.log(len(x)))


def accuracy(mask_path: Path, truth_path: Path) -> dict[str, float]:
    """IoU, precision, recall of a mask against truth (the truth read onto the mask's grid, nearest), for all
    pixels and for the clear (not filled) ones."""
    with rasterio.open(mask_path) as src:
        mask = src.read(1)
        filled = src.read(2) if src.count >= 2 else np.zeros_like(mask)
        crs, transform, width, height = src.crs, src.transform, src.width, src.height
    with rasterio.open(truth_path) as t:
        if t.crs == crs and t.transform.almost_equals(transform) and (t.width, t.height) == (width, height):
            truth = t.read(1)
        else:
            with WarpedVRT(
                t,
                crs=crs,
                transform=transform,
                width=width,
                height=height,
                resampling=Resampling.nearest,
                nodata=MASK_NODATA,
            ) as v:
                truth = v.read(1)
        if t.nodata is not None and t.nodata != MASK_NODATA:
            truth = np.where(truth == t.nodata, MASK_NODATA, truth)
    everything = confusion(mask, truth)
    clear = confusion(np.where(filled == 1, MASK_NODATA, mask), truth)
    return everything | {"iou_clear": clear["iou"]}
