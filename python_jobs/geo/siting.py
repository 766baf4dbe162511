"""Demand hot spots (DBSCAN / HDBSCAN) and new-store siting (maximal coverage) on the seeded metro.

Drive time is a simplification: straight-line distance at a stated average speed (`straight_line_minutes`).
Every siting function takes a `travel_minutes` callable instead, so a road-network version can plug in
without touching the optimisation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from ortools.sat.python import cp_model
from sklearn.cluster import DBSCAN, HDBSCAN

from python_jobs.geo.crs import to_metric

# (origins (n, 2), destinations (m, 2)), both in metres of one CRS -> minutes, shape (n, m).
TravelMinutes = Callable[[np.ndarray, np.ndarray], np.ndarray]

DEFAULT_SPEED_KMH = 30.0  # an urban door-to-door average, not a free-flow speed
DEFAULT_MAX_MINUTES = 20.0


def straight_line_minutes(speed_kmh: float = DEFAULT_SPEED_KMH) -> TravelMinutes:
    """Minutes to cover the straight-line distance at `speed_kmh` (the stand-in for a road-network time)."""
    if speed_kmh <= 0:
        raise ValueError("speed_kmh must be positive")
    metres_per_minute = speed_kmh * 1000.0 / 60.0

    def minutes(origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
        diff = origins[:, None, :] - destinations[None, :, :]
        return np.hypot(diff[..., 0], diff[..., 1]) / metres_per_minute

    return minutes


def _xy(gdf: gpd.GeoDataFrame) -> np.ndarray:
    # Polygons (tracts) stand for their representative point: always inside, unlike a centroid.
    geoms = gdf.geometry.to_numpy()
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    return shapely.get_coordinates(points)


# ---------------------------------------------------------------------------------------------- hot spots


@dataclass(frozen=True)
class HotSpots:
    """Clusters of points: `labels` per input row (-1 = noise), one row per cluster in `clusters`."""

    method: str
    labels: np.ndarray
    clusters: gpd.GeoDataFrame  # cluster, n_points, centroid (metric CRS); active geometry = convex hull
    noise: int


def find_hot_spots(
    points: gpd.GeoDataFrame,
    method: Literal["dbscan", "hdbscan"] = "dbscan",
    *,
    eps_m: float = 150.0,
    min_samples: int = 10,
    min_cluster_size: int = 15,
    crs: str | int | None = None,
) -> HotSpots:
    """Density clusters of `points` in metres (`to_metric`, UTM unless `crs` is given).

    DBSCAN: a point is core when at least `min_samples` points (itself included) lie within `eps_m` metres;
    clusters are core points joined through their eps-neighbourhoods. HDBSCAN: no single radius, clusters of
    at least `min_cluster_size` points are kept where they are most stable across radii; `min_samples` sets
    the core-distance neighbour count. Both are deterministic for a given input order; cluster numbers are
    then reassigned by size (largest = 0, ties by first row) so they do not depend on the algorithm's order.
    """
    metric = to_metric(points, crs)
    xy = _xy(metric)
    if method == "dbscan":
        raw = DBSCAN(eps=eps_m, min_samples=min_samples).fit_predict(xy)
    elif method == "hdbscan":
        raw = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True).fit_predict(xy)
    else:
        raise ValueError(f"unknown method {method!r} (dbscan or hdbscan)")

    found = [c for c in np.unique(raw) if c >= 0]
    order = sorted(found, key=lambda c: (-int((raw == c).sum()), int(np.argmax(raw == c))))
    labels = np.full(len(raw), -1, dtype=np.int64)
    for new, old in enumerate(order):
        labels[raw == old] = new

    rows = []
    for c in range(len(order)):
        member = xy[labels == c]
        rows.append(
            {
                "cluster": c,
                "n_points": len(member),
                "centroid": shapely.Point(member.mean(axis=0)),
                "geometry": shapely.MultiPoint(member).convex_hull,
            }
        )
    clusters = gpd.GeoDataFrame(
        rows or {"cluster": [], "n_points": [], "centroid": [], "geometry": []},
        geometry="geometry",
        crs=metric.crs,
    )
    clusters["centroid"] = gpd.GeoSeries(clusters["centroid"], crs=metric.crs)
    return HotSpots(method=method, labels=labels, clusters=clusters, noise=int((labels == -1).sum()))


# -------------------------------------------------------------------------------------- maximal coverage


def covered_value(
    cover: np.ndarray, weights: np.ndarray, chosen: Sequence[int], already: np.ndarray
) -> float:
    """Total weight of demand points covered by the existing facilities (`already`) or any `chosen` site."""
    hit = already.copy()
    if len(chosen):
        hit |= cover[:, list(chosen)].any(axis=1)
    return float(weights[hit].sum())


def greedy_max_coverage(cover: np.ndarray, weights: np.ndarray, k: int, already: np.ndarray) -> list[int]:
    """Add the site with the largest uncovered weight k times (ties: lowest index).

    Coverage is monotone submodular, so this is within (1 - 1/e) of the optimum (Nemhauser et al. 1978).
    """
    _check(cover, weights, k, already)
    hit = already.copy()
    chosen: list[int] = []
    for _ in range(k):
        gain = weights @ (cover & ~hit[:, None])
        gain[chosen] = -1.0  # never pick a site twice
        best = int(np.argmax(gain))
        chosen.append(best)
        hit |= cover[:, best]
    return chosen


def brute_force_max_coverage(
    cover: np.ndarray, weights: np.ndarray, k: int, already: np.ndarray
) -> list[int]:
    """Exact by enumerating every k-subset: C(m, k) evaluations, for small cases and to check CP-SAT."""
    _check(cover, weights, k, already)
    best: tuple[int, ...] = ()
    best_value = -1.0
    for combo in itertools.combinations(range(cover.shape[1]), k):
        value = covered_value(cover, weights, combo, already)
        if value > best_value + 1e-9:  # strict: keeps the lexicographically first optimum
            best, best_value = combo, value
    return list(best)


def cpsat_max_coverage(
    cover: np.ndarray, weights: np.ndarray, k: int, already: np.ndarray, *, time_limit_s: float = 30.0
) -> list[int]:
    """Exact maximal coverage with OR-Tools CP-SAT (x_j: open site j; y_i: demand i newly covered).

    max sum w_i y_i  s.t.  y_i <= sum_{j covers i} x_j,  sum x_j = k. Points covered by existing stores are
    left out (they count whatever is chosen). CP-SAT needs integer coefficients: weights are scaled by 1000
    and rounded unless they are already integers. One worker and a fixed seed keep the run deterministic.
    """
    _check(cover, weights, k, already)
    integral = np.allclose(weights, np.round(weights))
    coef = np.round(weights if integral else weights * 1000.0).astype(np.int64)
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{j}") for j in range(cover.shape[1])]
    model.add(sum(x) == k)
    objective = []
    for i in np.flatnonzero(~already & cover.any(axis=1) & (coef > 0)):
        y = model.new_bool_var(f"y{i}")
        model.add(y <= sum(x[j] for j in np.flatnonzero(cover[i])))
        objective.append(int(coef[i]) * y)
    model.maximize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = time_limit_s
    status = solver.solve(model)
    if status != cp_model.OPTIMAL:
        raise RuntimeError(f"CP-SAT did not prove optimality ({solver.status_name(status)})")
    return [j for j in range(cover.shape[1]) if solver.boolean_value(x[j])]


def _check(cover: np.ndarray, weights: np.ndarray, k: int, already: np.ndarray) -> None:
    if cover.ndim != 2 or cover.shape[0] != len(weights) or len(already) != len(weights):
        raise ValueError("cover is (demand, sites); weights and already have one entry per demand point")
    if not 0 <= k <= cover.shape[1]:
        raise ValueError(f"k={k} outside 0..{cover.shape[1]} candidate sites")


# ------------------------------------------------------------------------------------------------ siting


@dataclass(frozen=True)
class Coverage:
    """Demand within `max_minutes` of a store: covered + uncovered = total."""

    covered: float
    total: float

    @property
    def uncovered(self) -> float:
        return self.total - self.covered

    @property
    def share(self) -> float:
        return self.covered / self.total if self.total else 1.0


@dataclass(frozen=True)
class SitingResult:
    method: str  # "cpsat" or "greedy"
    sites: gpd.GeoDataFrame  # the chosen candidates, metric CRS, with `candidate` = row in the candidates
    population_before: Coverage
    population_after: Coverage
    customers_before: Coverage
    customers_after: Coverage


def site_new_stores(
    tracts: gpd.GeoDataFrame,
    stores: gpd.GeoDataFrame,
    k: int,
    *,
    customers: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    population_column: str = "pop_2020",
    max_minutes: float = DEFAULT_MAX_MINUTES,
    travel_minutes: TravelMinutes | None = None,
    method: Literal["auto", "cpsat", "greedy"] = "auto",
    exact_limit: int = 200,
) -> SitingResult:
    """Choose `k` new store sites maximising the population within `max_minutes` of any store.

    Demand = each tract's `population_column` at a point inside the tract. Candidates default to those same
    tract points. `travel_minutes` defaults to straight-line distance at DEFAULT_SPEED_KMH. `method="auto"`
    solves exactly with CP-SAT when there are at most `exact_limit` candidates, else greedily. Customers are
    reported before and after but do not drive the choice.
    """
    minutes = travel_minutes or straight_line_minutes()
    metric_tracts = to_metric(tracts)
    crs = metric_tracts.crs
    demand_xy = _xy(metric_tracts)
    weights = metric_tracts[population_column].to_numpy(dtype=float)
    store_xy = _xy(to_metric(stores, crs))
    cand = to_metric(candidates, crs) if candidates is not None else metric_tracts[["geometry"]].copy()
    cand_xy = _xy(cand)

    already = (minutes(demand_xy, store_xy) <= max_minutes).any(axis=1)
    cover = minutes(demand_xy, cand_xy) <= max_minutes
    chosen_method = method if method != "auto" else ("cpsat" if len(cand_xy) <= exact_limit else "greedy")
    solve = cpsat_max_coverage if chosen_method == "cpsat" else greedy_max_coverage
    chosen = sorted(solve(cover, weights, k, already))

    sites = gpd.GeoDataFrame(
        {"candidate": chosen}, geometry=gpd.points_from_xy(cand_xy[chosen, 0], cand_xy[chosen, 1]), crs=crs
    )
    pop_total = float(weights.sum())
    result_pop = (
        Coverage(covered_value(cover, weights, [], already), pop_total),
        Coverage(covered_value(cover, weights, chosen, already), pop_total),
    )
    if customers is not None:
        cust_xy = _xy(to_metric(customers, crs))
        ones = np.ones(len(cust_xy))
        cust_before = (minutes(cust_xy, store_xy) <= max_minutes).any(axis=1)
        cust_cover = minutes(cust_xy, cand_xy[chosen]) <= max_minutes
        n = float(len(cust_xy))
        result_cust = (
            Coverage(float(cust_before.sum()), n),
            Coverage(covered_value(cust_cover, ones, list(range(len(chosen))), cust_before), n),
        )
    else:
        result_cust = (Coverage(0.0, 0.0), Coverage(0.0, 0.0))
    return SitingResult(chosen_method, sites, *result_pop, *result_cust)
