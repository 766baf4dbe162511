"""`python -m python_jobs.ingest`: load landing days into the warehouse `raw` schema."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from python_jobs.cli_support import parse_day, parse_days
from python_jobs.config import Settings, load_settings
from python_jobs.ingest.loader import DayLoad, EmptyExtractError, ReconciliationError, load_day
from python_jobs.ingest.outputs import OutputSchemaError, load_output
from python_jobs.ingest.reader import LandingFileError
from python_jobs.ingest.warehouse import WarehouseLockedError

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
err = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option(help="Data folder (default: GROCERY_DATA_DIR or ./data).")]
Warehouse = Annotated[
    Path | None, typer.Option(help="DuckDB file (default: WAREHOUSE_PATH or data/warehouse.duckdb).")
]
ChunkRows = Annotated[int, typer.Option(help="Rows per chunk: bounds memory whatever the file size.")]
CrashAt = Annotated[
    str | None,
    typer.Option(
        hidden=True, help="Fault injection (tests, labs): SIGKILL self at 'stage:<n>' or 'publish:<source>'."
    ),
]


def _settings(data_dir: Path | None, warehouse: Path | None) -> Settings:
    return load_settings().at(data_dir, warehouse)


def run_load(
    settings: Settings, when: date, chunk_rows: int = 100_000, crash_at: str | None = None
) -> DayLoad:
    """Load one day with a progress bar; turn the expected failures into one clear message and exit code 1."""
    files = sorted((settings.landing_dir / when.isoformat()).glob("*.csv"))
    total = sum(f.stat().st_size for f in files)
    try:
        with Progress(
            TextColumn("ingest {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task(when.isoformat(), total=total or None)
            result = load_day(
                settings,
                when,
                chunk_rows=chunk_rows,
                crash_at=crash_at,
                progress=lambda _source, size: bar.advance(task, size),
            )
    except (WarehouseLockedError, LandingFileError, ReconciliationError, EmptyExtractError) as exc:
        err.print(f"[bold red]ingest failed for {when}:[/] {exc}")
        raise typer.Exit(1) from None
    for source in result.sources:
        if source.drift_columns:
            err.print(
                f"[yellow]schema drift:[/] {source.source} on {when} has unexpected column(s) "
                f"{', '.join(sorted(set(source.drift_columns)))}; values kept in raw.{source.source}._extra_columns "
                "and recorded in ingest.schema_drift. Update docs/contracts.md and the schema to adopt them."
            )
    return result


def print_summary(result: DayLoad) -> None:
    table = Table(title=f"ingest {result.load_date}")
    for col in ("source", "files", "read", "loaded", "quarantined"):
        table.add_column(col, justify="right" if col != "source" else "left")
    for s in result.sources:
        table.add_row(s.source, str(s.files), str(s.rows_read), str(s.rows_loaded), str(s.rows_quarantined))
    Console().print(table)


@app.command()
def day(
    day: Annotated[
        list[str],
        typer.Option(help="Simulated day, YYYY-MM-DD or a day number (1 = GROCERY_START_DATE); repeatable."),
    ],
    data_dir: DataDir = None,
    warehouse: Warehouse = None,
    chunk_rows: ChunkRows = 100_000,
    crash_at: CrashAt = None,
) -> None:
    """Load the given simulated days in calendar order (a day loaded before is replaced)."""
    settings = _settings(data_dir, warehouse)
    for when in parse_days(settings, day):
        print_summary(run_load(settings, when, chunk_rows, crash_at))


@app.command()
def days(
    days: Annotated[int, typer.Option(help="Load days 1..DAYS.", min=1)],
    data_dir: DataDir = None,
    warehouse: Warehouse = None,
    chunk_rows: ChunkRows = 100_000,
) -> None:
    """Load simulated days 1..DAYS in order."""
    settings = _settings(data_dir, warehouse)
    for n in range(1, days + 1):
        print_summary(run_load(settings, settings.day_date(n), chunk_rows))


@app.command()
def output(
    path: Annotated[
        list[str],
        typer.Argument(
            help="Output files or folders of an engine job (globs expanded by the shell); TABLE=PATH loads "
            "that path into raw.TABLE instead of --table, so one process can load several tables."
        ),
    ],
    table: Annotated[
        str | None, typer.Option(help="Target table raw.<TABLE> (lower_snake_case) of plain paths.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="parquet, csv or json (newline-delimited).")
    ] = "parquet",
    day: Annotated[
        str | None,
        typer.Option(help="Replace this day's rows (default: the whole table); YYYY-MM-DD or a number."),
    ] = None,
    data_dir: DataDir = None,
    warehouse: Warehouse = None,
) -> None:
    """Load an engine job's output files into raw.<TABLE> (replacing that day, or the whole table)."""
    settings = _settings(data_dir, warehouse)
    by_table: dict[str, list[Path]] = {}
    for arg in path:
        name, sep, where = arg.partition("=")
        target = name if sep else table
        if target is None:
            raise typer.BadParameter(f"{arg}: give --table or write TABLE=PATH", param_hint="PATH")
        by_table.setdefault(target, []).append(Path(where if sep else arg))
    when = parse_day(settings, day) if day else None
    for target, paths in by_table.items():
        files = [f for p in paths for f in (sorted(p.rglob("*")) if p.is_dir() else [p]) if f.is_file()]
        files = [f for f in files if not f.name.startswith((".", "_"))]  # skip _SUCCESS, .crc and friends
        try:
            result = load_output(settings, target, files, fmt=fmt, load_date=when)
        except (WarehouseLockedError, OutputSchemaError, FileNotFoundError, ValueError) as exc:
            err.print(f"[bold red]output load failed for raw.{target}:[/] {exc}")
            raise typer.Exit(1) from None
        Console().print(f"raw.{result.table}: {result.rows_loaded:,} rows from {result.files} file(s)")
