"""`python -m python_jobs.batch`: the batch module's jobs (see docs/batch.md)."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from python_jobs.batch.engines import ENGINES, get_engine
from python_jobs.cli_support import known_name, parse_day
from python_jobs.config import Settings, load_modin_settings, load_settings

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option(help="Data folder with landing/ (default: GROCERY_DATA_DIR or ./data).")
]


def _settings(data_dir: Path | None, warehouse: Path | None = None) -> Settings:
    return load_settings().at(data_dir, warehouse)


@app.callback()
def main() -> None:
    """Batch jobs of module 1: Spark (DataFrame, SQL, RDD), pandas, DuckDB and Polars on the orders data."""


@app.command()
def engine(
    name: Annotated[
        str,
        typer.Argument(help=", ".join(ENGINES), callback=known_name(get_engine)),
    ],
    out: Annotated[Path, typer.Option(help="Folder for the three output tables.")],
    data_dir: DataDir = None,
    day: Annotated[
        str | None,
        typer.Option(help="Last landing day to read, YYYY-MM-DD or a day number (default: all)."),
    ] = None,
    max_memory_gib: Annotated[
        float | None,
        typer.Option(
            help="Address-space cap for this process (pandas engines), so running out of memory is a clean MemoryError."
        ),
    ] = None,
) -> None:
    """Run one engine over every landing day (clean data) and write its outputs: the lab's unit of work."""
    from python_jobs.batch.engines import print_result, run_engine

    settings = _settings(data_dir)
    if max_memory_gib is not None:
        cap = int(max_memory_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    spark = None
    if get_engine(name).family == "spark":
        from python_jobs.batch.spark.session import build_session
        from python_jobs.config import load_spark_settings

        spark = build_session(
            load_spark_settings(settings.data_dir), f"batch-{name}", local_dir=out.resolve() / "_spark-local"
        )
    try:
        result = run_engine(
            name,
            settings.landing_dir,
            settings.seeds_dir,
            out.resolve(),
            through=parse_day(settings, day) if day else None,
            spark=spark,
            modin=load_modin_settings(),
        )
        if spark is not None:
            result["spark_app_id"] = spark.sparkContext.applicationId
    except MemoryError:
        console.print(f"[red]{name}: out of memory[/]")
        print_result({"error": "out of memory"})
        raise typer.Exit(3) from None
    finally:
        if spark is not None:
            spark.stop()
    print_result(result)


@app.command("spark-run")
def spark_run(
    day: Annotated[
        str,
        typer.Option(
            help="Process every landing day up to and including this one, YYYY-MM-DD or a day number."
        ),
    ],
    data_dir: DataDir = None,
    window_days: Annotated[int, typer.Option(help="Daily partitions rewritten before each run day.")] = 3,
    force: Annotated[bool, typer.Option(help="Recompute days whose completion marker matches.")] = False,
) -> None:
    """The pipeline's Spark job: validate + stage landing days, rebuild daily outputs (Parquet, by day)."""
    from python_jobs.batch.semantics import landing_days
    from python_jobs.batch.spark.job import is_completed, run_day
    from python_jobs.batch.spark.session import build_session
    from python_jobs.config import load_spark_settings

    settings = _settings(data_dir)
    spark_settings = load_spark_settings(settings.data_dir)
    days = landing_days(settings.landing_dir, parse_day(settings, day))
    done = [] if force else [d for d in days if is_completed(settings, d)]
    for finished in done:
        console.print(f"{finished}: already done, skipped")
    days = [d for d in days if d not in done]
    if not days:
        return  # nothing to do: do not pay for a JVM and a Spark session
    spark = build_session(spark_settings, "batch-daily", local_dir=settings.data_dir / "tmp" / "spark-local")
    try:
        for run_day_ in days:
            run_day(
                spark,
                settings,
                spark_settings,
                run_day_,
                window_days=window_days,
                force=force,
                log=console.print,
            )
    finally:
        spark.stop()


@app.command()
def load(
    day: Annotated[str, typer.Option(help="Run day whose partitions to load, YYYY-MM-DD or a day number.")],
    data_dir: DataDir = None,
    warehouse: Annotated[
        Path | None, typer.Option(help="Warehouse file (default: <data-dir>/warehouse.duckdb).")
    ] = None,
) -> None:
    """Load what the Spark run of a day committed into raw.batch_* (as that run's version) and ingest.quarantine."""
    from python_jobs.batch.load import RunNotDoneError, load_day

    settings = _settings(data_dir, warehouse)
    try:
        loaded = load_day(settings, parse_day(settings, day))
    except RunNotDoneError as exc:
        console.print(f"[bold red]not loaded:[/] {exc}")
        raise typer.Exit(2) from None
    for target, rows in loaded.items():
        console.print(f"{target}: {rows:,} rows")
