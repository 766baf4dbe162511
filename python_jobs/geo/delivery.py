"""A real delivery day on the map: the generator's orders of a day, routed wave by wave from their store.

The orders are the ones the landing extracts carry (regenerated from the same seed, scale and start date, so
nothing is read from a pipeline run), placed at their customers' points of the metro's `customers` layer. A
store sends its vans out in waves: the orders placed in each `wave_hours` slot leave together. Each wave is
routed three ways, naive (arrival order), our heuristic and OR-Tools, and a stop no van can reach within the
route limit is set aside with its reason, so orders in = routed + set aside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from python_jobs.generate.orders import CANCELLED, market, new_orders
from python_jobs.generate.world import replay
from python_jobs.geo.readers import read_vector
from python_jobs.geo.routing import (
    Problem,
    RoadGraph,
    heuristic_routes,
    naive_routes,
    ortools_routes,
    travel_matrix,
)


@dataclass(frozen=True)
class Vans:
    """The fleet's limits: orders a van carries, minutes a route may take, minutes spent at each door."""

    capacity: int = 12
    max_route_min: float = 90.0
    service_min: float = 3.0
    wave_hours: int = 2


def day_orders(seed: int, scale: float, start: date, day: int = 1) -> pd.DataFrame:
    """The day's new orders as the generator writes them (cancelled ones dropped: nothing to deliver)."""
    state = replay(seed, scale, start, day)[-1]
    chunks = list(new_orders(seed, day, state.when, scale, market(state.customers, state.stores, day)))
    frame = pd.DataFrame(
        {
            "order_id": np.concatenate([c.order_id for c in chunks]),
            "customer_id": np.concatenate([c.customer_id for c in chunks]),
            "store_id": np.concatenate([c.store_id for c in chunks]),
            "second_of_day": np.concatenate([c.order_ts for c in chunks]) % 86_400,
            "status": np.concatenate([c.status for c in chunks]),
        }
    )
    return frame[frame["status"] != CANCELLED].drop(columns="status").reset_index(drop=True)


@dataclass(frozen=True)
class WaveResult:
    store_id: int
    wave: int  # first hour of the slot
    orders: int
    set_aside: int  # stops no van could reach and return from within the route limit
    naive_km: float
    naive_min: float
    naive_vans: int
    heuristic_km: float
    heuristic_min: float
    heuristic_vans: int
    ortools_km: float
    ortools_min: float


def snapped_places(roads: RoadGraph, business_gpkg: Path | str, store_id: int) -> tuple[int, pd.Series]:
    """The store's road-graph node (the depot) and every customer's node, indexed by customer_id."""
    stores = read_vector(business_gpkg, "stores").good
    customers = read_vector(business_gpkg, "customers").good
    depot = int(roads.snap(stores[stores["store_id"] == store_id], "store_id")["node"].iloc[0])
    return depot, roads.snap(customers, "customer_id").set_index("customer_id")["node"]


def route_store_day(
    roads: RoadGraph, business_gpkg: Path | str, orders: pd.DataFrame, store_id: int, vans: Vans = Vans()
) -> list[WaveResult]:
    """Route one store's orders of the day, wave by wave; one row per wave with the three plans' totals."""
    depot, node_of = snapped_places(roads, business_gpkg, store_id)
    mine = orders[orders["store_id"] == store_id].sort_values("order_id")
    missing = set(mine["customer_id"]) - set(node_of.index)
    if missing:
        raise ValueError(f"{len(missing)} ordering customers have no point on the map, e.g. {min(missing)}")
    results = []
    for wave, group in mine.groupby(mine["second_of_day"] // 3600 // vans.wave_hours * vans.wave_hours):
        results.append(_route_wave(roads, depot, node_of, store_id, int(wave), group, vans))
    return results


def _route_wave(
    roads: RoadGraph,
    depot: int,
    node_of: pd.Series,
    store_id: int,
    wave: int,
    group: pd.DataFrame,
    vans: Vans,
) -> WaveResult:
    nodes = node_of.loc[group["customer_id"]].to_numpy()
    m = travel_matrix(roads.graph, depot, nodes.tolist())
    alone = m.minutes[0, 1:] + m.minutes[1:, 0] + vans.service_min
    reachable = np.flatnonzero(alone <= vans.max_route_min) + 1
    if len(reachable) == 0:
        return WaveResult(store_id, wave, len(group), len(group), 0.0, 0.0, 0, 0.0, 0.0, 0, 0.0, 0.0)
    keep = np.concatenate([[0], reachable])
    problem = Problem(
        m.minutes[np.ix_(keep, keep)],
        m.km[np.ix_(keep, keep)],
        np.concatenate([[0], np.ones(len(reachable), dtype=np.int64)]),
        capacity=vans.capacity,
        max_route_min=vans.max_route_min,
        service_min=vans.service_min,
    )
    naive = naive_routes(problem)  # rows are in order_id order: the order of arrival
    found = heuristic_routes(problem)
    reference = ortools_routes(problem, vehicles=len(naive.routes))
    return WaveResult(
        store_id,
        wave,
        len(group),
        len(group) - len(reachable),
        naive.km,
        naive.minutes,
        len(naive.routes),
        found.km,
        found.minutes,
        len(found.routes),
        reference.km,
        reference.minutes,
    )
