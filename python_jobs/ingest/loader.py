"""Load one simulated day of landing files into `raw`, atomically, with every bad row quarantined.

The pattern: read each file in bounded chunks (memory does not grow with file size), validate each chunk with
vectorised pandas checks, stage the good rows in a temporary table, run the set-based checks that need the whole
day (duplicate keys, foreign keys) in SQL, then move staged rows to `raw` or `ingest.quarantine`. All of it runs in
one DuckDB transaction: a crash at any point leaves the previous committed state, and reloading a day replaces that
day's rows instead of adding to them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from python_jobs.config import Settings
from python_jobs.ingest.reader import Chunk, LandingFile, LandingFileError
from python_jobs.ingest.schemas import SOURCES, SourceSchema
from python_jobs.ingest.validate import validate_chunk
from python_jobs.ingest.warehouse import connect, ensure_tables


class ReconciliationError(Exception):
    """Rows read ≠ rows loaded + rows quarantined: something was lost, so nothing is committed."""


class EmptyExtractError(Exception):
    """A full extract arrived with no valid rows, which would read as 'every entity was deleted'."""


@dataclass(frozen=True)
class SourceLoad:
    source: str
    files: int
    empty_files: int
    bytes: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    drift_columns: tuple[str, ...]


@dataclass(frozen=True)
class DayLoad:
    load_date: date
    sources: tuple[SourceLoad, ...]

    @property
    def rows_loaded(self) -> int:
        return sum(s.rows_loaded for s in self.sources)

    @property
    def rows_quarantined(self) -> int:
        return sum(s.rows_quarantined for s in self.sources)


ProgressCallback = Callable[[str, int], None]  # (source, bytes of the file just finished or chunk read)


def day_dir(landing_dir: Path, load_date: date) -> Path:
    return landing_dir / load_date.isoformat()


def landing_files(landing_dir: Path, load_date: date, source: str) -> list[Path]:
    """`<source>.csv` first, then its extra parts `<source>-<suffix>.csv` in name order."""
    folder = day_dir(landing_dir, load_date)
    main = folder / f"{source}.csv"
    parts = sorted(folder.glob(f"{source}-*.csv"))
    return ([main] if main.exists() else []) + parts


def load_day(
    settings: Settings,
    load_date: date,
    *,
    chunk_rows: int = 100_000,
    crash_after_chunks: int | None = None,
    progress: ProgressCallback | None = None,
) -> DayLoad:
    """Load every source of `load_date` in one transaction and return what was read, loaded and quarantined."""
    folder = day_dir(settings.landing_dir, load_date)
    if not folder.is_dir():
        raise LandingFileError(f"no landing folder for {load_date}: {folder} (run the generator first)")
    con = connect(settings.warehouse_path)
    try:
        ensure_tables(con)
        con.execute("BEGIN TRANSACTION")
        chunks_done = 0
        results = []
        for schema in SOURCES:
            files = landing_files(settings.landing_dir, load_date, schema.name)
            if not files:
                raise LandingFileError(
                    f"no landing file for source '{schema.name}' on {load_date} in {folder}"
                )
            loader = _SourceLoader(con, schema, settings, load_date)
            for rank, path in enumerate(files):
                for _ in loader.load_file(path, rank, chunk_rows):
                    chunks_done += 1
                    if crash_after_chunks is not None and chunks_done >= crash_after_chunks:
                        # Fault injection for the crash tests and the lab: die like a killed process would,
                        # with no chance to clean up, mid-transaction.
                        os.kill(os.getpid(), signal.SIGKILL)
                if progress:
                    progress(schema.name, path.stat().st_size)
            results.append(loader.finish())
        con.execute("COMMIT")
        return DayLoad(load_date, tuple(results))
    except BaseException:
        # Nothing of this day is kept: the previous committed state stays as it was.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


class _SourceLoader:
    """Loads the files of one source for one day inside the caller's open transaction."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, schema: SourceSchema, settings: Settings, load_date: date
    ) -> None:
        self.con = con
        self.schema = schema
        self.settings = settings
        self.load_date = load_date
        self.rows_read = 0
        self.files = 0
        self.empty_files = 0
        self.bytes = 0
        self.sha256: dict[str, str] = {}
        self.drift: list[str] = []
        self._clear_day()
        cols = ", ".join(f"{c.name} {c.sql_type}" for c in schema.columns)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _stage (
  {cols}, _source_file VARCHAR, _file_rank INTEGER, _source_line BIGINT, _extra_columns VARCHAR,
  _raw_line VARCHAR, _reject_column VARCHAR, _reject_reason VARCHAR)"""
        )

    @property
    def _day(self) -> str:
        return f"DATE '{self.load_date.isoformat()}'"

    def _clear_day(self) -> None:
        # Reloading a day replaces it: delete what an earlier load of the same day wrote (same transaction).
        params = [self.schema.name, self.load_date]
        self.con.execute(f"DELETE FROM {self.schema.table} WHERE _load_date = ?", [self.load_date])
        for table in ("ingest.quarantine", "ingest.schema_drift", "ingest.load_manifest"):
            self.con.execute(f"DELETE FROM {table} WHERE source = ? AND load_date = ?", params)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.settings.landing_dir).as_posix()

    def load_file(self, path: Path, rank: int, chunk_rows: int):
        """Stage one file chunk by chunk, yielding after each chunk (the caller counts them)."""
        rel = self._relative(path)
        landing = LandingFile(path, self.schema.column_names, chunk_rows)
        self.files += 1
        self.bytes += landing.size
        if landing.is_empty:
            self.empty_files += 1
            self._quarantine_rows(rel, [(0, None, "empty file (0 bytes)", "")])
        for chunk in landing.chunks():
            self._stage_chunk(rel, rank, chunk)
            yield chunk
        if landing.header and landing.header.unexpected:
            self.drift.extend(landing.header.unexpected)
            self.con.executemany(
                "INSERT INTO ingest.schema_drift VALUES (?, ?, ?, ?, 'unexpected_column')",
                [[self.schema.name, self.load_date, rel, c] for c in landing.header.unexpected],
            )
        self.sha256[rel] = landing.sha256

    def _stage_chunk(self, rel: str, rank: int, chunk: Chunk) -> None:
        self.rows_read += chunk.lines_read
        if chunk.rejects:
            self._quarantine_rows(rel, [(r.line, r.column, r.reason, r.raw_line) for r in chunk.rejects])
        if not chunk.rows:
            return
        frame = pd.DataFrame(chunk.rows, columns=list(self.schema.column_names), dtype=object)
        good, bad = validate_chunk(self.schema, frame)
        if len(bad):
            idx = bad.index.to_numpy()
            self._quarantine_rows(
                rel,
                [
                    (chunk.line_numbers[i], col, reason, chunk.texts[i])
                    for i, col, reason in zip(idx, bad["column_name"], bad["reason"], strict=True)
                ],
            )
        if not len(good):
            return
        keep = good.index.to_numpy()
        good = good.assign(
            _source_line=[chunk.line_numbers[i] for i in keep],
            _extra_columns=[chunk.extras[i] for i in keep],
            _raw_line=[chunk.texts[i] for i in keep],
        )
        casts = ", ".join(f"CAST({c.name} AS {c.sql_type})" for c in self.schema.columns)
        self.con.register("_chunk", good)
        self.con.execute(
            f"INSERT INTO _stage SELECT {casts}, ?, ?, _source_line, _extra_columns, _raw_line, NULL, NULL "
            "FROM _chunk",
            [rel, rank],
        )
        self.con.unregister("_chunk")

    def _quarantine_rows(self, rel: str, rows: list[tuple[int, str | None, str, str]]) -> None:
        frame = pd.DataFrame(rows, columns=["source_line", "column_name", "reason", "raw_line"])
        self.con.register("_rejects", frame)
        self.con.execute(
            "INSERT INTO ingest.quarantine SELECT ?, ?, ?, source_line, column_name, reason, raw_line "
            "FROM _rejects",
            [self.schema.name, self.load_date, rel],
        )
        self.con.unregister("_rejects")

    def _flag_duplicates(self) -> None:
        key = ", ".join(self.schema.key)
        key_label = ", ".join(self.schema.key)
        self.con.execute(
            f"""UPDATE _stage AS s
SET _reject_column = '{self.schema.key[0]}',
    _reject_reason = 'duplicate key ({key_label}): first delivered in ' || d.first_file || ' line ' || d.first_line
FROM (
  SELECT _source_file, _source_line,
         first_value(_source_file) OVER w AS first_file,
         first_value(_source_line) OVER w AS first_line,
         row_number() OVER w AS rn
  FROM _stage
  WINDOW w AS (PARTITION BY {key} ORDER BY _file_rank, _source_line)
) AS d
WHERE s._source_file = d._source_file AND s._source_line = d._source_line AND d.rn > 1"""
        )

    def _flag_unknown_foreign_keys(self) -> None:
        for fk in self.schema.foreign_keys:
            if fk.ref_table.startswith("seed:"):
                seed = self.settings.seeds_dir / f"{fk.ref_table.removeprefix('seed:')}.csv"
                ref = f"read_csv('{seed}', header = true)"
                where_day = ""
                label = f"seeds/{seed.name}"
            else:
                ref = f"raw.{fk.ref_table}"
                where_day = f"AND r._load_date <= {self._day}"
                label = f"raw.{fk.ref_table} up to {self.load_date}"
            self.con.execute(
                f"""UPDATE _stage SET _reject_column = '{fk.column}',
    _reject_reason = 'unknown {fk.column} ' || {fk.column} || ': not in {label}'
WHERE _reject_reason IS NULL
  AND NOT EXISTS (SELECT 1 FROM {ref} AS r WHERE r.{fk.ref_column} = _stage.{fk.column} {where_day})"""
            )

    def finish(self) -> SourceLoad:
        """Run the whole-day checks, move staged rows to raw or quarantine, reconcile, write the manifest."""
        self._flag_duplicates()
        self._flag_unknown_foreign_keys()
        name, day = self.schema.name, self._day
        self.con.execute(
            f"""INSERT INTO ingest.quarantine
SELECT '{name}', {day}, _source_file, _source_line, _reject_column, _reject_reason, _raw_line
FROM _stage WHERE _reject_reason IS NOT NULL"""
        )
        cols = ", ".join(self.schema.column_names)
        self.con.execute(
            f"""INSERT INTO {self.schema.table}
SELECT {cols}, {day}, _source_file, _source_line, _extra_columns
FROM _stage WHERE _reject_reason IS NULL"""
        )
        self.con.execute("DROP TABLE _stage")

        loaded = self._count(f"SELECT count(*) FROM {self.schema.table} WHERE _load_date = {day}")
        quarantined = self._count(
            f"SELECT count(*) FROM ingest.quarantine WHERE source = '{name}' AND load_date = {day} "
            "AND source_line > 0"
        )
        if self.rows_read != loaded + quarantined:
            raise ReconciliationError(
                f"{name} {self.load_date}: read {self.rows_read} rows but loaded {loaded} + quarantined "
                f"{quarantined} = {loaded + quarantined}; refusing to commit"
            )
        if self.schema.full_extract and loaded == 0:
            raise EmptyExtractError(
                f"{name} {self.load_date}: the full extract has no valid rows; loading it would mark every "
                f"{name.rstrip('s')} as deleted. Fix the delivery (quarantine shows why) and reload the day."
            )
        loaded_at = datetime.combine(self.load_date + timedelta(days=1), time())
        self.con.execute(
            "INSERT INTO ingest.load_manifest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                self.load_date,
                self.files,
                self.empty_files,
                self.bytes,
                self.rows_read,
                loaded,
                quarantined,
                json.dumps(self.sha256, sort_keys=True),
                loaded_at,
            ],
        )
        return SourceLoad(
            name,
            self.files,
            self.empty_files,
            self.bytes,
            self.rows_read,
            loaded,
            quarantined,
            tuple(self.drift),
        )

    def _count(self, sql: str) -> int:
        row = self.con.execute(sql).fetchone()
        return int(row[0]) if row else 0
