"""The point-in-polygon join in DuckDB spatial, with and without an R-tree index on the polygons.

The spatial extension comes from the pip package `duckdb-extension-spatial` (same version as duckdb) and is
loaded from its file, as `python_jobs.postgres.attach` does for postgres: extension download stays off, so
nothing is fetched at run time. Geometries travel as WKB, so DuckDB sees exactly the coordinates GeoPandas has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import duckdb_extension_spatial
import geopandas as gpd
import pandas as pd
import shapely

from python_jobs.duckdb_extensions import extension_file

Pair = tuple[Any, Any]  # (point id, polygon id), ids as the frames hold them (int or str)


def spatial_extension_file() -> Path:
    return extension_file(duckdb_extension_spatial, "spatial")


def connect(memory_limit: str = "512MB") -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with spatial loaded from the pip package's file."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"LOAD '{spatial_extension_file()}'")
    return con


def load_geometries(con: duckdb.DuckDBPyConnection, table: str, gdf: gpd.GeoDataFrame, id_col: str) -> None:
    """`table(id, geom GEOMETRY)` from `gdf`, the id column keeping its type."""
    frame = pd.DataFrame({"id": gdf[id_col].to_numpy(), "wkb": shapely.to_wkb(gdf.geometry.to_numpy())})
    con.register(f"{table}_wkb", frame)
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT id, ST_GeomFromWKB(wkb) AS geom FROM {table}_wkb"
        )
    finally:
        con.unregister(f"{table}_wkb")


def create_rtree(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """An R-tree on `table.geom` (DuckDB spatial's `USING RTREE`); returns the index name."""
    name = f"{table}_geom_rtree"
    con.execute(f"CREATE INDEX {name} ON {table} USING RTREE (geom)")
    return name


def rtree_indexes(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT index_name FROM duckdb_indexes() WHERE table_name = ? AND sql ILIKE '%USING RTREE%'", [table]
    ).fetchall()
    return [str(r[0]) for r in rows]


PAIRS_QUERY = (
    "SELECT pt.id, pg.id FROM points pt JOIN polygons pg ON ST_Within(pt.geom, pg.geom) ORDER BY 1, 2"
)


def point_polygon_pairs(
    points: gpd.GeoDataFrame,
    polygons: gpd.GeoDataFrame,
    point_id: str,
    polygon_id: str,
    *,
    rtree: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[Pair]:
    """(point id, polygon id) for every point strictly within a polygon (ST_Within: a point on the boundary is
    not within, as in shapely), sorted. Both frames must already be in the same CRS."""
    own = con is None
    con = con or connect()
    try:
        load_geometries(con, "points", points, point_id)
        load_geometries(con, "polygons", polygons, polygon_id)
        if rtree:
            create_rtree(con, "polygons")
        rows = con.execute(PAIRS_QUERY).fetchall()
    finally:
        if own:
            con.close()
    return [(a, b) for a, b in rows]
