"""Opening the DuckDB warehouse for writing, and the DDL of the tables the ingest owns."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from python_jobs.ingest.schemas import SOURCES


class WarehouseLockedError(Exception):
    """Another process holds the warehouse file: DuckDB allows one writer at a time."""


def connect(path: Path, *, read_only: bool = False, memory_limit: str = "256MB") -> duckdb.DuckDBPyConnection:
    """Connect with a bounded memory budget; a held lock becomes one clear message instead of a traceback."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" not in text.lower():
            raise
        holder = re.search(r"PID (\d+)", text)
        who = f"process {holder.group(1)}" if holder else "another process"
        raise WarehouseLockedError(
            f"The warehouse {path} is locked by {who} (DuckDB allows one writer at a time). "
            "Wait for that job to finish, or stop it, then run this again."
        ) from None
    spill = path.parent / "tmp" / "duckdb-spill"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS ingest")
    for schema in SOURCES:
        cols = ",\n  ".join(f"{c.name} {c.sql_type}" for c in schema.columns)
        con.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema.table} (
  {cols},
  _load_date DATE NOT NULL,
  _source_file VARCHAR NOT NULL,
  _source_line BIGINT NOT NULL,
  _extra_columns VARCHAR
)"""
        )
    # No PRIMARY KEYs: a reload deletes and re-inserts the same keys in one transaction, which DuckDB's
    # eager constraint checks reject. Uniqueness is kept by the loader and tested instead.
    con.execute(
        """CREATE TABLE IF NOT EXISTS ingest.load_manifest (
  source VARCHAR NOT NULL,
  load_date DATE NOT NULL,
  files INTEGER NOT NULL,
  empty_files INTEGER NOT NULL,
  bytes BIGINT NOT NULL,
  rows_read BIGINT NOT NULL,
  rows_loaded BIGINT NOT NULL,
  rows_quarantined BIGINT NOT NULL,
  sha256 VARCHAR NOT NULL,
  loaded_at TIMESTAMP NOT NULL
)"""
    )
    con.execute(
        """CREATE TABLE IF NOT EXISTS ingest.quarantine (
  source VARCHAR NOT NULL,
  load_date DATE NOT NULL,
  source_file VARCHAR NOT NULL,
  source_line BIGINT NOT NULL,
  column_name VARCHAR,
  reason VARCHAR NOT NULL,
  raw_line VARCHAR
)"""
    )
    con.execute(
        """CREATE TABLE IF NOT EXISTS ingest.schema_drift (
  source VARCHAR NOT NULL,
  load_date DATE NOT NULL,
  source_file VARCHAR NOT NULL,
  column_name VARCHAR NOT NULL,
  drift_kind VARCHAR NOT NULL
)"""
    )
