"""The delivery day on the map (python_jobs.geo.delivery) and the sprawl lab's network part: road-graph drive
times, the day's orders routed wave by wave, new stores sited by drive time."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from python_jobs.config import load_settings
from python_jobs.geo.delivery import Vans, day_orders, route_store_day
from python_jobs.geo.generate import GeoPaths, generate_metro
from python_jobs.geo.readers import read_vector
from python_jobs.geo.routing import DEFAULT_ACCESS_KMH, load_road_graph, road_minutes
from python_jobs.labs.sprawl_network import network_map, network_markdown, run_network

START = date(2026, 1, 5)


@pytest.fixture(scope="module")
def metro(tmp_path_factory: pytest.TempPathFactory) -> GeoPaths:
    return generate_metro(tmp_path_factory.mktemp("delivery") / "data", seed=42, size_px=128, years=(2020,))


def test_road_minutes_are_access_plus_the_fastest_path(metro: GeoPaths) -> None:
    roads = load_road_graph(metro.business)
    customers = read_vector(metro.business, "customers").good.iloc[:25]
    stores = read_vector(metro.business, "stores").good
    xy_c = shapely.get_coordinates(customers.to_crs(roads.crs).geometry.values)
    xy_s = shapely.get_coordinates(stores.to_crs(roads.crs).geometry.values)
    got = road_minutes(roads)(xy_c, xy_s)
    snap_c, snap_s = roads.snap(customers, "customer_id"), roads.snap(stores, "store_id")
    per_minute = DEFAULT_ACCESS_KMH * 1000 / 60
    for j, store in snap_s.iterrows():
        on_graph = nx.single_source_dijkstra_path_length(roads.graph, int(store.node), weight="minutes")
        want = [
            on_graph[int(c.node)] + c.snap_m / per_minute + store.snap_m / per_minute
            for c in snap_c.itertuples()
        ]
        np.testing.assert_allclose(got[:, j], want, rtol=1e-9)


def test_day_orders_are_the_generators_and_repeat() -> None:
    orders = day_orders(42, 1.0, START)
    assert orders.equals(day_orders(42, 1.0, START))
    assert orders["order_id"].is_unique and orders["store_id"].between(1, 12).all()
    assert orders["second_of_day"].between(0, 86_399).all()


def test_a_store_day_is_routed_wave_by_wave_with_every_order_accounted_for(metro: GeoPaths) -> None:
    roads = load_road_graph(metro.business)
    orders = day_orders(42, 1.0, START)
    mine = int((orders["store_id"] == 12).sum())
    # A tight route limit sets some stops aside: they are counted, not lost.
    waves = pd.DataFrame(route_store_day(roads, metro.business, orders, 12, Vans(max_route_min=12.0)))
    assert waves["orders"].sum() == mine
    assert (waves["set_aside"] >= 0).all()
    routed = waves[waves["orders"] > waves["set_aside"]]
    assert (routed["heuristic_km"] <= routed["naive_km"] + 1e-9).all()
    assert (routed["heuristic_min"] <= routed["naive_min"] + 1e-9).all()
    assert (routed["ortools_min"] > 0).all()


def test_the_network_part_of_the_lab_end_to_end(tmp_path: Path) -> None:
    settings = load_settings().at(tmp_path / "data")
    figures = run_network(settings, tmp_path, size_px=256, store_id=12)
    t = figures.totals
    assert t["orders"] == int(
        (day_orders(settings.seed, settings.scale, settings.start_date)["store_id"] == 12).sum()
    )
    assert t["km_saved"] > 0 and t["heuristic_min"] <= t["naive_min"]
    assert t["worst_small_gap"] <= 0.05
    s = figures.siting.set_index("method")
    assert s.loc["cpsat", "population_after"] >= s.loc["greedy", "population_after"] - 1e-6
    for row in s.itertuples():
        assert row.population_before <= row.population_after <= row.population
        assert row.orders_before <= row.orders_after <= row.orders
    assert (figures.hot_spots["clusters"] >= 0).all()
    text = network_markdown(figures)
    assert "OR-Tools" in text and "new stores" in text.lower()
    o = figures.orders_read
    assert 0 < o["rows_read"] < o["orders"] and o["bytes_read"] < o["bytes_total"]
    network_map(figures, tmp_path, tmp_path / "network.png")
    assert (tmp_path / "network.png").read_bytes()[:4] == b"\x89PNG"
