"""`python -m python_jobs.tuning`: the performance tuning module's report job, slow or tuned (docs/tuning.md)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from python_jobs.cli_support import known_name
from python_jobs.config import load_settings, load_spark_settings
from python_jobs.tuning.fixes import FIX_NAMES, FIXES, STORAGE_LEVELS, JobVariant, get_fix

if TYPE_CHECKING:
    from python_jobs.tuning.inputs import Inputs

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console(stderr=True)

Dataset = Annotated[
    Path, typer.Option(help="Dataset folder: landing/ from the generator, tuning/ once prepared.")
]


def _check_fixes(names: list[str] | None) -> list[str] | None:
    for name in names or ():
        known_name(get_fix)(name)
    return names


def _load_inputs(dataset: Path) -> Inputs:
    """The dataset's prepared inputs, or exit 2 saying what is missing (e.g. `prepare` not run yet)."""
    from python_jobs.tuning.inputs import Inputs

    try:
        return Inputs.load(dataset.resolve(), load_settings().seeds_dir)
    except FileNotFoundError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


@app.command("fixes")
def list_fixes() -> None:
    """The fixes, in the order the lab applies them, and where Spark shows each one."""
    table = Table("fix", "anti-pattern it removes", "where Spark shows it")
    for fix in FIXES:
        table.add_row(fix.name, fix.what, fix.metric)
    Console().print(table)


@app.command()
def prepare(dataset: Dataset) -> None:
    """Write the job's inputs (the fact as CSV/Parquet, flat/by order day; the dimensions) from landing/."""
    from python_jobs.batch.spark.session import build_session
    from python_jobs.tuning.inputs import prepare as prepare_inputs

    settings = load_settings()
    dataset = dataset.resolve()
    spark_settings = replace(load_spark_settings(settings.data_dir), event_log_dir=None)
    spark = build_session(spark_settings, "tuning-prepare")
    try:
        inputs = prepare_inputs(spark, dataset, settings.seeds_dir)
    finally:
        spark.stop()
    console.print(
        f"{inputs.fact_rows:,} fact rows; window {inputs.window_start}..{inputs.window_end}; "
        f"bytes per layout {inputs.fact_bytes} -> {inputs.root}"
    )


@app.command()
def run(
    dataset: Dataset,
    out: Annotated[Path, typer.Option(help="Folder for the outputs, plans/ and result.json.")],
    fix: Annotated[
        list[str] | None,
        typer.Option(help=f"A fix to turn on (repeatable): {', '.join(FIX_NAMES)}.", callback=_check_fixes),
    ] = None,
    tuned: Annotated[bool, typer.Option("--tuned", help="Every fix on (the tuned job).")] = False,
    storage_level: Annotated[
        str, typer.Option(help=f"How the cache fix persists: {', '.join(STORAGE_LEVELS)}.")
    ] = "MEMORY_AND_DISK",
    slow_partitions: Annotated[
        int, typer.Option(help="Shuffle partitions without the partitions fix (Spark's default).", min=1)
    ] = 200,
) -> None:
    """Run the report job with the given fixes on (none: the slow job) in a fresh Spark application."""
    from python_jobs.tuning.run import run_variant, sized_variant

    if storage_level not in STORAGE_LEVELS:
        raise typer.BadParameter(
            f"unknown storage level {storage_level!r}; one of {', '.join(STORAGE_LEVELS)}",
            param_hint="--storage-level",
        )
    settings = load_settings()
    dataset = dataset.resolve()
    spark_settings = load_spark_settings(settings.data_dir)
    inputs = _load_inputs(dataset)
    variant = JobVariant(
        fixes=frozenset(FIX_NAMES if tuned else (fix or ())),
        storage_level=storage_level,
        slow_partitions=slow_partitions,
    )
    variant = sized_variant(variant, inputs, spark_settings.master)
    record = run_variant(dataset, settings.seeds_dir, out.resolve(), variant, spark_settings)
    json.dump(record, sys.stdout, indent=2)
    sys.stdout.write("\n")


@app.command()
def dynamic(
    dataset: Dataset,
    out: Annotated[Path, typer.Option(help="Folder for the cluster's files and dynamic.json.")],
    max_executors: Annotated[
        int, typer.Option(help="Executors (one core each) the job may grow to.", min=1)
    ] = 2,
) -> None:
    """The tuned report on a fresh standalone cluster with dynamic allocation: executors added and removed."""
    from python_jobs.batch.atomic import write_atomic
    from python_jobs.tuning.dynamic import run_dynamic
    from python_jobs.tuning.run import sized_variant

    out = out.resolve()
    spark_settings = load_spark_settings(load_settings().data_dir)
    inputs = _load_inputs(dataset)
    variant = sized_variant(JobVariant(fixes=frozenset(FIX_NAMES)), inputs, f"local[{max_executors}]")
    record = run_dynamic(inputs, variant, spark_settings, out / "cluster", max_executors=max_executors)
    write_atomic(out / "dynamic.json", lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))
    json.dump(record, sys.stdout, indent=2)
    sys.stdout.write("\n")


@app.command("duckdb")
def duckdb_reference(
    dataset: Dataset,
    out: Annotated[Path, typer.Option(help="Folder for the outputs and result.json.")],
    threads: Annotated[int | None, typer.Option(help="DuckDB threads (default: all cores).", min=1)] = None,
) -> None:
    """The same report in DuckDB (the reference the tuned job is compared with): outputs and result.json."""
    from python_jobs.tuning.duckdb_report import run_duckdb_report, write_duckdb_result

    inputs = _load_inputs(dataset)
    record = write_duckdb_result(out.resolve(), run_duckdb_report(inputs, threads=threads))
    json.dump(record, sys.stdout, indent=2)
    sys.stdout.write("\n")


@app.command()
def probe(
    dataset: Dataset,
    repeat: Annotated[
        int, typer.Option(help="Measured runs per step (the best is kept), after one warm-up.", min=1)
    ] = 2,
    threads: Annotated[int | None, typer.Option(help="DuckDB threads (default: all cores).", min=1)] = None,
    out: Annotated[Path | None, typer.Option(help="Write the rows as JSON here too.")] = None,
) -> None:
    """Where the tuned job loses to DuckDB: each step of the report timed alone in both engines."""
    import time

    from python_jobs.batch.atomic import write_atomic
    from python_jobs.batch.spark.session import build_session
    from python_jobs.tuning.probe import probe_variant, run_probes
    from python_jobs.tuning.run import sized_variant

    settings = load_settings()
    inputs = _load_inputs(dataset)
    started = time.perf_counter()
    spark_settings = replace(load_spark_settings(settings.data_dir), event_log_dir=None)
    spark = build_session(spark_settings, "tuning-probe")
    start_s = time.perf_counter() - started
    # The tuned job's sizes for this data (shuffle partitions from the window's bytes).
    variant = sized_variant(probe_variant(), inputs, spark_settings.master)
    try:
        rows = run_probes(spark, inputs, variant, repeat=repeat, threads=threads)
    finally:
        spark.stop()
    table = Table("step", "result rows", "Spark s", "DuckDB s", "Spark / DuckDB", "same result", "what")
    table.add_row(
        "start", "", f"{start_s:.2f}", "", "", "", "the SparkSession (a JVM); DuckDB runs in this process"
    )
    for row in rows:
        table.add_row(
            row.name, f"{row.rows:,}", f"{row.spark_s:.2f}", f"{row.duckdb_s:.2f}", f"{row.ratio:.1f}x",
            str(row.equal), row.what,
        )  # fmt: skip
    Console(width=max(Console().width, 200)).print(table)  # a line per step, also when piped to a file
    if out is not None:
        record = {
            "start_s": round(start_s, 3),
            "steps": [{**vars(r), "ratio": round(r.ratio, 2)} for r in rows],
        }
        write_atomic(out, lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))
    if not all(row.equal for row in rows):
        console.print("[red]Spark and DuckDB disagree on a step's result[/red]")
        raise typer.Exit(1)
