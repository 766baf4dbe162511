"""Copy the warehouse's `raw` tables into a PostgreSQL database: the one writer of Postgres `raw`.

The ingest loader stays the only writer of raw data (into DuckDB, with validation and quarantine); this copies
its result as-is, so dbt and SQLMesh on Postgres read exactly the rows they read on DuckDB. The reference data
in `seeds/` is not copied: each tool loads it itself from the one CSV copy (`dbt seed`, SQLMesh seed models), on
Postgres as on DuckDB, so a copy here would be a second writer of the same tables.

All tables are replaced in one Postgres transaction (TRUNCATE + INSERT, not DROP): the staging views that dbt
and SQLMesh keep over `raw` stay valid, and a reader never sees half a load. Every day's rows are copied at
once: the models only see rows with `_load_date <= run_date`, so days can then be built one by one.
The bytes travel through DuckDB's postgres extension, which writes with COPY in the binary format.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from python_jobs.postgres.attach import POSTGRES, connect, warehouse_catalog


class PostgresSchemaError(Exception):
    """The Postgres table exists with other columns than the warehouse's: refuse rather than guess."""


@dataclass(frozen=True)
class TableCopy:
    schema: str
    table: str
    rows: int


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list[tuple[str, str]]:
    return [
        (name, dtype)
        for name, dtype in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [catalog, schema, table],
        ).fetchall()
    ]


def _index_load_date(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
    """A BRIN index on `_load_date`: the rows arrive day by day, so the load days lie in order on disk and a
    block-range index of a few kilobytes lets `_load_date >= day` read only the last days' blocks. That is what
    a daily build's tests of new rows filter on (dbt's test_since): without it each of them read every row of
    the history (e.g. ten tests of the millions of order lines; docs/measurements.md). DuckDB gets the same from the min/max zone
    maps it keeps per row group. TRUNCATE + INSERT leaves the block ranges unsummarised (BRIN summarises on
    VACUUM, not on insert), hence the explicit summarise."""
    index = f"{table}__load_date_brin"
    statements = [
        f'CREATE INDEX IF NOT EXISTS "{index}" ON "{schema}"."{table}" USING brin (_load_date)',
        f"SELECT brin_summarize_new_values(''\"{schema}\".\"{index}\"''::regclass)",
    ]
    for statement in statements:
        con.execute(f"CALL postgres_execute('{POSTGRES}', '{statement}')")


def load_schemas(warehouse: Path, dsn: str, schemas: tuple[str, ...] = ("raw",)) -> list[TableCopy]:
    """Replace every table of `schemas` in Postgres by the warehouse's; returns the rows copied per table."""
    con = connect(dsn, warehouse=warehouse)
    catalog = warehouse_catalog(warehouse)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = ? AND table_type = 'BASE TABLE' AND table_schema IN "
            f"({', '.join('?' for _ in schemas)}) ORDER BY 1, 2",
            [catalog, *schemas],
        ).fetchall()
        if not tables:
            raise FileNotFoundError(f"{warehouse} has no tables in schema(s) {', '.join(schemas)}")
        con.execute("BEGIN TRANSACTION")
        for schema in schemas:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS {POSTGRES}."{schema}"')
        copies = []
        by_load_date = []  # the copies with a _load_date column, which get its BRIN index after the commit
        for schema, table in tables:
            source = f'"{catalog}"."{schema}"."{table}"'
            target = f'{POSTGRES}."{schema}"."{table}"'
            columns = [n for n, _ in _columns(con, catalog, schema, table)]
            existing = _columns(con, POSTGRES, schema, table)
            if not existing:
                con.execute(f"CREATE TABLE {target} AS FROM {source} LIMIT 0")
            elif [n for n, _ in existing] != columns:
                raise PostgresSchemaError(
                    f"{schema}.{table} in Postgres has columns {[n for n, _ in existing]}, the warehouse has "
                    "other ones: drop the Postgres table (and what depends on it) deliberately, then load again"
                )
            # TRUNCATE runs in Postgres in this same transaction; DuckDB's DELETE would go row by row.
            con.execute(f"CALL postgres_execute('{POSTGRES}', 'TRUNCATE \"{schema}\".\"{table}\"')")
            con.execute(f"INSERT INTO {target} FROM {source}")
            (copied,) = con.execute(f"SELECT count(*) FROM {target}").fetchone()
            (expected,) = con.execute(f"SELECT count(*) FROM {source}").fetchone()
            if copied != expected:
                raise RuntimeError(f"{schema}.{table}: copied {copied} rows of {expected}; rolling back")
            copies.append(TableCopy(schema, table, int(copied)))
            if "_load_date" in columns:
                by_load_date.append(copies[-1])
        con.execute("COMMIT")
        # Statistics now rather than whenever autovacuum gets to it: the builds read these tables right away,
        # and PostgreSQL plans their joins from statistics (the scale-10 finding in docs/postgres.md).
        for copy in copies:
            con.execute(f"CALL postgres_execute('{POSTGRES}', 'ANALYZE \"{copy.schema}\".\"{copy.table}\"')")
        for copy in by_load_date:
            _index_load_date(con, copy.schema, copy.table)
        return copies
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
