"""Load one simulated day of landing files into `raw`, atomically, with every bad row quarantined.

The pattern, in two phases:
1. Stage (outside any transaction, bounded memory): read each file in chunks, validate each chunk with vectorised
   pandas checks, and write the typed good rows and the rejects as Parquet parts in a private folder.
2. Publish (one DuckDB transaction for the whole day): for each source, delete what an earlier load of this day
   wrote, find the rows that need the whole day to judge (duplicate keys, unknown foreign keys) with set-based SQL
   over the staged Parquet, then insert good rows into `raw` and everything else into `ingest.quarantine`,
   reconcile the counts and write the manifest.

DuckDB streams `INSERT … SELECT` from Parquet to disk, so memory stays flat whatever the file size, and a crash at
any point leaves the previous committed day: the staged files are just thrown away.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

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


ProgressCallback = Callable[[str, int], None]  # (source, bytes of the file just staged)

_REJECT_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("column_name", pa.string()),
        ("reason", pa.string()),
        ("raw_line", pa.string()),
    ]
)


def day_dir(landing_dir: Path, load_date: date) -> Path:
    return landing_dir / load_date.isoformat()


def landing_files(landing_dir: Path, load_date: date, source: str) -> list[Path]:
    """`<source>.csv` first, then its extra parts `<source>-<suffix>.csv` in name order."""
    folder = day_dir(landing_dir, load_date)
    main = folder / f"{source}.csv"
    parts = sorted(folder.glob(f"{source}-*.csv"))
    return ([main] if main.exists() else []) + parts


def _die(point: str, crash_at: str | None) -> None:
    # Fault injection for the crash tests and the lab: die like a killed process would, with no clean-up.
    if crash_at is not None and crash_at == point:
        os.kill(os.getpid(), signal.SIGKILL)


def load_day(
    settings: Settings,
    load_date: date,
    *,
    chunk_rows: int = 100_000,
    crash_at: str | None = None,
    progress: ProgressCallback | None = None,
) -> DayLoad:
    """Load every source of `load_date` in one transaction and return what was read, loaded and quarantined.

    `crash_at` kills the process at a named point: `stage:<n>` after the n-th staged chunk, or
    `publish:<source>` inside the transaction right after that source's rows were inserted.
    """
    folder = day_dir(settings.landing_dir, load_date)
    if not folder.is_dir():
        raise LandingFileError(f"no landing folder for {load_date}: {folder} (run the generator first)")
    # Take the warehouse lock first, so a second writer fails before doing any work.
    con = connect(settings.warehouse_path)
    stage_root = settings.warehouse_path.parent / "tmp"
    # Holding the lock, any staging folder left by an earlier run was abandoned by a killed process.
    for stale in stage_root.glob("ingest-*"):
        shutil.rmtree(stale, ignore_errors=True)
    stage_root.mkdir(parents=True, exist_ok=True)
    stage_dir = Path(tempfile.mkdtemp(prefix="ingest-", dir=stage_root))
    try:
        staged = []
        chunks = 0
        for schema in SOURCES:
            files = landing_files(settings.landing_dir, load_date, schema.name)
            if not files:
                raise LandingFileError(
                    f"no landing file for source '{schema.name}' on {load_date} in {folder}"
                )
            stage = _StagedSource(schema, settings.landing_dir, stage_dir / schema.name)
            for rank, path in enumerate(files):
                for _ in stage.stage_file(path, rank, chunk_rows):
                    chunks += 1
                    _die(f"stage:{chunks}", crash_at)
                if progress:
                    progress(schema.name, path.stat().st_size)
            staged.append(stage)

        ensure_tables(con)
        con.execute("BEGIN TRANSACTION")
        results = []
        for stage in staged:
            results.append(_publish_source(con, stage, settings, load_date))
            _die(f"publish:{stage.schema.name}", crash_at)
        con.execute("COMMIT")
        return DayLoad(load_date, tuple(results))
    except BaseException:
        # Nothing of this day is kept: the previous committed state stays as it was.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
        shutil.rmtree(stage_dir, ignore_errors=True)


@dataclass
class _StagedSource:
    """One source's files of one day, validated chunk by chunk into Parquet parts."""

    schema: SourceSchema
    landing_dir: Path
    folder: Path
    rows_read: int = 0
    files: int = 0
    empty_files: int = 0
    bytes: int = 0
    parts: int = 0
    sha256: dict[str, str] = field(default_factory=dict)
    drift: list[tuple[str, str]] = field(default_factory=list)  # (file, column)

    def __post_init__(self) -> None:
        (self.folder / "rows").mkdir(parents=True)
        (self.folder / "rejects").mkdir(parents=True)

    def stage_file(self, path: Path, rank: int, chunk_rows: int):
        """Stage one file chunk by chunk, yielding after each chunk (the caller counts them)."""
        rel = path.relative_to(self.landing_dir).as_posix()
        landing = LandingFile(path, self.schema.column_names, chunk_rows)
        self.files += 1
        self.bytes += landing.size
        if landing.is_empty:
            self.empty_files += 1
            self._write_rejects([(rel, 0, None, "empty file (0 bytes)", "")])
        for chunk in landing.chunks():
            self._stage_chunk(rel, rank, chunk)
            yield chunk
        if landing.header:
            self.drift.extend((rel, c) for c in landing.header.unexpected)
        self.sha256[rel] = landing.sha256

    def _next_part(self, kind: str) -> Path:
        self.parts += 1
        return self.folder / kind / f"part-{self.parts:06d}.parquet"

    def _write_rejects(self, rows: list[tuple[str, int, str | None, str, str]]) -> None:
        columns = list(zip(*rows, strict=True))
        table = pa.Table.from_arrays(
            [pa.array(c, type=f.type) for c, f in zip(columns, _REJECT_SCHEMA, strict=True)],
            schema=_REJECT_SCHEMA,
        )
        pq.write_table(table, self._next_part("rejects"))

    def _stage_chunk(self, rel: str, rank: int, chunk: Chunk) -> None:
        self.rows_read += chunk.lines_read
        rejects = [(rel, r.line, r.column, r.reason, r.raw_line) for r in chunk.rejects]
        if chunk.rows:
            frame = pd.DataFrame(chunk.rows, columns=list(self.schema.column_names), dtype=object)
            good, bad = validate_chunk(self.schema, frame)
            rejects += [
                (rel, chunk.line_numbers[i], col, reason, chunk.texts[i])
                for i, col, reason in zip(bad.index, bad["column_name"], bad["reason"], strict=True)
            ]
            if len(good):
                keep = good.index
                good = good.assign(
                    _source_file=rel,
                    _file_rank=rank,
                    _source_line=[chunk.line_numbers[i] for i in keep],
                    _extra_columns=pd.array([chunk.extras[i] for i in keep], dtype=object),
                    _raw_line=[chunk.texts[i] for i in keep],
                )
                table = pa.Table.from_pandas(good, preserve_index=False)
                # An all-NULL object column has no type of its own: make it a string column.
                idx = table.schema.get_field_index("_extra_columns")
                table = table.set_column(idx, "_extra_columns", table.column(idx).cast(pa.string()))
                pq.write_table(table, self._next_part("rows"))
        if rejects:
            self._write_rejects(rejects)


def _publish_source(
    con: duckdb.DuckDBPyConnection, stage: _StagedSource, settings: Settings, load_date: date
) -> SourceLoad:
    """Inside the open transaction: replace this source's day with the staged rows, judged as a whole."""
    schema, name = stage.schema, stage.schema.name
    day = f"DATE '{load_date.isoformat()}'"
    con.execute(f"DELETE FROM {schema.table} WHERE _load_date = {day}")
    for table in ("ingest.quarantine", "ingest.schema_drift", "ingest.load_manifest"):
        con.execute(f"DELETE FROM {table} WHERE source = ? AND load_date = {day}", [name])

    has_rows = any((stage.folder / "rows").iterdir())
    rows = f"read_parquet('{stage.folder / 'rows'}/*.parquet')" if has_rows else None
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rejected "
        "(_source_file VARCHAR, _source_line BIGINT, column_name VARCHAR, reason VARCHAR, raw_line VARCHAR)"
    )
    if rows:
        _flag_duplicates(con, schema, rows)
        _flag_unknown_foreign_keys(con, schema, rows, settings, load_date)
    if any((stage.folder / "rejects").iterdir()):
        con.execute(
            f"INSERT INTO ingest.quarantine SELECT '{name}', {day}, source_file, source_line, column_name, reason, "
            f"raw_line FROM read_parquet('{stage.folder / 'rejects'}/*.parquet')"
        )
    con.execute(
        f"INSERT INTO ingest.quarantine SELECT '{name}', {day}, _source_file, _source_line, column_name, reason, "
        "raw_line FROM _rejected"
    )
    if rows:
        casts = ", ".join(f"CAST(s.{c.name} AS {c.sql_type})" for c in schema.columns)
        con.execute(
            f"""INSERT INTO {schema.table}
SELECT {casts}, {day}, s._source_file, s._source_line, s._extra_columns
FROM {rows} AS s
ANTI JOIN _rejected AS r ON r._source_file = s._source_file AND r._source_line = s._source_line"""
        )
    if stage.drift:
        con.executemany(
            "INSERT INTO ingest.schema_drift VALUES (?, ?, ?, ?, 'unexpected_column')",
            [[name, load_date, file, column] for file, column in stage.drift],
        )
    con.execute("DROP TABLE _rejected")

    loaded = _count(con, f"SELECT count(*) FROM {schema.table} WHERE _load_date = {day}")
    quarantined = _count(
        con,
        f"SELECT count(*) FROM ingest.quarantine WHERE source = '{name}' AND load_date = {day} AND source_line > 0",
    )
    if stage.rows_read != loaded + quarantined:
        raise ReconciliationError(
            f"{name} {load_date}: read {stage.rows_read} rows but loaded {loaded} + quarantined {quarantined} = "
            f"{loaded + quarantined}; refusing to commit"
        )
    if schema.full_extract and loaded == 0:
        raise EmptyExtractError(
            f"{name} {load_date}: the full extract has no valid rows; loading it would mark every "
            f"{name.removesuffix('s')} as deleted. Fix the delivery (quarantine shows why) and reload the day."
        )
    # The simulated nightly load time, not the wall clock: the warehouse must be identical run after run.
    loaded_at = datetime.combine(load_date + timedelta(days=1), time())
    con.execute(
        "INSERT INTO ingest.load_manifest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            name,
            load_date,
            stage.files,
            stage.empty_files,
            stage.bytes,
            stage.rows_read,
            loaded,
            quarantined,
            json.dumps(stage.sha256, sort_keys=True),
            loaded_at,
        ],
    )
    drift = tuple(dict.fromkeys(c for _, c in stage.drift))
    return SourceLoad(
        name, stage.files, stage.empty_files, stage.bytes, stage.rows_read, loaded, quarantined, drift
    )


def _flag_duplicates(con: duckdb.DuckDBPyConnection, schema: SourceSchema, rows: str) -> None:
    """Every occurrence of a key after its first (by file, then line) is a duplicate.

    The keys that repeat are found with a GROUP BY (which spills to disk), so the window that orders the
    occurrences only ever sees the few repeated keys, not the whole day.
    """
    key = ", ".join(schema.key)
    con.execute(
        f"""INSERT INTO _rejected
WITH repeated AS (SELECT {key} FROM {rows} GROUP BY ALL HAVING count(*) > 1),
occurrences AS (
  SELECT s._source_file, s._source_line, s._raw_line,
         first_value(s._source_file) OVER w AS first_file,
         first_value(s._source_line) OVER w AS first_line,
         row_number() OVER w AS n
  FROM {rows} AS s SEMI JOIN repeated USING ({key})
  WINDOW w AS (PARTITION BY {", ".join(f"s.{k}" for k in schema.key)} ORDER BY s._file_rank, s._source_line)
)
SELECT _source_file, _source_line, '{schema.key[0]}',
       'duplicate key ({key}): first delivered in ' || first_file || ' line ' || first_line, _raw_line
FROM occurrences WHERE n > 1"""
    )


def _flag_unknown_foreign_keys(
    con: duckdb.DuckDBPyConnection, schema: SourceSchema, rows: str, settings: Settings, load_date: date
) -> None:
    for fk in schema.foreign_keys:
        if fk.ref_table.startswith("seed:"):
            seed = settings.seeds_dir / f"{fk.ref_table.removeprefix('seed:')}.csv"
            ref = f"(SELECT DISTINCT {fk.ref_column} FROM read_csv('{seed}', header = true))"
            label = f"seeds/{seed.name}"
        else:
            # Any version delivered up to this day counts: an order re-sent for a since-deleted customer is valid.
            ref = (
                f"(SELECT DISTINCT {fk.ref_column} FROM raw.{fk.ref_table} "
                f"WHERE _load_date <= DATE '{load_date.isoformat()}')"
            )
            label = f"raw.{fk.ref_table} up to {load_date}"
        con.execute(
            f"""INSERT INTO _rejected
SELECT s._source_file, s._source_line, '{fk.column}',
       'unknown {fk.column} ' || s.{fk.column} || ': not in {label}', s._raw_line
FROM {rows} AS s
ANTI JOIN {ref} AS r ON r.{fk.ref_column} = s.{fk.column}
ANTI JOIN _rejected AS done ON done._source_file = s._source_file AND done._source_line = s._source_line"""
        )


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
