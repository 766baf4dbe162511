"""Delivery routing (python_jobs.geo.routing): the road graph, the travel matrix, the heuristic against the
optimum (brute force, OR-Tools) and against the naive arrival-order route."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point

from python_jobs.geo.generate import GeoPaths, generate_metro
from python_jobs.geo.readers import read_vector
from python_jobs.geo.routing import (
    Plan,
    Problem,
    brute_force_route,
    build_road_graph,
    heuristic_routes,
    load_road_graph,
    minutes_matrix,
    naive_routes,
    ortools_routes,
    saving,
    travel_matrix,
)

UTM = "EPSG:32633"


@pytest.fixture(scope="module")
def metro(tmp_path_factory: pytest.TempPathFactory) -> GeoPaths:
    return generate_metro(tmp_path_factory.mktemp("geo") / "data", seed=42, size_px=128, years=(2020,))


def _roads(lines: list[LineString], speeds: list[float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"speed_kmh": speeds}, geometry=lines, crs=UTM)


def _square() -> gpd.GeoDataFrame:
    """A 1 km square at 60 km/h (1 minute a side) with slow crossing diagonals, plus a stray road."""
    a, b, c, d = (500_000, 5_800_000), (500_000, 5_801_000), (501_000, 5_801_000), (501_000, 5_800_000)
    lines = [
        LineString([a, b, c, d, a]),
        LineString([a, c]),
        LineString([b, d]),
        LineString([(510_000, 5_810_000), (510_500, 5_810_000)]),
    ]
    return _roads(lines, [60, 6, 6, 60])


def _check_plan(problem: Problem, result: Plan) -> None:
    """Every stop exactly once; no route over capacity or the time limit; totals add up."""
    visited = sorted(s for r in result.routes for s in r)
    assert visited == list(range(1, problem.n_stops + 1))
    for route in result.routes:
        assert problem.route_load(route) <= problem.capacity
        assert problem.route_minutes(route) <= problem.max_route_min + 1e-6
    assert result.minutes == pytest.approx(sum(problem.route_minutes(r) for r in result.routes))
    assert result.km == pytest.approx(sum(problem.route_km(r) for r in result.routes))


def _random_problem(seed: int, n: int, **limits: float) -> Problem:
    """Stops in a 6 km square; road km = straight km x 1.3, driven at 30 km/h."""
    gen = np.random.default_rng(seed)
    xy = gen.uniform(0, 6, (n + 1, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) * 1.3
    demand = np.concatenate([[0], gen.integers(1, 5, n)])
    return Problem(km / 30 * 60, km, demand, **limits)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- the graph


def test_hand_made_graph_nodes_crossings_and_drops_the_stray_road() -> None:
    rg = build_road_graph(_square(), crs=UTM)
    g = rg.graph
    # 4 corners + the diagonals' crossing: noding connected the diagonals mid-segment.
    assert g.number_of_nodes() == 5 and nx.is_connected(g)
    assert (rg.nodes_before, rg.dropped_nodes) == (7, 2)
    centre = next(n for n in g if (g.nodes[n]["x"], g.nodes[n]["y"]) == (500_500, 5_800_500))
    assert g.degree[centre] == 4
    side = next(e for e in g.edges(data=True) if e[2]["length_m"] == pytest.approx(1000))
    assert side[2]["minutes"] == pytest.approx(1.0)


def test_touching_lines_connect_within_the_snap_tolerance() -> None:
    x, y = 500_000.0, 5_800_000.0
    gap = _roads(
        [LineString([(x, y), (x + 100, y)]), LineString([(x + 100.3, y + 0.2), (x + 200, y)])], [36, 36]
    )
    assert build_road_graph(gap, snap_m=1.0, crs=UTM).dropped_nodes == 0  # a 0.4 m gap closes at 1 m
    assert build_road_graph(gap, snap_m=0.01, crs=UTM).dropped_nodes == 2  # and stays open at 1 cm


def test_metro_graph_is_connected_and_points_snap_to_it(metro: GeoPaths) -> None:
    rg = load_road_graph(metro.business)
    g = rg.graph
    assert nx.is_connected(g) and g.number_of_nodes() > 50
    assert rg.nodes_before == g.number_of_nodes() + rg.dropped_nodes
    assert all(d["minutes"] > 0 and d["length_m"] > 0 for *_, d in g.edges(data=True))
    customers = read_vector(metro.business, "customers").good
    snapped = rg.snap(customers, "customer_id")
    assert len(snapped) == len(customers) and snapped["node"].isin(list(g.nodes)).all()
    # The reported distance is the distance to that node, and no node is nearer.
    metric = customers.to_crs(rg.crs).set_index("customer_id").geometry
    nodes = shapely.points([(g.nodes[n]["x"], g.nodes[n]["y"]) for n in g])
    for row in snapped.sample(25, random_state=0).itertuples():
        node = g.nodes[row.node]
        assert metric[row.customer_id].distance(Point(node["x"], node["y"])) == pytest.approx(row.snap_m)
        assert shapely.distance(metric[row.customer_id], nodes).min() == pytest.approx(row.snap_m)


def test_travel_matrix_takes_the_fast_way_round() -> None:
    g = build_road_graph(_square(), crs=UTM).graph
    corner = {(g.nodes[n]["x"], g.nodes[n]["y"]): n for n in g}
    a, b, c, d = (
        corner[p]
        for p in [(500_000, 5_800_000), (500_000, 5_801_000), (501_000, 5_801_000), (501_000, 5_800_000)]
    )
    m = travel_matrix(g, a, [b, c, d])
    # A to C: 2 minutes round the square, not 14 down the slow diagonal.
    assert m.minutes[0, 2] == pytest.approx(2.0) and m.km[0, 2] == pytest.approx(2.0)
    assert np.allclose(m.minutes, m.minutes.T) and np.allclose(m.minutes, minutes_matrix(g, a, [b, c, d]))
    problem = Problem(m.minutes, m.km, np.array([0, 1, 1, 1]))
    best = heuristic_routes(problem)
    assert best.minutes == pytest.approx(4.0) and best.routes[0] in {(1, 2, 3), (3, 2, 1)}
    naive = naive_routes(problem, [2, 1, 3])  # C, B, D: 2 + 1 + 2 + 1
    assert naive.minutes == pytest.approx(6.0)
    assert brute_force_route(problem).minutes == pytest.approx(4.0)


# -------------------------------------------------------------------------------------------- the routing


@pytest.mark.parametrize("seed", range(12))
def test_heuristic_within_5_percent_of_brute_force(seed: int) -> None:
    problem = _random_problem(seed, n=5 + seed % 4)
    optimum = brute_force_route(problem)
    found = heuristic_routes(problem)
    _check_plan(problem, found)
    assert found.minutes <= optimum.minutes * 1.05 + 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_capacity_and_time_limits_hold(seed: int) -> None:
    problem = _random_problem(100 + seed, n=25, capacity=12, max_route_min=60.0, service_min=3.0)
    order = list(np.random.default_rng(seed).permutation(np.arange(1, 26)))
    plans = [heuristic_routes(problem), naive_routes(problem, order), ortools_routes(problem, vehicles=10)]
    for result in plans:
        _check_plan(problem, result)
    assert len(plans[0].routes) > 1  # the limits bite: one van cannot do it
    assert plans[0].minutes < plans[1].minutes


def test_a_stop_no_van_can_serve_is_rejected() -> None:
    problem = _random_problem(1, n=4, capacity=0)
    with pytest.raises(ValueError, match="alone exceeds"):
        heuristic_routes(problem)


def test_heuristic_beats_the_naive_route_on_a_metro_day(metro: GeoPaths) -> None:
    rg = load_road_graph(metro.business)
    stores = read_vector(metro.business, "stores").good
    customers = read_vector(metro.business, "customers").good
    store = rg.snap(stores, "store_id").iloc[0]
    snapped = rg.snap(customers, "customer_id")
    # The day's stops: 20 seeded customers among those on the 40 road nodes nearest (by minutes) the store.
    reach = nx.single_source_dijkstra_path_length(rg.graph, int(store.node), weight="minutes")
    near = sorted((n for n in set(snapped["node"]) if n != store.node), key=lambda n: reach[n])[:40]
    gen = np.random.default_rng(7)
    pool = snapped[snapped["node"].isin(near)].drop_duplicates("node")
    day = pool.iloc[gen.choice(len(pool), size=20, replace=False)]
    m = travel_matrix(rg.graph, int(store.node), day["node"].tolist())
    demand = np.concatenate([[0], gen.integers(1, 6, len(day))])
    problem = Problem(m.minutes, m.km, demand, capacity=20, max_route_min=45.0, service_min=3.0)
    arrival = list(gen.permutation(np.arange(1, len(day) + 1)))  # order_id order
    naive = naive_routes(problem, arrival)
    found = heuristic_routes(problem)
    reference = ortools_routes(problem, vehicles=len(naive.routes))
    for result in (naive, found, reference):
        _check_plan(problem, result)
    cut = saving(naive, found)
    print(
        f"\nmetro day: naive {naive.km:.1f} km {naive.minutes:.1f} min {len(naive.routes)} vans; "
        f"heuristic {found.km:.1f} km {found.minutes:.1f} min {len(found.routes)} vans "
        f"(saves {cut['km']:.0%} km, {cut['minutes']:.0%} min, {cut['drive_minutes']:.0%} driving min); "
        f"OR-Tools {reference.km:.1f} km {reference.minutes:.1f} min; "
        f"heuristic/OR-Tools {found.minutes / reference.minutes:.3f}"
    )
    assert found.minutes < naive.minutes and found.km < naive.km
    assert cut["drive_minutes"] >= 0.15
    assert found.minutes <= reference.minutes * 1.10
    assert math.isfinite(found.minutes)


def test_the_same_inputs_give_the_same_plans(tmp_path: Path) -> None:
    problem = _random_problem(3, n=15, capacity=10, max_route_min=50.0)
    assert heuristic_routes(problem) == heuristic_routes(problem)
    assert ortools_routes(problem, vehicles=6) == ortools_routes(problem, vehicles=6)
