"""PostGIS and pgRouting on the throwaway server: the point-in-polygon join in SQL equals GeoPandas' and DuckDB's.

Seeded polygons (a grid of boxes, each with a random size and rotation, so some overlap their neighbours and
some leave gaps) and seeded points in a projected CRS (UTM 32N, metres) are loaded with
`python_jobs.geo.postgis.load_geodataframe`; the PostGIS join must give exactly the (point, polygon) pairs of
`geopandas.sjoin(predicate="within")` and of DuckDB spatial's ST_Contains, every point is either joined or
unmatched, and after ANALYZE the plan scans a GiST index. pgRouting's pgr_dijkstra finds a known shortest path.

Skips without PostGIS/pgRouting unless GROCERY_REQUIRE_POSTGIS=1 (set by .ci/run, which installs them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from shapely import affinity

from python_jobs.geo.duckdb_spatial import spatial_extension_file
from python_jobs.geo.postgis import (
    PostGISUnavailableError,
    enable_postgis,
    explain_indexes,
    load_geodataframe,
    points_in_polygons,
    points_in_polygons_query,
    uses_gist_index,
)
from python_jobs.postgres.server import PostgresServer
from tests.pg import new_database, postgres_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres

REQUIRE_ENV = "GROCERY_REQUIRE_POSTGIS"
CRS = "EPSG:32632"  # UTM zone 32N: metres, so sizes and jitter below are in metres
SEED = 20261204
GRID = 20  # 20 x 20 = 400 polygons
CELL = 500.0
N_POINTS = 6000
ORIGIN = (500_000.0, 5_300_000.0)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def geo_con(postgres_server: PostgresServer) -> Iterator[psycopg.Connection]:  # noqa: F811
    dsn = new_database(postgres_server, "geo_postgis")
    with psycopg.connect(dsn) as con:
        try:
            enable_postgis(con)
        except PostGISUnavailableError as exc:
            _skip_or_fail(str(exc))
        yield con


def make_polygons(rng: np.random.Generator) -> gpd.GeoDataFrame:
    """A grid of boxes: half-size 0.3 to 0.65 of a cell (gaps and overlaps), centre jitter, rotation up to 30°."""
    geoms = []
    for i in range(GRID):
        for j in range(GRID):
            cx = ORIGIN[0] + (i + 0.5) * CELL + rng.uniform(-0.1, 0.1) * CELL
            cy = ORIGIN[1] + (j + 0.5) * CELL + rng.uniform(-0.1, 0.1) * CELL
            hx, hy = rng.uniform(0.3, 0.65, size=2) * CELL
            box = shapely.box(cx - hx, cy - hy, cx + hx, cy + hy)
            geoms.append(affinity.rotate(box, rng.uniform(-30, 30), origin="centroid"))
    return gpd.GeoDataFrame({"id": np.arange(1, len(geoms) + 1)}, geometry=geoms, crs=CRS)


def make_points(rng: np.random.Generator, polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Uniform over the grid plus a margin outside it, so some points fall in no polygon at all; plus one vertex
    of every tenth polygon, on its boundary, so it is within no polygon of its own (the engines must agree)."""
    span = GRID * CELL
    x = rng.uniform(ORIGIN[0] - 0.05 * span, ORIGIN[0] + 1.05 * span, N_POINTS)
    y = rng.uniform(ORIGIN[1] - 0.05 * span, ORIGIN[1] + 1.05 * span, N_POINTS)
    vertices = [shapely.Point(poly.exterior.coords[0]) for poly in polygons.geometry.iloc[::10]]
    geoms = [*shapely.points(x, y), *vertices]
    return gpd.GeoDataFrame({"id": np.arange(1, len(geoms) + 1)}, geometry=geoms, crs=CRS)


@pytest.fixture(scope="module")
def frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(SEED)
    polygons = make_polygons(rng)
    return polygons, make_points(rng, polygons)


@pytest.fixture(scope="module")
def loaded(geo_con: psycopg.Connection, frames: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    polygons, points = frames
    assert load_geodataframe(geo_con, polygons, "zones") == len(polygons)
    assert load_geodataframe(geo_con, points, "stops") == len(points)


def geopandas_pairs(polygons: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> list[tuple[int, int]]:
    joined = gpd.sjoin(points, polygons, how="inner", predicate="within", lsuffix="pt", rsuffix="pg")
    return sorted(zip(joined["id_pt"].astype(int), joined["id_pg"].astype(int), strict=True))


def duckdb_pairs(polygons: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> list[tuple[int, int]]:
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        con.execute(f"LOAD '{spatial_extension_file()}'")
        for name, gdf in (("zones", polygons), ("stops", points)):
            frame = pd.DataFrame(
                {"id": gdf["id"].astype("int64"), "wkb": shapely.to_wkb(gdf.geometry.to_numpy())}
            )
            con.register(f"{name}_wkb", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT id, ST_GeomFromWKB(wkb) AS geom FROM {name}_wkb")
        rows = con.execute(
            "SELECT pt.id, pg.id FROM stops pt JOIN zones pg ON ST_Contains(pg.geom, pt.geom) ORDER BY 1, 2"
        ).fetchall()
    finally:
        con.close()
    return [(int(a), int(b)) for a, b in rows]


def test_postgis_and_pgrouting_enable(geo_con: psycopg.Connection) -> None:
    versions = enable_postgis(geo_con)  # a second time: idempotent
    assert set(versions) == {"postgis", "pgrouting"}
    assert geo_con.execute("SELECT postgis_geos_version()").fetchone()[0]


def test_load_keeps_srid_and_builds_gist(
    geo_con: psycopg.Connection, loaded: None, frames: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]
) -> None:
    polygons, _ = frames
    srids = geo_con.execute("SELECT DISTINCT ST_SRID(geom) FROM zones").fetchall()
    assert srids == [(32632,)]
    assert geo_con.execute("SELECT Find_SRID('public', 'zones', 'geom')").fetchone()[0] == 32632
    methods = geo_con.execute(
        "SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'zones_geom_gist'"
    ).fetchall()
    assert methods == [("gist",)]
    # WKB round trip is exact: the stored polygons are the generated ones, bit for bit.
    back = geo_con.execute("SELECT id, ST_AsBinary(geom) FROM zones ORDER BY id").fetchall()
    assert [shapely.from_wkb(bytes(wkb)) for _, wkb in back] == list(polygons.geometry)


def test_postgis_join_equals_geopandas_and_duckdb(
    geo_con: psycopg.Connection, loaded: None, frames: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]
) -> None:
    polygons, points = frames
    pairs = points_in_polygons(geo_con, "stops", "zones")
    expected = geopandas_pairs(polygons, points)
    assert pairs == expected
    assert duckdb_pairs(polygons, points) == expected
    # The generated data exercises every case: points in one polygon, in overlapping ones, and in none.
    per_point = pd.Series([p for p, _ in pairs]).value_counts()
    joined = len(per_point)
    unmatched = geo_con.execute(
        "SELECT count(*) FROM stops pt WHERE NOT EXISTS "
        "(SELECT 1 FROM zones pg WHERE ST_Contains(pg.geom, pt.geom))"
    ).fetchone()[0]
    assert joined + unmatched == len(points)
    assert unmatched > 0 and (per_point == 1).any() and (per_point > 1).any()
    # A vertex point (ids after N_POINTS; the k-th is a vertex of polygon 10k + 1) is never within its polygon.
    own = {(N_POINTS + 1 + k, 10 * k + 1) for k in range(len(points) - N_POINTS)}
    assert not own & set(pairs)


def test_join_plan_uses_gist_index(geo_con: psycopg.Connection, loaded: None) -> None:
    query = points_in_polygons_query("stops", "zones")
    used = explain_indexes(geo_con, query)
    assert uses_gist_index(geo_con, query, "stops", "zones"), f"plan scans {used or 'no index'}"


def test_pgr_dijkstra_shortest_path(geo_con: psycopg.Connection) -> None:
    # 1 -> 2 -> 4 costs 1 + 2 = 3; 1 -> 3 -> 4 costs 1 + 5 = 6; the direct edge 1 -> 4 costs 10.
    geo_con.execute("DROP TABLE IF EXISTS roads")
    geo_con.execute(
        "CREATE TABLE roads (id bigint PRIMARY KEY, source bigint, target bigint, cost float8, reverse_cost float8)"
    )
    geo_con.cursor().executemany(
        "INSERT INTO roads VALUES (%s, %s, %s, %s, %s)",
        [
            (1, 1, 2, 1.0, -1.0),
            (2, 2, 4, 2.0, -1.0),
            (3, 1, 3, 1.0, -1.0),
            (4, 3, 4, 5.0, -1.0),
            (5, 1, 4, 10.0, -1.0),
        ],
    )
    rows = geo_con.execute(
        "SELECT node, edge, agg_cost FROM pgr_dijkstra("
        "'SELECT id, source, target, cost, reverse_cost FROM roads', 1, 4, directed => true) ORDER BY path_seq"
    ).fetchall()
    assert [(node, edge) for node, edge, _ in rows] == [(1, 1), (2, 2), (4, -1)]
    assert rows[-1][2] == pytest.approx(3.0)
    # Reverse costs are negative (no such edge): there is no way back from 4 to 1.
    back = geo_con.execute(
        "SELECT count(*) FROM pgr_dijkstra('SELECT id, source, target, cost, reverse_cost FROM roads', 4, 1)"
    ).fetchone()[0]
    assert back == 0
    geo_con.rollback()


def test_missing_extension_names_the_debian_packages(
    geo_con: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from python_jobs.geo import postgis

    assert postgis.missing_extensions(geo_con, ("postgis", "no_such_extension")) == ["no_such_extension"]
    monkeypatch.setattr(postgis, "missing_extensions", lambda con, names: list(names))
    with pytest.raises(PostGISUnavailableError) as err:
        enable_postgis(geo_con)
    major = int(geo_con.execute("SHOW server_version_num").fetchone()[0]) // 10000
    assert f"postgresql-{major}-postgis-3" in str(err.value)
    assert f"postgresql-{major}-pgrouting" in str(err.value)
