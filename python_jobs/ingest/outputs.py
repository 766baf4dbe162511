"""Load an engine job's output files (Parquet, CSV or JSON lines) into a `raw` table: the spine's one writer.

Engine jobs (Spark, Flink, Ray, Dask, ...) never open the warehouse: they write files, atomically committed by
their own engine, and hand them to `load_output`. The load is one transaction that replaces the given day (or the
whole table), adds lineage columns, reconciles the row count and records a manifest row, like the landing loads.

Contract for a job's output: one logical table per folder, the same columns in every file; a re-run of a day
replaces that day. Bad input rows are the engine's business: it routes them to its own quarantine output, which
is loaded like any other output (e.g. into `ingest.quarantine` via `load_quarantine`).

Lineage and determinism: running the same job twice must load identical rows. Engines name their part files
with a per-run id (Spark `part-00000-<job uuid>.c000.snappy.parquet`, Flink `part-<uuid>-<subtask>-<n>`) and
choose how rows are split between files, so for a `part-*` file `_source_file` is its committed output folder
(relative to the data folder), and the manifest's checksum is a SHA-256 over the loaded rows in sorted order
per lineage value, not over the files' bytes.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import duckdb

from python_jobs.config import Settings
from python_jobs.ingest.warehouse import connect, ensure_tables

Format = Literal["parquet", "csv", "json"]
_READERS = {
    "parquet": "read_parquet({files}, union_by_name = true, hive_partitioning = false)",
    "csv": "read_csv({files}, header = true, union_by_name = true)",
    "json": "read_json_auto({files}, format = 'newline_delimited', union_by_name = true)",
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Part files named by the engine, with a per-run id in the name.
_PART_FILE = r"/part-[^/]*$"


class OutputSchemaError(Exception):
    """The files do not have the columns the existing raw table has."""


@dataclass(frozen=True)
class OutputLoad:
    table: str
    load_date: date | None
    files: int
    rows_loaded: int


def _file_list(files: list[Path]) -> str:
    return "[" + ", ".join(f"'{f.as_posix()}'" for f in sorted(files)) + "]"


def load_output(
    settings: Settings,
    table: str,
    files: list[Path],
    *,
    fmt: Format = "parquet",
    load_date: date | None = None,
) -> OutputLoad:
    """Replace `raw.<table>` rows of `load_date` (or the whole table when None) with the rows of `files`."""
    if not _NAME.match(table):
        raise ValueError(f"raw table names are lower_snake_case: {table!r}")
    files = [f.resolve() for f in files if f.stat().st_size > 0]
    if not files:
        raise FileNotFoundError(f"no non-empty output files for raw.{table}")
    source = _READERS[fmt].format(files=_file_list(files))
    day = f"DATE '{load_date.isoformat()}'" if load_date else "CAST(NULL AS DATE)"
    landing = settings.data_dir.resolve()
    relative = f"replace(filename, '{landing.as_posix()}/', '')"
    select = (
        f"SELECT * EXCLUDE (filename), {day} AS _load_date, "
        f"regexp_replace({relative}, '{_PART_FILE}', '') AS _source_file FROM "
        + source.replace(")", ", filename = true)", 1)
    )
    con = connect(settings.warehouse_path)
    try:
        ensure_tables(con)
        con.execute("BEGIN TRANSACTION")
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = ?",
            [table],
        ).fetchone()[0]
        if not exists:
            con.execute(f"CREATE TABLE raw.{table} AS {select} LIMIT 0")
        else:
            _check_columns(con, table, select)
            if load_date is None:
                con.execute(f"DELETE FROM raw.{table}")
            else:
                con.execute(f"DELETE FROM raw.{table} WHERE _load_date = {day}")
        con.execute(f"INSERT INTO raw.{table} BY NAME {select}")
        (read,) = con.execute(f"SELECT count(*) FROM {source}").fetchone()
        where = "_load_date IS NULL" if load_date is None else f"_load_date = {day}"
        (loaded,) = con.execute(f"SELECT count(*) FROM raw.{table} WHERE {where}").fetchone()
        if read != loaded:
            raise RuntimeError(f"raw.{table}: read {read} rows, loaded {loaded}; refusing to commit")
        manifest_day = load_date or date(1970, 1, 1)
        con.execute(
            "DELETE FROM ingest.load_manifest WHERE source = ? AND load_date = ?", [table, manifest_day]
        )
        con.execute(
            "INSERT INTO ingest.load_manifest VALUES (?, ?, ?, 0, ?, ?, ?, 0, ?, ?)",
            [
                table,
                manifest_day,
                len(files),
                sum(f.stat().st_size for f in files),
                read,
                loaded,
                json.dumps(_row_digests(con, table, where), sort_keys=True),
                datetime.combine(manifest_day + timedelta(days=1), time()),
            ],
        )
        con.execute("COMMIT")
        return OutputLoad(table, load_date, len(files), int(loaded))
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def _row_digests(con: duckdb.DuckDBPyConnection, table: str, where: str) -> dict[str, str]:
    """`_source_file` → SHA-256 of its loaded rows' text in sorted order: independent of file layout."""
    rows = con.execute(
        f"SELECT _source_file, sha256(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR))) "
        f"FROM raw.{table} AS t WHERE {where} GROUP BY 1"
    ).fetchall()
    return {name: digest for name, digest in rows}


def _check_columns(con: duckdb.DuckDBPyConnection, table: str, select: str) -> None:
    existing = {r[0] for r in con.execute(f"DESCRIBE raw.{table}").fetchall()}
    incoming = {r[0] for r in con.execute(f"DESCRIBE {select}").fetchall()}
    if existing != incoming:
        raise OutputSchemaError(
            f"raw.{table}: output columns changed (new: {sorted(incoming - existing)}, missing: "
            f"{sorted(existing - incoming)}). Drop the table or migrate it deliberately; nothing was loaded."
        )


def load_quarantine(settings: Settings, files: list[Path], *, source: str, load_date: date) -> int:
    """Replace the `ingest.quarantine` rows of (`source`, `load_date`) with an engine's quarantine output.

    The files carry the quarantine columns (source, load_date, source_file, source_line, column_name, reason,
    raw_line). `source` names the engine's own rows (e.g. `batch_spark.orders`), so the ingest's rows of the
    same day are never touched. Returns the rows loaded.
    """
    files = [f.resolve() for f in files if f.stat().st_size > 0]
    con = connect(settings.warehouse_path)
    try:
        ensure_tables(con)
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM ingest.quarantine WHERE source = ? AND load_date = ?", [source, load_date])
        if files:
            con.execute(
                "INSERT INTO ingest.quarantine (source, load_date, source_file, source_line, column_name, reason, "
                "raw_line) SELECT source, CAST(load_date AS DATE), source_file, source_line, column_name, reason, "
                f"raw_line FROM read_parquet({_file_list(files)}, hive_partitioning = false) "
                "WHERE source = ? AND CAST(load_date AS DATE) = ?",
                [source, load_date],
            )
        (loaded,) = con.execute(
            "SELECT count(*) FROM ingest.quarantine WHERE source = ? AND load_date = ?", [source, load_date]
        ).fetchone()
        con.execute("COMMIT")
        return int(loaded)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
