"""PostGIS (and pgRouting) in a database of the throwaway server: enable, load a GeoDataFrame, join in SQL.

Loading goes through COPY in text format with each geometry as hex EWKB (WKB plus the SRID), which PostGIS's
geometry input function reads directly. WKB rather than WKT because it carries the exact doubles: a join on
rounded coordinates could move a point across a polygon edge, and the tests compare the SQL join with
GeoPandas' pair for pair. COPY rather than executemany because it is one streamed statement instead of one
round trip per row (psycopg's pipelined executemany narrows that gap, but COPY is still the bulk path).

Point-in-polygon is `ST_Contains(polygon, point)`, the same predicate as GeoPandas' `sjoin(predicate="within")`
seen from the other side (a point on a polygon's boundary is in neither). ST_Contains uses the `&&` bounding-box
operator internally, so a GiST index on either table can drive the join; `explain_indexes` tells which index
the planner actually picked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import psycopg
import shapely
from psycopg import sql


class PostGISUnavailableError(Exception):
    """The server has no PostGIS (or pgRouting) extension files."""


EXTENSIONS = ("postgis", "pgrouting")


def debian_packages(con: psycopg.Connection) -> dict[str, str]:
    """The Debian package that ships each extension for this server's major version."""
    major = int(con.execute("SHOW server_version_num").fetchone()[0]) // 10000
    return {"postgis": f"postgresql-{major}-postgis-3", "pgrouting": f"postgresql-{major}-pgrouting"}


def missing_extensions(con: psycopg.Connection, names: tuple[str, ...] = EXTENSIONS) -> list[str]:
    """Those of `names` whose control files the server cannot see (pg_available_extensions is read from them)."""
    rows = con.execute(
        "SELECT name FROM pg_available_extensions WHERE name = ANY(%s)", (list(names),)
    ).fetchall()
    found = {row[0] for row in rows}
    return [name for name in names if name not in found]


def enable_postgis(con: psycopg.Connection, *, routing: bool = True) -> dict[str, str]:
    """CREATE EXTENSION postgis (and pgrouting, which needs it); returns {extension: installed version}.

    Raises PostGISUnavailableError naming the Debian packages to install when the files are missing, instead of
    PostgreSQL's 'could not open extension control file'. Needs a superuser (the throwaway server's user is)."""
    names = EXTENSIONS if routing else ("postgis",)
    missing = missing_extensions(con, names)
    if missing:
        packages = debian_packages(con)
        raise PostGISUnavailableError(
            f"extension(s) {', '.join(missing)} not installed on the PostgreSQL server: "
            f"`apt-get install -y {' '.join(packages[name] for name in missing)}` "
            "(.ci/run does it when the control files are missing)"
        )
    for name in names:
        con.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))
    con.commit()
    rows = con.execute(
        "SELECT extname, extversion FROM pg_extension WHERE extname = ANY(%s)", (list(names),)
    ).fetchall()
    return dict(rows)


def _epsg(gdf: gpd.GeoDataFrame) -> int:
    if gdf.crs is None:
        raise ValueError("the GeoDataFrame has no CRS: set one (PostGIS needs an SRID)")
    epsg = gdf.crs.to_epsg()
    if epsg is None:
        raise ValueError(f"the CRS {gdf.crs.name!r} has no EPSG code to use as the PostGIS SRID")
    return int(epsg)


def load_geodataframe(
    con: psycopg.Connection, gdf: gpd.GeoDataFrame, table: str, *, id_column: str = "id"
) -> int:
    """(Re)create `table` (id bigint primary key, geom geometry(Geometry, <EPSG of gdf.crs>)), COPY the rows in,
    build a GiST index `<table>_geom_gist` and ANALYZE (so the planner knows the row count and extent).

    Returns the number of rows loaded. Only the id and the geometry are loaded: this is the join's input."""
    srid = _epsg(gdf)
    ids = gdf[id_column].astype("int64").tolist()
    geoms = shapely.set_srid(gdf.geometry.to_numpy(), srid)
    ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    name = sql.Identifier(table)
    con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
    con.execute(
        sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, geom geometry(Geometry, {}) NOT NULL)").format(
            name, sql.Literal(srid)
        )
    )
    with con.cursor().copy(sql.SQL("COPY {} (id, geom) FROM STDIN").format(name)) as copy:
        for row in zip(ids, ewkb, strict=True):
            copy.write_row(row)
    con.execute(
        sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(sql.Identifier(f"{table}_geom_gist"), name)
    )
    con.execute(sql.SQL("ANALYZE {}").format(name))
    con.commit()
    return len(ids)


def points_in_polygons_query(points: str, polygons: str) -> sql.Composed:
    """(point_id, polygon_id) for every point strictly inside a polygon (one row per pair)."""
    return sql.SQL(
        "SELECT pt.id AS point_id, pg.id AS polygon_id FROM {} AS pt JOIN {} AS pg "
        "ON ST_Contains(pg.geom, pt.geom) ORDER BY 1, 2"
    ).format(sql.Identifier(points), sql.Identifier(polygons))


def points_in_polygons(con: psycopg.Connection, points: str, polygons: str) -> list[tuple[int, int]]:
    """The point-in-polygon join of two loaded tables, sorted by (point_id, polygon_id)."""
    return [(int(a), int(b)) for a, b in con.execute(points_in_polygons_query(points, polygons)).fetchall()]


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def explain_indexes(con: psycopg.Connection, query: sql.Composable) -> set[str]:
    """The names of the indexes the planner's chosen plan for `query` scans (EXPLAIN, without running it)."""
    raw = con.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + query).fetchone()[0]
    plan = json.loads(raw) if isinstance(raw, str) else raw
    return {node["Index Name"] for node in _plan_nodes(plan[0]["Plan"]) if "Index Name" in node}


def uses_gist_index(con: psycopg.Connection, query: sql.Composable, *tables: str) -> bool:
    """True when the plan of `query` scans the GiST index `load_geodataframe` built on one of `tables`."""
    return bool(explain_indexes(con, query) & {f"{table}_geom_gist" for table in tables})
