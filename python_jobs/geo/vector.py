"""Vector patterns on the seeded metro: point in polygon, the same join several ways, overlay, nearest store.

Every join runs in one metric CRS (`crs.to_metric`), so distances are metres and areas m². The point-in-polygon
join accounts for every input row: rows_in = joined points + unmatched points + quarantined rows (a point
outside every polygon is unmatched, a null, empty, invalid or non-point geometry is quarantined with a reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from python_jobs.geo import duckdb_spatial
from python_jobs.geo.crs import to_metric
from python_jobs.geo.readers import read_vector

Pair = tuple[Any, Any]  # (point id, polygon id)


@dataclass(frozen=True)
class PointJoin:
    joined: gpd.GeoDataFrame  # one row per (point, polygon) pair; a point in overlapping polygons repeats
    unmatched: gpd.GeoDataFrame  # usable points inside no polygon
    quarantined: pd.DataFrame  # rejected point rows with a `reason` (and `wkt` when read from a file)
    rows_in: int
    polygons_quarantined: pd.DataFrame  # rejected polygons: they match nothing, so they are reported here

    @property
    def joined_points(self) -> int:
        return int(self.joined.index.nunique())

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows_in": self.rows_in,
            "joined_points": self.joined_points,
            "pairs": len(self.joined),
            "unmatched": len(self.unmatched),
            "quarantined": len(self.quarantined),
            "polygons_quarantined": len(self.polygons_quarantined),
        }

    def balanced(self) -> bool:
        return self.rows_in == self.joined_points + len(self.unmatched) + len(self.quarantined)


def _geometry_problems(gdf: gpd.GeoDataFrame, kinds: tuple[str, ...]) -> np.ndarray:
    """A reason per row (None when usable): missing, empty, invalid, or not one of `kinds`."""
    geoms = gdf.geometry.to_numpy()
    reason = np.full(len(gdf), None, dtype=object)
    missing = shapely.is_missing(geoms)
    reason[missing] = "missing geometry"
    empty = ~missing & shapely.is_empty(geoms)
    reason[empty] = "empty geometry"
    present = ~missing & ~empty
    types = np.array([g.geom_type if g is not None else "" for g in geoms], dtype=object)
    wrong = present & ~np.isin(types, kinds)
    reason[wrong] = [f"geometry type {t}, expected {'/'.join(kinds)}" for t in types[wrong]]
    bad = present & ~wrong & ~shapely.is_valid(geoms)
    reason[bad] = [f"invalid geometry: {r}" for r in shapely.is_valid_reason(geoms[bad])]
    return reason


def _split(gdf: gpd.GeoDataFrame, kinds: tuple[str, ...]) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    reason = _geometry_problems(gdf, kinds)
    rejected = np.array([r is not None for r in reason], dtype=bool)
    quarantined = pd.DataFrame(gdf[rejected].drop(columns=gdf.geometry.name))
    quarantined["wkt"] = shapely.to_wkt(gdf.geometry.to_numpy()[rejected])
    quarantined["reason"] = reason[rejected]
    return gdf[~rejected], quarantined


def points_in_polygons(
    points: gpd.GeoDataFrame,
    polygons: gpd.GeoDataFrame,
    *,
    polygon_cols: list[str] | None = None,
    predicate: str = "within",
) -> PointJoin:
    """Each usable point joined to the polygons it lies `within`, in `polygons`' CRS (metric when the caller
    used `to_metric`); unmatched and quarantined points are kept apart, never dropped."""
    if points.crs is None or polygons.crs is None:
        raise ValueError("both layers need a CRS")
    points = points.to_crs(polygons.crs)
    good_points, bad_points = _split(points, ("Point",))
    good_polys, bad_polys = _split(polygons, ("Polygon", "MultiPolygon"))
    keep = polygon_cols if polygon_cols is not None else [c for c in good_polys.columns if c != "geometry"]
    right = good_polys[[*keep, good_polys.geometry.name]]
    # sjoin builds an STRtree (the R-tree `sindex`) on one side and tests the predicate only on box hits.
    joined = gpd.sjoin(good_points, right, how="inner", predicate=predicate).drop(columns="index_right")
    unmatched = good_points[~good_points.index.isin(joined.index)]
    return PointJoin(joined, unmatched, bad_points, len(points), bad_polys)


def customers_in_polygons(
    business: Path | str,
    polygons_path: Path | str,
    polygons_layer: str,
    *,
    polygon_cols: list[str],
    customers_layer: str = "customers",
) -> PointJoin:
    """The metro's customers joined to tracts (tracts.gpkg, "tracts") or delivery zones (business.gpkg,
    "delivery_zones"): read with quarantine, both moved to the polygons' metric CRS, and the reader's
    quarantine added to the join's so rows_in counts every row of the file."""
    customers = read_vector(business, customers_layer, invalid="quarantine")
    polys = read_vector(polygons_path, polygons_layer, invalid="quarantine")
    metric = to_metric(polys.good)
    result = points_in_polygons(customers.good, metric, polygon_cols=polygon_cols)
    quarantined = pd.concat([customers.quarantined, result.quarantined], ignore_index=True)
    poly_quarantined = pd.concat([polys.quarantined, result.polygons_quarantined], ignore_index=True)
    return PointJoin(result.joined, result.unmatched, quarantined, customers.rows_in, poly_quarantined)


# --- the same join four ways -------------------------------------------------------------------------------


def pairs_sjoin(
    points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame, point_id: str, polygon_id: str
) -> list[Pair]:
    """GeoPandas `sjoin(predicate="within")`: the R-tree `sindex` prunes by bounding box, then shapely tests."""
    pts = points[[point_id, points.geometry.name]]
    polys = polygons[[polygon_id, polygons.geometry.name]].rename(columns={polygon_id: "_polygon"})
    joined = gpd.sjoin(pts, polys, how="inner", predicate="within")
    return sorted(zip(joined[point_id].tolist(), joined["_polygon"].tolist(), strict=True))


def pairs_naive(
    points: gpd.GeoDataFrame,
    polygons: gpd.GeoDataFrame,
    point_id: str,
    polygon_id: str,
) -> list[Pair]:
    """Every point against every polygon with shapely's `within`, one Python call per pair: the reference
    without any index. It is O(points x polygons) Python calls, so callers pass a sample of points
    (`sample_points`) and compare with the other methods on that same sample."""
    out: list[Pair] = []
    poly_rows = list(zip(polygons[polygon_id].tolist(), polygons.geometry.tolist(), strict=True))
    for pid, point in zip(points[point_id].tolist(), points.geometry.tolist(), strict=True):
        for gid, polygon in poly_rows:
            if point.within(polygon):
                out.append((pid, gid))
    return sorted(out)


def pairs_strtree(
    points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame, point_id: str, polygon_id: str
) -> list[Pair]:
    """shapely's STRtree over the polygons, queried with all points at once: `query(points, predicate="within")`
    evaluates within(point, polygon) and returns (point index, polygon index) arrays."""
    tree = shapely.STRtree(polygons.geometry.to_numpy())
    pt_idx, pg_idx = tree.query(points.geometry.to_numpy(), predicate="within")
    pids = points[point_id].to_numpy()[pt_idx].tolist()
    gids = polygons[polygon_id].to_numpy()[pg_idx].tolist()
    return sorted(zip(pids, gids, strict=True))


def pairs_grid(
    points: gpd.GeoDataFrame,
    polygons: gpd.GeoDataFrame,
    point_id: str,
    polygon_id: str,
    *,
    cells_per_side: int = 32,
    stats: dict[str, int] | None = None,
) -> list[Pair]:
    """An exact join that skips most predicate calls: points are bucketed into a regular grid; for each polygon,
    a cell lying in its interior assigns all its points without a test, a cell touching its boundary tests its
    points exactly, and other cells are skipped. Same pairs as `pairs_sjoin`; `stats` receives the number of
    exact point tests and of points assigned without one."""
    n = cells_per_side
    pts = points.geometry.to_numpy()
    xy = shapely.get_coordinates(pts)
    if len(xy) != len(pts):
        raise ValueError("pairs_grid needs one non-empty point per row (quarantine the others first)")
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    w = max((x1 - x0) / n, 1e-9)
    h = max((y1 - y0) / n, 1e-9)
    cx = np.clip(((xy[:, 0] - x0) / w).astype(np.int64), 0, n - 1)
    cy = np.clip(((xy[:, 1] - y0) / h).astype(np.int64), 0, n - 1)
    order = np.argsort(cy * n + cx, kind="stable")
    sorted_cells = (cy * n + cx)[order]
    starts = np.searchsorted(sorted_cells, np.arange(n * n), side="left")
    ends = np.searchsorted(sorted_cells, np.arange(n * n), side="right")
    # A point's cell comes from a floor, so it may sit an ulp outside the box drawn for it: the interior test
    # uses boxes grown by a margin, so "cell in the interior" never admits a point that is not within.
    margin = 1e-6 * max(w, h)
    pids = points[point_id].to_numpy()
    out: list[Pair] = []
    exact = free = 0
    for gid, poly in zip(polygons[polygon_id].tolist(), polygons.geometry.tolist(), strict=True):
        shapely.prepare(poly)
        bx0, by0, bx1, by1 = poly.bounds
        ii, jj = np.meshgrid(
            np.arange(np.clip(int((bx0 - x0) // w), 0, n - 1), np.clip(int((bx1 - x0) // w), 0, n - 1) + 1),
            np.arange(np.clip(int((by0 - y0) // h), 0, n - 1), np.clip(int((by1 - y0) // h), 0, n - 1) + 1),
        )
        ii, jj = ii.ravel(), jj.ravel()
        grown = shapely.box(
            x0 + ii * w - margin, y0 + jj * h - margin, x0 + (ii + 1) * w + margin, y0 + (jj + 1) * h + margin
        )
        inside = shapely.contains_properly(poly, grown)
        touching = ~inside & shapely.intersects(poly, grown)
        cells = jj * n + ii
        for cell in cells[inside]:
            idx = order[starts[cell] : ends[cell]]
            free += len(idx)
            out.extend((pid, gid) for pid in pids[idx].tolist())
        if touching.any():
            idx = np.concatenate([order[starts[c] : ends[c]] for c in cells[touching]])
            exact += len(idx)
            hit = idx[shapely.within(pts[idx], poly)]
            out.extend((pid, gid) for pid in pids[hit].tolist())
    if stats is not None:
        stats.update(exact_tests=exact, assigned_without_test=free)
    return sorted(out)


def pairs_duckdb(
    points: gpd.GeoDataFrame,
    polygons: gpd.GeoDataFrame,
    point_id: str,
    polygon_id: str,
    *,
    rtree: bool = False,
) -> list[Pair]:
    """DuckDB spatial's ST_Within join, with or without an R-tree index on the polygons."""
    return duckdb_spatial.point_polygon_pairs(points, polygons, point_id, polygon_id, rtree=rtree)


def sample_points(points: gpd.GeoDataFrame, n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """A seeded sample of at most `n` points, for the O(n·m) naive loop."""
    if len(points) <= n:
        return points
    return points.sample(n=n, random_state=seed).sort_index()


JoinMethod = Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame, str, str], list[Pair]]

METHODS: dict[str, JoinMethod] = {
    "sjoin": pairs_sjoin,
    "naive": pairs_naive,
    "strtree": pairs_strtree,
    "grid": pairs_grid,
    "duckdb": lambda pts, polys, a, b: pairs_duckdb(pts, polys, a, b, rtree=False),
    "duckdb_rtree": lambda pts, polys, a, b: pairs_duckdb(pts, polys, a, b, rtree=True),
}


def time_methods(
    points: gpd.GeoDataFrame,
    polygons: gpd.GeoDataFrame,
    point_id: str,
    polygon_id: str,
    *,
    methods: list[str] | None = None,
    naive_sample: int = 200,
    repeat: int = 1,
) -> dict[str, float]:
    """Best-of-`repeat` wall seconds per method on the same inputs; "naive" runs on `naive_sample` points only
    (its key says so), since a full run is O(n·m) Python calls."""
    seconds: dict[str, float] = {}
    for name in methods or list(METHODS):
        pts = sample_points(points, naive_sample) if name == "naive" else points
        key = f"naive[{len(pts)}]" if name == "naive" else name
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            METHODS[name](pts, polygons, point_id, polygon_id)
            best = min(best, time.perf_counter() - start)
        seconds[key] = best
    return seconds


# --- overlay: area-weighted population ---------------------------------------------------------------------


def area_weighted_population(
    tracts: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    tract_id: str,
    zone_id: str,
    pop_col: str,
) -> gpd.GeoDataFrame:
    """tracts ∩ zones, each piece carrying `share` (its area / its tract's area) and `pop_col` times share.

    Areal interpolation assumes people are spread evenly over a tract; a tract's pieces sum back to its
    population exactly when the zones cover it (uncovered parts are nobody's). Both layers must be in the
    same metric CRS: areas in degrees are not proportional to m² (see `crs.area_in_degrees_error`).
    """
    if tracts.crs is None or tracts.crs != zones.crs or not tracts.crs.is_projected:
        raise ValueError("tracts and zones must share one projected (metric) CRS; use to_metric first")
    left = tracts[[tract_id, pop_col, tracts.geometry.name]].copy()
    left["_tract_m2"] = left.geometry.area
    right = zones[[zone_id, zones.geometry.name]]
    # keep_geom_type drops slivers that degenerate to lines or points where a tract edge runs along a zone edge.
    pieces = gpd.overlay(left, right, how="intersection", keep_geom_type=True)
    pieces["area_m2"] = pieces.geometry.area
    pieces["share"] = pieces["area_m2"] / pieces["_tract_m2"]
    pieces[pop_col] = pieces[pop_col] * pieces["share"]
    return pieces.drop(columns="_tract_m2")[[tract_id, zone_id, "area_m2", "share", pop_col, "geometry"]]


def population_per_zone(pieces: gpd.GeoDataFrame, zone_id: str, pop_col: str) -> pd.Series:
    return pieces.groupby(zone_id)[pop_col].sum()


# --- nearest store ------------------------------------------------------------------------------------------


def nearest_store(
    customers: gpd.GeoDataFrame,
    stores: gpd.GeoDataFrame,
    *,
    customer_id: str = "customer_id",
    store_id: str = "store_id",
    max_distance_m: float | None = None,
) -> pd.DataFrame:
    """Each customer's nearest store and the distance in metres (one row per customer).

    Both layers are moved to the customers' metric CRS first: sjoin_nearest measures in CRS units, and in
    EPSG:4326 those are degrees. Equidistant stores give several rows in sjoin_nearest; the lowest store id
    wins so the answer is deterministic. Customers farther than `max_distance_m` from every store are absent.
    """
    pts = to_metric(customers[[customer_id, customers.geometry.name]])
    shops = stores[[store_id, stores.geometry.name]].to_crs(pts.crs)
    joined = gpd.sjoin_nearest(
        pts, shops, how="inner", max_distance=max_distance_m, distance_col="distance_m"
    )
    joined = joined.sort_values([customer_id, store_id]).drop_duplicates(customer_id, keep="first")
    return pd.DataFrame(joined[[customer_id, store_id, "distance_m"]]).reset_index(drop=True)


def nearest_store_brute_force(
    customers: gpd.GeoDataFrame, stores: gpd.GeoDataFrame, *, customer_id: str, store_id: str
) -> pd.DataFrame:
    """The reference: every customer against every store (O(n·m)), same metric CRS and tie rule."""
    pts = to_metric(customers[[customer_id, customers.geometry.name]])
    shops = stores[[store_id, stores.geometry.name]].to_crs(pts.crs).sort_values(store_id)
    dist = shapely.distance(pts.geometry.to_numpy()[:, None], shops.geometry.to_numpy()[None, :])
    best = np.argmin(dist, axis=1)  # first minimum = lowest store id, since the stores are sorted
    return pd.DataFrame(
        {
            customer_id: pts[customer_id].to_numpy(),
            store_id: shops[store_id].to_numpy()[best],
            "distance_m": dist[np.arange(len(pts)), best],
        }
    )
