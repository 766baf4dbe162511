"""Vector patterns (python_jobs.geo.vector, python_jobs.geo.duckdb_spatial) on a small seeded metro.

Point in polygon accounts for every row; sjoin, a naive loop, STRtree and DuckDB (with and without an R-tree)
give the same (point, polygon) pairs; the area-weighted overlay gives a hand-computed answer; the nearest store
matches brute force.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from python_jobs.geo import duckdb_spatial
from python_jobs.geo import vector as v
from python_jobs.geo.crs import to_metric
from python_jobs.geo.generate import GeoPaths, generate_metro
from python_jobs.geo.readers import read_vector

SIZE = 128
UTM = "EPSG:32633"


@pytest.fixture(scope="module")
def metro(tmp_path_factory: pytest.TempPathFactory) -> GeoPaths:
    return generate_metro(tmp_path_factory.mktemp("geo") / "data", seed=42, size_px=SIZE, years=(2020,))


@pytest.fixture(scope="module")
def layers(metro: GeoPaths) -> dict[str, gpd.GeoDataFrame]:
    """Tracts, zones, customers and stores, all in the tracts' metric CRS."""
    tracts = to_metric(read_vector(metro.tracts).good)
    out = {"tracts": tracts}
    for name in ("delivery_zones", "customers", "stores"):
        out[name] = read_vector(metro.business, name).good.to_crs(tracts.crs)
    return out


def _dirty_customers(metro: GeoPaths, folder: Path) -> tuple[Path, dict[str, int]]:
    """The customers layer plus a point far outside the metro, an empty point and a null geometry."""
    customers = pyogrio.read_dataframe(metro.business, layer="customers")
    top = int(customers["customer_id"].max())
    ids = {"outside": top + 1, "empty": top + 2, "null": top + 3}
    extra = gpd.GeoDataFrame(
        {"customer_id": list(ids.values()), "city": ["nowhere"] * 3},
        geometry=[shapely.Point(0.0, 0.0), shapely.Point(), None],
        crs=customers.crs,
    )
    path = folder / "dirty.gpkg"
    pyogrio.write_dataframe(pd.concat([customers, extra], ignore_index=True), path, layer="customers")
    return path, ids


@pytest.mark.parametrize(
    ("source", "layer", "key"), [("tracts", "tracts", "tract_id"), ("business", "delivery_zones", "store_id")]
)
def test_point_in_polygon_accounts_for_every_row(
    metro: GeoPaths, tmp_path: Path, source: str, layer: str, key: str
) -> None:
    dirty, ids = _dirty_customers(metro, tmp_path)
    result = v.customers_in_polygons(dirty, getattr(metro, source), layer, polygon_cols=[key])
    counts = result.counts
    assert counts["rows_in"] == len(pyogrio.read_dataframe(dirty, layer="customers"))
    assert result.balanced(), counts
    assert counts["joined_points"] > 0.9 * counts["rows_in"]
    assert ids["outside"] in set(result.unmatched["customer_id"])
    assert set(result.quarantined["customer_id"]) == {ids["empty"], ids["null"]}
    assert result.quarantined["reason"].str.contains("missing or empty").all()
    # One metric CRS, and the polygon's key on every joined row.
    assert result.joined.crs.is_projected and result.joined.crs == result.unmatched.crs
    assert result.joined[key].notna().all()
    if layer == "tracts":  # tracts partition the metro: each joined customer is in exactly one tract
        assert counts["pairs"] == counts["joined_points"]


def test_point_in_polygon_quarantines_invalid_and_non_points() -> None:
    square = shapely.box(0, 0, 10, 10)
    polygons = gpd.GeoDataFrame({"pid": [1]}, geometry=[square], crs=UTM)
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # self-intersecting
    points = gpd.GeoDataFrame(
        {"id": [1, 2, 3, 4, 5, 6]},
        geometry=[
            shapely.Point(5, 5),  # joined
            shapely.Point(50, 50),  # outside: unmatched
            shapely.Point(10, 5),  # on the boundary: not within, unmatched
            None,
            shapely.Point(),
            bowtie,
        ],
        crs=UTM,
    )
    result = v.points_in_polygons(points, polygons)
    assert result.joined["id"].tolist() == [1]
    assert sorted(result.unmatched["id"]) == [2, 3]
    reasons = dict(zip(result.quarantined["id"], result.quarantined["reason"], strict=True))
    assert reasons == {4: "missing geometry", 5: "empty geometry", 6: "geometry type Polygon, expected Point"}
    assert result.balanced() and result.rows_in == 6
    # An invalid polygon is quarantined on the polygon side, not silently matched against.
    bad_polys = gpd.GeoDataFrame({"pid": [1, 2]}, geometry=[square, bowtie], crs=UTM)
    assert v.points_in_polygons(points, bad_polys).counts["polygons_quarantined"] == 1


def _with_vertex_points(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Customers plus one point on a vertex of each of the first polygons: on a boundary, within none."""
    vertices = [shapely.Point(shapely.get_coordinates(g.exterior)[0]) for g in polygons.geometry.iloc[:5]]
    top = int(points["customer_id"].max())
    extra = gpd.GeoDataFrame(
        {"customer_id": np.arange(top + 1, top + 1 + len(vertices))}, geometry=vertices, crs=points.crs
    )
    return pd.concat([points[["customer_id", "geometry"]], extra], ignore_index=True)


@pytest.mark.parametrize(("layer", "key"), [("tracts", "tract_id"), ("delivery_zones", "store_id")])
def test_four_ways_give_identical_pairs(layers: dict[str, gpd.GeoDataFrame], layer: str, key: str) -> None:
    polygons = layers[layer]
    if polygons.geometry.geom_type.iloc[0] == "MultiPolygon":
        polygons = polygons.explode(index_parts=False)
    points = _with_vertex_points(layers["customers"], layers[layer].explode(index_parts=False))
    expected = v.pairs_sjoin(points, polygons, "customer_id", key)
    assert len(expected) > 0.9 * len(layers["customers"])
    assert v.pairs_strtree(points, polygons, "customer_id", key) == expected
    assert v.pairs_duckdb(points, polygons, "customer_id", key, rtree=False) == expected
    assert v.pairs_duckdb(points, polygons, "customer_id", key, rtree=True) == expected
    # The naive loop is O(points x polygons) Python calls: compare on a sample that keeps the vertex points.
    sample = pd.concat([v.sample_points(points.iloc[:-5], 150, seed=1), points.iloc[-5:]])
    ids = set(sample["customer_id"])
    assert v.pairs_naive(sample, polygons, "customer_id", key) == [p for p in expected if p[0] in ids]
    vertex_ids = set(points["customer_id"].iloc[-5:])
    assert not vertex_ids & {p for p, _ in expected}


def test_duckdb_rtree_index_is_created(layers: dict[str, gpd.GeoDataFrame]) -> None:
    con = duckdb_spatial.connect()
    try:
        duckdb_spatial.load_geometries(con, "polygons", layers["tracts"], "tract_id")
        assert duckdb_spatial.rtree_indexes(con, "polygons") == []
        name = duckdb_spatial.create_rtree(con, "polygons")
        assert duckdb_spatial.rtree_indexes(con, "polygons") == [name]
        pairs = duckdb_spatial.point_polygon_pairs(
            layers["customers"], layers["tracts"], "customer_id", "tract_id"
        )
        assert pairs == v.pairs_sjoin(layers["customers"], layers["tracts"], "customer_id", "tract_id")
    finally:
        con.close()


def test_timing_helper_reports_seconds_per_method(layers: dict[str, gpd.GeoDataFrame]) -> None:
    seconds = v.time_methods(
        layers["customers"],
        layers["tracts"],
        "customer_id",
        "tract_id",
        methods=["sjoin", "naive", "strtree"],
    )
    assert set(seconds) == {"sjoin", "naive[200]", "strtree"}
    assert all(s >= 0 for s in seconds.values())  # the values are for the benchmark, not asserted here


def test_area_weighted_population_hand_made() -> None:
    # Tract A (100x100, 1000 people) is split 50/50 by zones Z1 and Z2; tract B (500 people) lies in Z2;
    # tract C (400 people) is covered only on its left quarter by Z3, so only 100 of its people are assigned.
    tracts = gpd.GeoDataFrame(
        {"tract_id": ["A", "B", "C"], "pop": [1000.0, 500.0, 400.0]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100), shapely.box(0, 100, 100, 200)],
        crs=UTM,
    )
    zones = gpd.GeoDataFrame(
        {"zone": [1, 2, 3]},
        geometry=[shapely.box(0, 0, 50, 100), shapely.box(50, 0, 200, 100), shapely.box(0, 100, 25, 200)],
        crs=UTM,
    )
    pieces = v.area_weighted_population(tracts, zones, tract_id="tract_id", zone_id="zone", pop_col="pop")
    got = {(t, z): p for t, z, p in zip(pieces["tract_id"], pieces["zone"], pieces["pop"], strict=True)}
    assert got == pytest.approx({("A", 1): 500.0, ("A", 2): 500.0, ("B", 2): 500.0, ("C", 3): 100.0})
    per_tract = pieces.groupby("tract_id")["pop"].sum()
    assert per_tract["A"] == pytest.approx(1000.0) and per_tract["B"] == pytest.approx(500.0)
    assert v.population_per_zone(pieces, "zone", "pop").to_dict() == pytest.approx(
        {1: 500.0, 2: 1000.0, 3: 100.0}
    )
    with pytest.raises(ValueError, match="projected"):
        v.area_weighted_population(
            tracts.to_crs(4326), zones.to_crs(4326), tract_id="tract_id", zone_id="zone", pop_col="pop"
        )


def test_area_weighted_population_on_the_metro(layers: dict[str, gpd.GeoDataFrame]) -> None:
    tracts, zones = layers["tracts"], layers["delivery_zones"]
    pieces = v.area_weighted_population(
        tracts, zones, tract_id="tract_id", zone_id="store_id", pop_col="pop_2020"
    )
    per_tract = pieces.groupby("tract_id")["pop_2020"].sum()
    total = tracts.set_index("tract_id")["pop_2020"]
    # Never more people than the tract has; exactly its people where the zones cover the whole tract.
    assert (per_tract <= total.loc[per_tract.index] * (1 + 1e-9)).all()
    covered = tracts[tracts.geometry.difference(zones.union_all()).area < 1e-6]["tract_id"]
    assert len(covered) > 0
    assert per_tract.loc[covered].to_numpy() == pytest.approx(total.loc[covered].to_numpy())


def test_nearest_store_matches_brute_force(metro: GeoPaths) -> None:
    customers = read_vector(metro.business, "customers").good  # EPSG:4326: nearest_store goes metric itself
    stores = read_vector(metro.business, "stores").good
    sample = v.sample_points(customers, 200, seed=3)
    got = v.nearest_store(sample, stores).sort_values("customer_id").reset_index(drop=True)
    want = v.nearest_store_brute_force(sample, stores, customer_id="customer_id", store_id="store_id")
    want = want.sort_values("customer_id").reset_index(drop=True)
    assert len(got) == len(sample)
    assert got["store_id"].tolist() == want["store_id"].tolist()
    assert got["distance_m"].to_numpy() == pytest.approx(want["distance_m"].to_numpy(), rel=1e-9)
    # Metres, not degrees: within the metro's extent, and not all below one degree's worth of "units".
    assert got["distance_m"].max() < SIZE * 30 * 1.5 and got["distance_m"].max() > 1.0


@pytest.mark.parametrize(("layer", "key"), [("tracts", "tract_id"), ("delivery_zones", "store_id")])
def test_grid_pre_index_equals_sjoin_with_fewer_tests(
    layers: dict[str, gpd.GeoDataFrame], layer: str, key: str
) -> None:
    polygons = layers[layer].explode(index_parts=False)
    points = _with_vertex_points(layers["customers"], polygons)
    stats: dict[str, int] = {}
    assert v.pairs_grid(
        points, polygons, "customer_id", key, cells_per_side=32, stats=stats
    ) == v.pairs_sjoin(points, polygons, "customer_id", key)
    # Interior cells assign points without a predicate, so fewer exact tests than points were needed.
    assert stats["assigned_without_test"] > 0
    assert stats["exact_tests"] < len(points)
