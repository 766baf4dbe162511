"""The sprawl lab's network part: the lab's delivery day routed over the roads, and where two new stores
would reach the most people within a drive time, on a region-sized metro.

Why a region: on the 15 km metro every home is within a few minutes of a store, so a 20-minute reach
covers everyone and siting has nothing to choose. The same generator at 2,048 pixels (61 km across) puts
the outer towns and farms beyond it, as in a real region.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely

from python_jobs.config import Settings
from python_jobs.geo import siting
from python_jobs.geo.crs import to_metric
from python_jobs.geo.delivery import Vans, day_orders, route_store_day, snapped_places
from python_jobs.geo.generate import GeoPaths, generate_metro
from python_jobs.geo.partition import read_bbox, write_partitioned
from python_jobs.geo.readers import read_vector
from python_jobs.geo.routing import (
    Problem,
    RoadGraph,
    brute_force_route,
    heuristic_routes,
    load_road_graph,
    road_minutes,
    travel_matrix,
)

DEFAULT_NETWORK_SIZE_PX = 2048
SMALL_CASES = 12
SMALL_CASE_STOPS = 8
DEFAULT_VANS = Vans()
# A thousand customers over a 61 km region are sparse: DBSCAN's default 150 m radius calls every one noise.
# 1.2 km and 5 neighbours find the towns' clusters; HDBSCAN needs no radius at all.
HOT_SPOT_EPS_M = 1_200.0
ORDERS_BOX_M = 5_000.0  # a 5 km square around the store: "the day's orders near this store"
HOT_SPOT_MIN_SAMPLES = 5


@dataclass(frozen=True)
class NetworkFigures:
    size_px: int
    store_id: int
    waves: pd.DataFrame  # one row per wave: naive, heuristic and OR-Tools totals
    small_cases: pd.DataFrame  # heuristic against brute force on 8-stop samples of the day
    siting: pd.DataFrame  # method, sites, population / customers / orders within reach before and after
    hot_spots: pd.DataFrame  # DBSCAN and HDBSCAN on the customers: clusters, noise
    orders_read: dict  # the day's orders as partitioned GeoParquet, and one bbox read around the store

    @property
    def totals(self) -> dict[str, float]:
        w = self.waves.sum(numeric_only=True)
        return {
            "orders": int(w["orders"]),
            "set_aside": int(w["set_aside"]),
            "naive_km": float(w["naive_km"]),
            "heuristic_km": float(w["heuristic_km"]),
            "ortools_km": float(w["ortools_km"]),
            "naive_min": float(w["naive_min"]),
            "heuristic_min": float(w["heuristic_min"]),
            "ortools_min": float(w["ortools_min"]),
            "km_saved": 1.0 - float(w["heuristic_km"]) / float(w["naive_km"]),
            "min_saved": 1.0 - float(w["heuristic_min"]) / float(w["naive_min"]),
            "over_ortools": float(w["heuristic_min"]) / float(w["ortools_min"]) - 1.0,
            "worst_small_gap": float(self.small_cases["gap"].max()),
        }


def run_network(
    settings: Settings,
    out_dir: Path,
    *,
    size_px: int = DEFAULT_NETWORK_SIZE_PX,
    store_id: int | None = None,
    new_sites: int = 2,
    max_minutes: float = siting.DEFAULT_MAX_MINUTES,
    vans: Vans = DEFAULT_VANS,
) -> NetworkFigures:
    """Generate the region (seeded), route the busiest store's day (or `store_id`'s) and site new stores."""
    # The region's customers come from the same seed, scale and start date as the orders routed on it.
    paths = generate_metro(settings.at(out_dir / "data"), size_px=size_px, years=(2020,))
    roads = load_road_graph(paths.business)
    orders = day_orders(settings.seed, settings.scale, settings.start_date)
    store = store_id if store_id is not None else int(orders["store_id"].value_counts().idxmax())
    waves = pd.DataFrame([asdict(w) for w in route_store_day(roads, paths.business, orders, store, vans)])
    small = _small_cases(roads, paths, orders, store, settings.seed)
    site_rows, hot = _siting(paths, roads, orders, new_sites, max_minutes)
    orders_read = _orders_geoparquet(paths, roads, orders, store, out_dir / "orders_by_cell")
    return NetworkFigures(size_px, store, waves, small, site_rows, hot, orders_read)


def _orders_geoparquet(
    paths: GeoPaths, roads: RoadGraph, orders: pd.DataFrame, store: int, root: Path
) -> dict:
    """The day's orders at their customers' points, written as quadkey-partitioned GeoParquet, then read back
    for a box of ORDERS_BOX_M around the store: the files, row groups and bytes the box touched, and a check
    that it returned exactly the orders inside it."""
    customers = to_metric(read_vector(paths.business, "customers").good, roads.crs)
    located = customers[["customer_id", "geometry"]].merge(orders, on="customer_id")
    written = write_partitioned(located, root, level=3, row_group_size=64)
    stores = to_metric(read_vector(paths.business, "stores").good, roads.crs)
    point = stores.loc[stores["store_id"] == store, "geometry"].iloc[0]
    half = ORDERS_BOX_M / 2
    box = (point.x - half, point.y - half, point.x + half, point.y + half)
    read = read_bbox(root, box)
    xy = shapely.get_coordinates(located.geometry.values)
    inside = (xy[:, 0] >= box[0]) & (xy[:, 0] <= box[2]) & (xy[:, 1] >= box[1]) & (xy[:, 1] <= box[3])
    got = sorted(read.rows["order_id"].tolist())
    if got != sorted(located.loc[inside, "order_id"].tolist()):
        raise RuntimeError("the bbox read did not return exactly the orders inside its box")
    return {
        "orders": len(located),
        "files": written.files,
        "row_groups": written.row_groups,
        "box_km": ORDERS_BOX_M / 1000,
        "rows_read": len(got),
        "files_read": read.files_read,
        "row_groups_read": read.row_groups_read,
        "bytes_read": read.bytes_read,
        "bytes_total": read.bytes_total,
    }


def _small_cases(
    roads: RoadGraph, paths: GeoPaths, orders: pd.DataFrame, store: int, seed: int
) -> pd.DataFrame:
    """Seeded 8-stop samples of the store's day, one van: the heuristic against the proven optimum."""
    depot, node_of = snapped_places(roads, paths.business, store)
    nodes = node_of.loc[orders.loc[orders["store_id"] == store, "customer_id"]].to_numpy()
    gen = np.random.default_rng(seed)
    rows = []
    for case in range(SMALL_CASES):
        pick = gen.choice(len(nodes), size=min(SMALL_CASE_STOPS, len(nodes)), replace=False)
        m = travel_matrix(roads.graph, depot, nodes[np.sort(pick)].tolist())
        problem = Problem(m.minutes, m.km, np.concatenate([[0], np.ones(len(pick), dtype=np.int64)]))
        best, found = brute_force_route(problem), heuristic_routes(problem)
        rows.append(
            {
                "case": case,
                "stops": len(pick),
                "optimum_min": best.minutes,
                "heuristic_min": found.minutes,
                "gap": found.minutes / best.minutes - 1.0,
            }
        )
    return pd.DataFrame(rows)


def _siting(
    paths: GeoPaths, roads: RoadGraph, orders: pd.DataFrame, k: int, max_minutes: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    tracts = read_vector(paths.tracts).good
    stores = read_vector(paths.business, "stores").good
    customers = read_vector(paths.business, "customers").good
    travel = road_minutes(roads)
    # The day's orders per customer and who is within reach today do not depend on the method: computed once.
    per_customer = orders["customer_id"].value_counts()
    weights = customers["customer_id"].map(per_customer).fillna(0).to_numpy(dtype=float)
    cust_xy = shapely.get_coordinates(to_metric(customers, roads.crs).geometry.values)
    store_xy = shapely.get_coordinates(to_metric(stores, roads.crs).geometry.values)
    before = (travel(cust_xy, store_xy) <= max_minutes).any(axis=1)
    rows = []
    for method in ("greedy", "cpsat"):
        result = siting.site_new_stores(
            tracts,
            stores,
            k,
            customers=customers,
            max_minutes=max_minutes,
            travel_minutes=travel,
            method=method,
        )
        site_xy = shapely.get_coordinates(result.sites.to_crs(roads.crs).geometry.values)
        after = before | (travel(cust_xy, site_xy) <= max_minutes).any(axis=1)
        rows.append(
            {
                "method": method,
                "max_minutes": max_minutes,
                "new_sites": k,
                "candidates": result.sites["candidate"].tolist(),
                "population": result.population_before.total,
                "population_before": result.population_before.covered,
                "population_after": result.population_after.covered,
                "customers": result.customers_before.total,
                "customers_before": result.customers_before.covered,
                "customers_after": result.customers_after.covered,
                "orders": float(weights.sum()),
                "orders_before": float(weights[before].sum()),
                "orders_after": float(weights[after].sum()),
            }
        )
    hot = []
    for method in ("dbscan", "hdbscan"):
        spots = siting.find_hot_spots(
            customers, method, eps_m=HOT_SPOT_EPS_M, min_samples=HOT_SPOT_MIN_SAMPLES
        )
        hot.append({"method": method, "clusters": len(spots.clusters), "noise": spots.noise})
    hot_frame = pd.DataFrame(hot)
    hot_frame["points"] = len(customers)
    return pd.DataFrame(rows), hot_frame


def network_map(figures: NetworkFigures, out_dir: Path, path: Path) -> None:
    """Tract population density, the roads, the stores and the chosen new sites."""
    data = out_dir / "data" / "landing" / "geo"
    tracts = to_metric(read_vector(data / "tracts.gpkg").good)
    roads = read_vector(data / "business.gpkg", "roads").good.to_crs(tracts.crs)
    stores = read_vector(data / "business.gpkg", "stores").good.to_crs(tracts.crs)
    chosen = figures.siting.iloc[-1]["candidates"]
    sites = tracts.iloc[chosen].geometry.representative_point()
    fig, ax = plt.subplots(figsize=(7, 7))
    density = tracts["pop_2020"] / (tracts.geometry.area / 1e6)
    tracts.assign(density=density).plot(
        column="density",
        cmap="Greys",
        ax=ax,
        linewidth=0,
        legend=True,
        legend_kwds={"label": "people per km² (2020)", "shrink": 0.6},
    )
    roads.plot(ax=ax, color="tab:orange", linewidth=1)
    stores.plot(ax=ax, color="tab:blue", markersize=30, label="stores")
    ax.scatter(sites.x, sites.y, marker="*", s=220, color="tab:red", label="new sites (CP-SAT)")
    ax.set_title(f"region {figures.size_px} px: where {len(chosen)} new stores reach the most people")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def network_markdown(figures: NetworkFigures) -> str:
    t = figures.totals
    s = figures.siting.set_index("method")
    lines = [
        "## The delivery day on the roads",
        "",
        f"Store {figures.store_id}'s orders of the lab's day ({t['orders']} delivered, {t['set_aside']} set "
        f"aside beyond a van's reach), in waves, on the {figures.size_px}-pixel region:",
        "",
        "| plan | km | minutes (driving + 3 min a stop) | vans |",
        "|---|---:|---:|---:|",
        f"| naive (arrival order) | {t['naive_km']:.1f} | {t['naive_min']:.1f} | "
        f"{int(figures.waves['naive_vans'].sum())} |",
        f"| our heuristic | {t['heuristic_km']:.1f} | {t['heuristic_min']:.1f} | "
        f"{int(figures.waves['heuristic_vans'].sum())} |",
        f"| OR-Tools (guided local search) | {t['ortools_km']:.1f} | {t['ortools_min']:.1f} | |",
        "",
        f"The heuristic saves **{t['km_saved']:.1%} of the km** and {t['min_saved']:.1%} of the minutes "
        f"against the naive route, and takes {t['over_ortools']:+.1%} of OR-Tools' minutes. On "
        f"{len(figures.small_cases)} seeded {SMALL_CASE_STOPS}-stop cases its worst gap to the brute-force "
        f"optimum is {t['worst_small_gap']:.1%}.",
        "",
        "## New stores within a drive time",
        "",
        "| method | population within reach | customers | the day's orders |",
        "|---|---:|---:|---:|",
    ]
    for method, row in s.iterrows():
        lines.append(
            f"| {method}, +{row['new_sites']} sites, {row['max_minutes']:.0f} min | "
            f"{row['population_before']:,.0f} → {row['population_after']:,.0f} of {row['population']:,.0f} | "
            f"{row['customers_before']:,.0f} → {row['customers_after']:,.0f} of {row['customers']:,.0f} | "
            f"{row['orders_before']:,.0f} → {row['orders_after']:,.0f} of {row['orders']:,.0f} |"
        )
    o = figures.orders_read
    lines += [
        "",
        "## The day's orders as partitioned GeoParquet",
        "",
        f"The day's {o['orders']:,} orders at their customers' points, by quadkey cell: {o['files']} files, "
        f"{o['row_groups']} row groups. A {o['box_km']:g} km box around store {figures.store_id} read "
        f"{o['files_read']} files and {o['row_groups_read']} row groups, {o['bytes_read']:,} of "
        f"{o['bytes_total']:,} bytes ({o['bytes_read'] / o['bytes_total']:.1%}), and returned exactly the "
        f"{o['rows_read']:,} orders inside it.",
    ]
    hot = figures.hot_spots
    lines += [
        "",
        "Hot spots of the customers: "
        + "; ".join(
            f"{r.method} {r.clusters} clusters, {r.noise} of {r.points} points noise"
            for r in hot.itertuples()
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"
