"""Delivery routing on the metro's roads: a road graph, a travel matrix, a capacitated routing heuristic,
and the references it is judged against (the naive arrival-order route, brute force, OR-Tools).

Stops are indexed 1..n in every matrix; index 0 is the depot (the store). A route is the tuple of stop
indices a van visits, leaving from and returning to the depot. The objective is driving minutes (vans are
paid by the hour); km are carried along the same fastest paths and reported beside them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from python_jobs.geo.crs import to_metric
from python_jobs.geo.readers import read_vector

# --------------------------------------------------------------------------------------------- road graph

# Straight from a door to the nearest road of the generated network (which has only the main roads): a slow
# street speed, so living far from a main road costs time as it would.
DEFAULT_ACCESS_KMH = 20.0


@dataclass(frozen=True)
class RoadGraph:
    """The largest connected component of the road network; node ids are ints with x, y in `crs` metres."""

    graph: nx.Graph
    crs: CRS
    nodes_before: int  # nodes of the whole noded network
    dropped_nodes: int  # nodes outside the largest component (unreachable from most of the metro)

    def snap(self, points: gpd.GeoDataFrame, id_column: str) -> pd.DataFrame:
        """Each point's nearest graph node and the straight-line distance to it (metres)."""
        points = to_metric(points, self.crs)
        ids = np.fromiter(self.graph.nodes, dtype=np.int64)
        xy = np.array([(self.graph.nodes[n]["x"], self.graph.nodes[n]["y"]) for n in ids])
        tree = shapely.STRtree(shapely.points(xy))
        (src, hit), dist = tree.query_nearest(points.geometry.values, return_distance=True, all_matches=False)
        out = pd.DataFrame({id_column: points[id_column].to_numpy()[src], "node": ids[hit], "snap_m": dist})
        return out.reset_index(drop=True)


def _noded_pieces(roads: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The roads split wherever they cross (union_all nodes them), each piece with its road's speed.

    Generated roads cross mid-segment, not only at shared endpoints; without noding, two crossing roads
    would not connect. union_all drops attributes, so each piece takes the speed of the road under its
    midpoint (the fastest one where roads overlap).
    """
    lines = roads.geometry.values
    pieces = shapely.get_parts(shapely.get_parts(shapely.union_all(lines)))
    pieces = pieces[shapely.get_type_id(pieces) == 1]  # LineStrings only
    mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    speeds = roads["speed_kmh"].to_numpy(dtype=float)
    tree = shapely.STRtree(lines)
    piece_idx, road_idx = tree.query(mids, predicate="dwithin", distance=0.5)
    best = np.zeros(len(pieces))
    np.maximum.at(best, piece_idx, speeds[road_idx])
    if (best == 0).any():  # a piece no road lies under within 0.5 m: take its nearest road
        missing = np.flatnonzero(best == 0)
        _, near = tree.query_nearest(mids[missing], all_matches=False)
        best[missing] = speeds[near]
    return pieces, best


def build_road_graph(
    roads: gpd.GeoDataFrame, snap_m: float = 1.0, crs: CRS | str | int | None = None
) -> RoadGraph:
    """A networkx graph of the roads in a metric CRS: nodes at segment endpoints snapped to `snap_m`, edges
    with length_m and minutes (length at the road's speed), only the largest connected component kept."""
    metric = to_metric(roads, crs)
    pieces, speeds = _noded_pieces(metric)
    graph = nx.Graph()
    node_of: dict[tuple[int, int], int] = {}

    def node(x: float, y: float) -> int:
        # Snapping to a grid makes endpoints that differ by float noise the same node.
        key = (round(x / snap_m), round(y / snap_m))
        if key not in node_of:
            node_of[key] = len(node_of)
            graph.add_node(node_of[key], x=key[0] * snap_m, y=key[1] * snap_m)
        return node_of[key]

    for piece, speed in zip(pieces, speeds, strict=True):
        coords = shapely.get_coordinates(piece)
        for (x0, y0), (x1, y1) in itertools.pairwise(coords):
            a, b = node(x0, y0), node(x1, y1)
            if a == b:
                continue
            length = math.hypot(x1 - x0, y1 - y0)
            minutes = length / 1000.0 / speed * 60.0
            # Parallel roads between the same two nodes: keep the faster one.
            if not graph.has_edge(a, b) or graph.edges[a, b]["minutes"] > minutes:
                graph.add_edge(a, b, length_m=length, minutes=minutes, speed_kmh=speed)
    before = graph.number_of_nodes()
    largest = max(nx.connected_components(graph), key=len)
    kept = nx.convert_node_labels_to_integers(graph.subgraph(largest).copy(), ordering="sorted")
    return RoadGraph(kept, CRS.from_user_input(metric.crs), before, before - kept.number_of_nodes())


def load_road_graph(business_gpkg: Path | str, snap_m: float = 1.0) -> RoadGraph:
    """The road graph of the metro's business.gpkg `roads` layer."""
    return build_road_graph(read_vector(business_gpkg, "roads").good, snap_m=snap_m)


# ------------------------------------------------------------------------------------------ travel matrix


@dataclass(frozen=True)
class TravelMatrix:
    """Fastest-path minutes and the km of those same paths; row/column 0 is the depot."""

    minutes: np.ndarray
    km: np.ndarray


def travel_matrix(graph: nx.Graph, depot: int, stops: Sequence[int]) -> TravelMatrix:
    """Dijkstra (by minutes) from the depot and from every stop to all the others."""
    places = [depot, *stops]
    n = len(places)
    minutes = np.zeros((n, n))
    km = np.zeros((n, n))
    for i, source in enumerate(places):
        dist, paths = nx.single_source_dijkstra(graph, source, weight="minutes")
        for j, target in enumerate(places):
            if target not in dist:
                raise ValueError(f"node {target} is unreachable from {source}: snap to the kept component")
            minutes[i, j] = dist[target]
            km[i, j] = nx.path_weight(graph, paths[target], "length_m") / 1000.0
    return TravelMatrix(minutes, km)


def road_minutes(
    roads: RoadGraph, access_kmh: float = DEFAULT_ACCESS_KMH
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A door-to-door travel time over the road graph, for `siting.site_new_stores(travel_minutes=...)`.

    Each end walks or drives straight to its nearest graph node at `access_kmh` (the streets the generated
    network leaves out), then the fastest path on the graph. The callable takes (origins (n, 2), destinations
    (m, 2)) in metres of `roads.crs` and returns minutes (n, m). One Dijkstra per distinct destination node,
    all at once in scipy's compiled csgraph; the graph is undirected, so from the destination is the same.
    """
    if access_kmh <= 0:
        raise ValueError("access_kmh must be positive")
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    graph = roads.graph
    n = graph.number_of_nodes()
    edges = np.array([(a, b, d["minutes"]) for a, b, d in graph.edges(data=True)])
    rows = np.concatenate([edges[:, 0], edges[:, 1]]).astype(np.int64)
    cols = np.concatenate([edges[:, 1], edges[:, 0]]).astype(np.int64)
    weights = np.concatenate([edges[:, 2], edges[:, 2]])
    matrix = csr_array((weights, (rows, cols)), shape=(n, n))
    node_xy = np.array([(graph.nodes[i]["x"], graph.nodes[i]["y"]) for i in range(n)])
    tree = shapely.STRtree(shapely.points(node_xy))
    metres_per_minute = access_kmh * 1000.0 / 60.0

    def snap(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (_, node), dist = tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
        return node, dist / metres_per_minute

    def minutes(origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
        o_node, o_access = snap(np.asarray(origins, dtype=float))
        d_node, d_access = snap(np.asarray(destinations, dtype=float))
        targets, which = np.unique(d_node, return_inverse=True)
        on_graph = dijkstra(matrix, directed=False, indices=targets)  # (targets, n nodes)
        return on_graph[which][:, o_node].T + o_access[:, None] + d_access[None, :]

    return minutes


def minutes_matrix(graph: nx.Graph, depot: int, stops: Sequence[int]) -> np.ndarray:
    """Minutes only, via `single_source_dijkstra_path_length` from each place (cheaper: no paths kept)."""
    places = [depot, *stops]
    rows = [nx.single_source_dijkstra_path_length(graph, s, weight="minutes") for s in places]
    return np.array([[row[t] for t in places] for row in rows])


# ------------------------------------------------------------------------------------------------ routing


@dataclass(frozen=True)
class Problem:
    """A day's deliveries from one depot: demand[i] items for stop i (demand[0] = 0)."""

    minutes: np.ndarray
    km: np.ndarray
    demand: np.ndarray
    capacity: int = 10**9  # items per van
    max_route_min: float = math.inf  # driving plus service minutes per route
    service_min: float = 0.0  # minutes at each stop

    @property
    def n_stops(self) -> int:
        return len(self.demand) - 1

    def route_minutes(self, route: Sequence[int]) -> float:
        path = [0, *route, 0]
        return float(self.minutes[path[:-1], path[1:]].sum()) + self.service_min * len(route)

    def route_km(self, route: Sequence[int]) -> float:
        path = [0, *route, 0]
        return float(self.km[path[:-1], path[1:]].sum())

    def route_load(self, route: Sequence[int]) -> int:
        return int(self.demand[list(route)].sum())

    def feasible(self, route: Sequence[int]) -> bool:
        return (
            self.route_load(route) <= self.capacity and self.route_minutes(route) <= self.max_route_min + 1e-9
        )

    def check(self) -> None:
        for i in range(1, self.n_stops + 1):
            if not self.feasible([i]):
                raise ValueError(f"stop {i} alone exceeds a van's capacity or time limit")


@dataclass(frozen=True)
class Plan:
    routes: tuple[tuple[int, ...], ...]
    km: float
    minutes: float  # driving plus service
    drive_minutes: float  # driving only: what routing can change (service time is the same on any plan)


def plan(problem: Problem, routes: Sequence[Sequence[int]]) -> Plan:
    kept = tuple(tuple(int(s) for s in r) for r in routes if len(r))
    minutes = sum(problem.route_minutes(r) for r in kept)
    service = problem.service_min * sum(len(r) for r in kept)
    return Plan(kept, sum(problem.route_km(r) for r in kept), minutes, minutes - service)


def naive_routes(problem: Problem, arrival_order: Sequence[int] | None = None) -> Plan:
    """The baseline: stops in order of arrival (order_id), a new van whenever the next stop would not fit."""
    problem.check()
    order = list(arrival_order) if arrival_order is not None else list(range(1, problem.n_stops + 1))
    routes: list[list[int]] = [[]]
    for stop in order:
        if not problem.feasible([*routes[-1], stop]):
            routes.append([])
        routes[-1].append(stop)
    return plan(problem, routes)


def _nearest_neighbour(problem: Problem) -> list[list[int]]:
    """Each van drives to the nearest stop that still fits (load and a return in time), until none does."""
    left = set(range(1, problem.n_stops + 1))
    routes: list[list[int]] = []
    while left:
        route: list[int] = []
        at, load, used = 0, 0, 0.0
        while True:
            fits = [
                s
                for s in left
                if load + problem.demand[s] <= problem.capacity
                and used + problem.minutes[at, s] + problem.service_min + problem.minutes[s, 0]
                <= problem.max_route_min + 1e-9
            ]
            if not fits:
                break
            nxt = min(fits, key=lambda s: (problem.minutes[at, s], s))  # ties by index: deterministic
            route.append(nxt)
            used += problem.minutes[at, nxt] + problem.service_min
            load += int(problem.demand[nxt])
            at = nxt
            left.remove(nxt)
        routes.append(route)
    return routes


def _two_opt(problem: Problem, route: list[int]) -> list[int]:
    """Reverse segments while that shortens the route (first improvement, until none helps)."""
    best = route
    best_cost = problem.route_minutes(best)
    improved = True
    while improved:
        improved = False
        for i in range(len(best) - 1):
            for j in range(i + 2, len(best) + 1):
                cand = best[:i] + best[i:j][::-1] + best[j:]
                cost = problem.route_minutes(cand)
                if cost < best_cost - 1e-9:
                    best, best_cost, improved = cand, cost, True
    return best


def _or_opt(problem: Problem, route: list[int]) -> list[int]:
    """Move chains of 1-3 consecutive stops elsewhere in the route (either direction): fixes what 2-opt
    cannot reach without reversing a long stretch."""
    best = route
    best_cost = problem.route_minutes(best)
    improved = True
    while improved:
        improved = False
        for length in (1, 2, 3):
            for i in range(len(best) - length + 1):
                chain = best[i : i + length]
                rest = best[:i] + best[i + length :]
                for k in range(len(rest) + 1):
                    for piece in (chain, chain[::-1]):
                        cand = rest[:k] + piece + rest[k:]
                        cost = problem.route_minutes(cand)
                        if cost < best_cost - 1e-9:
                            best, best_cost, improved = cand, cost, True
    return best


def _improve_route(problem: Problem, route: list[int]) -> list[int]:
    # Within one route load is fixed and minutes only fall, so the limits stay met.
    while True:
        before = problem.route_minutes(route)
        route = _or_opt(problem, _two_opt(problem, route))
        if problem.route_minutes(route) >= before - 1e-9:
            return route


def _relocate_between(problem: Problem, routes: list[list[int]]) -> bool:
    """Move one stop to its best place in another route if both stay feasible and the total falls."""
    for a, src in enumerate(routes):
        for i, stop in enumerate(src):
            without = src[:i] + src[i + 1 :]
            gain = problem.route_minutes(src) - (problem.route_minutes(without) if without else 0.0)
            for b, dst in enumerate(routes):
                if b == a:
                    continue
                base = problem.route_minutes(dst)
                for k in range(len(dst) + 1):
                    cand = [*dst[:k], stop, *dst[k:]]
                    if problem.route_minutes(cand) - base < gain - 1e-9 and problem.feasible(cand):
                        routes[a], routes[b] = without, cand
                        return True
    return False


def _swap_between(problem: Problem, routes: list[list[int]]) -> bool:
    """Exchange one stop of a route with one of another, in place, if both stay feasible and the total falls:
    the move relocation cannot make when both vans are full."""
    for a, b in itertools.combinations(range(len(routes)), 2):
        ra, rb = routes[a], routes[b]
        base = problem.route_minutes(ra) + problem.route_minutes(rb)
        for i, j in itertools.product(range(len(ra)), range(len(rb))):
            na = [*ra[:i], rb[j], *ra[i + 1 :]]
            nb = [*rb[:j], ra[i], *rb[j + 1 :]]
            if problem.route_minutes(na) + problem.route_minutes(nb) < base - 1e-9 and (
                problem.feasible(na) and problem.feasible(nb)
            ):
                routes[a], routes[b] = na, nb
                return True
    return False


def _cross_tails(problem: Problem, routes: list[list[int]]) -> bool:
    """2-opt*: swap the tails of two routes (a[:i] + b[j:], b[:j] + a[i:]) if both stay feasible and the
    total falls; it untangles two vans whose paths cross, which no move inside one route can."""
    for a, b in itertools.combinations(range(len(routes)), 2):
        ra, rb = routes[a], routes[b]
        base = problem.route_minutes(ra) + problem.route_minutes(rb)
        for i, j in itertools.product(range(len(ra) + 1), range(len(rb) + 1)):
            na, nb = ra[:i] + rb[j:], rb[:j] + ra[i:]
            if (na, nb) in ((ra, rb), (rb, ra)):
                continue
            cost = (problem.route_minutes(na) if na else 0.0) + (problem.route_minutes(nb) if nb else 0.0)
            if cost < base - 1e-9 and problem.feasible(na) and problem.feasible(nb):
                routes[a], routes[b] = na, nb
                return True
    return False


def heuristic_routes(problem: Problem) -> Plan:
    """Nearest-neighbour construction, then 2-opt and or-opt in each route and, between routes, stop moves,
    stop exchanges and tail exchanges (2-opt*), until no move lowers the total minutes."""
    problem.check()
    routes = [_improve_route(problem, r) for r in _nearest_neighbour(problem)]
    while (
        _relocate_between(problem, routes) or _swap_between(problem, routes) or _cross_tails(problem, routes)
    ):
        routes = [_improve_route(problem, r) for r in routes if r]
    return plan(problem, routes)


# --------------------------------------------------------------------------------------------- references


def brute_force_route(problem: Problem, max_stops: int = 8) -> Plan:
    """The optimal single-van route by trying every order (n! of them: small cases only)."""
    n = problem.n_stops
    if n > max_stops:
        raise ValueError(f"{n} stops: brute force is for at most {max_stops}")
    best: tuple[int, ...] | None = None
    best_cost = math.inf
    for perm in itertools.permutations(range(1, n + 1)):
        cost = problem.route_minutes(perm)
        if cost < best_cost - 1e-12:
            best, best_cost = perm, cost
    assert best is not None
    if not problem.feasible(best):
        raise ValueError("no single-van route meets the capacity and time limit")
    return plan(problem, [best])


def ortools_routes(problem: Problem, vehicles: int, time_limit_s: int = 5, solution_limit: int = 100) -> Plan:
    """OR-Tools' routing solver as the reference for larger cases: capacity and route-minutes dimensions,
    cheapest-arc start then guided local search. One worker and a solution limit (reached before the time
    limit, which is only a safety cap) keep runs repeatable."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    problem.check()
    scale = 1000  # the solver wants integers: minutes in thousandths
    n = problem.n_stops + 1
    manager = pywrapcp.RoutingIndexManager(n, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    travel = np.rint((problem.minutes + problem.service_min * (np.arange(n) > 0)[:, None]) * scale).astype(
        int
    )
    travel_list = travel.tolist()

    def time_cb(from_index: int, to_index: int) -> int:
        return travel_list[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

    time_idx = routing.RegisterTransitCallback(time_cb)
    routing.SetArcCostEvaluatorOfAllVehicles(time_idx)
    horizon = (
        int(problem.max_route_min * scale) if math.isfinite(problem.max_route_min) else int(travel.sum()) + 1
    )
    routing.AddDimension(time_idx, 0, horizon, True, "Minutes")
    demand = [int(d) for d in problem.demand]
    demand_idx = routing.RegisterUnaryTransitCallback(lambda i: demand[manager.IndexToNode(i)])
    cap = min(problem.capacity, sum(demand))
    routing.AddDimensionWithVehicleCapacity(demand_idx, 0, [cap] * vehicles, True, "Load")

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.seconds = time_limit_s
    params.solution_limit = solution_limit
    solution = routing.SolveWithParameters(params)
    if solution is None:
        raise ValueError(f"OR-Tools found no solution with {vehicles} vans")
    routes = []
    for v in range(vehicles):
        index = routing.Start(v)
        route = []
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            if node:
                route.append(node)
            index = solution.Value(routing.NextVar(index))
        routes.append(route)
    return plan(problem, routes)


def saving(baseline: Plan, better: Plan) -> dict[str, float]:
    """Share of the baseline's km, minutes and driving minutes that `better` saves (0.2 = 20 % less)."""
    return {
        key: 1.0 - getattr(better, key) / getattr(baseline, key) if getattr(baseline, key) else 0.0
        for key in ("km", "minutes", "drive_minutes")
    }
