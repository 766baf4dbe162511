"""One DuckDB session that sees the warehouse file and a PostgreSQL database side by side.

The postgres extension comes from the pip package `duckdb-extension-postgres-scanner` (same version as duckdb,
pinned in uv.lock), loaded from its file: DuckDB's own extension download stays off, so nothing is fetched at
run time. The package ships the binary under `extensions/v<duckdb version>/`; its README suggests a separate
`duckdb_extensions` helper package, which we do not need, since `LOAD '<file>'` does the same.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import duckdb_extension_postgres_scanner

from python_jobs.duckdb_extensions import extension_file

POSTGRES = "pg"


def postgres_extension_file() -> Path:
    return extension_file(duckdb_extension_postgres_scanner, "postgres_scanner")


def warehouse_catalog(warehouse: Path) -> str:
    return warehouse.stem


def connect(
    dsn: str,
    *,
    warehouse: Path | None = None,
    postgres_read_only: bool = False,
    memory_limit: str = "512MB",
) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with the warehouse attached read-only under its usual catalog name and Postgres as `pg`.

    The warehouse is ATTACHed rather than opened: a DuckDB session opened read-only makes every attached
    database read-only too, and the loader has to write into Postgres. It keeps the catalog name DuckDB gives
    it when opened directly (the file stem, see `warehouse_catalog`): the views SQLMesh and dbt create refer
    to their tables through that name.
    """
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"LOAD '{postgres_extension_file()}'")
    if warehouse is not None:
        con.execute(f"ATTACH '{warehouse.as_posix()}' AS \"{warehouse_catalog(warehouse)}\" (READ_ONLY)")
    mode = ", READ_ONLY" if postgres_read_only else ""
    con.execute(f"ATTACH '{dsn}' AS {POSTGRES} (TYPE postgres{mode})")
    return con
