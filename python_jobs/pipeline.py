"""`python -m python_jobs.pipeline`: simulate N days end to end into a fresh warehouse.

For each simulated day the pipeline runs an explicit list of steps (each a command, so every engine keeps its
own process and environment): generate the landing files → ingest them into `raw` → `dbt build` with that day's
clock. Later modules add their steps to `day_steps`.

The warehouse is built in a private folder and moved over `data/warehouse.duckdb` only when every day has
succeeded: readers keep the previous good warehouse until then, a failed run leaves it untouched, and running the
pipeline twice gives the same warehouse instead of a doubled one.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from python_jobs.checksums import table_checksums
from python_jobs.config import REPO_ROOT, Settings, load_settings

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()


class PipelineBusyError(Exception):
    pass


@dataclass(frozen=True)
class Step:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO_ROOT


@dataclass
class StepResult:
    day: date
    step: str
    seconds: float


def dbt_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "dbt"), *args]


def dbt_day_env(when: date, *, scoped_tests: bool = True) -> dict[str, str]:
    """The environment of one simulated day's `dbt build`: the day it processes (GROCERY_RUN_DATE), and
    GROCERY_TEST_SINCE = that day, so the tests of the big append-only tables check that day's rows, not the whole
    history again (dbt_project/macros/test_scope.sql). Day after day this tests every row once; with
    `scoped_tests=False` (empty GROCERY_TEST_SINCE) a build tests everything.
    Environment rather than --vars: a changed --vars makes dbt re-parse the whole project every day, these are
    read only at execution (dbt_project/macros/run_date.sql)."""
    day = when.isoformat()
    return {"GROCERY_RUN_DATE": day, "GROCERY_TEST_SINCE": day if scoped_tests else ""}


def day_steps(settings: Settings, day: int, warehouse: Path) -> list[Step]:
    """The explicit per-day step list. Later modules (Spark, Flink, ...) add their jobs here."""
    when = settings.day_date(day)
    py = sys.executable
    common = ["--data-dir", str(settings.data_dir)]
    return [
        Step(
            "generate",
            [
                py,
                "-m",
                "python_jobs.generate",
                "day",
                "--day",
                when.isoformat(),
                "--seed",
                str(settings.seed),
                "--scale",
                str(settings.scale),
                "--bad-share",
                str(settings.bad_share),
                *common,
            ],
        ),
        Step(
            "ingest",
            [
                py,
                "-m",
                "python_jobs.ingest",
                "day",
                "--day",
                when.isoformat(),
                *common,
                "--warehouse",
                str(warehouse),
            ],
        ),
        # Module 2: the day's cold-chain sensor stream through the Flink SQL job (streaming environment: PyFlink
        # cannot live in this one), then its JSON outputs into raw.sensor_* through the spine's loader.
        Step(
            "flink replay",
            [
                str(REPO_ROOT / ".venv-streaming" / "bin" / "python"),
                *("-m", "streaming.day", "--day", when.isoformat(), "--seed", str(settings.seed)),
                *("--sensors", str(max(2, round(2 * settings.scale))), "--data-dir", str(settings.data_dir)),
            ],
        ),
        *(
            Step(
                f"load {table}",
                [
                    *(py, "-m", "python_jobs.ingest", "output", "--table", table, "--day", when.isoformat()),
                    *("--format", "json", *common, "--warehouse", str(warehouse)),
                    str(settings.data_dir / "outputs" / "streaming" / when.isoformat() / "sql" / folder),
                ],
            )
            for table, folder in (
                ("sensor_windows", "windows"),
                ("sensor_anomalies", "anomalies"),
                ("sensor_dead_letters", "dead_letters"),
            )
        ),
        # Module 1 (batch): the daily Spark job (validate + stage the landing day, rebuild the windowed daily
        # outputs; days already done are skipped by their markers), then its partitions into raw.batch_*.
        # A day is a few MB: two local cores and two shuffle partitions, since every partition is a task.
        Step(
            "spark batch",
            [py, "-m", "python_jobs.batch", "spark-run", "--day", when.isoformat(), *common],
            env={"GROCERY_SPARK_MASTER": "local[2]", "GROCERY_SPARK_SHUFFLE_PARTITIONS": "2"},
        ),
        Step(
            "load batch",
            [
                *(py, "-m", "python_jobs.batch", "load", "--day", when.isoformat()),
                *(*common, "--warehouse", str(warehouse)),
            ],
        ),
        Step(
            "dbt build",
            dbt_command("build"),
            # dbt's target/ and logs/ go under the data folder: two pipelines on two data folders never share them
            # (and the target/ kept from day to day holds the partial parse).
            env={
                **dbt_day_env(when),
                "WAREHOUSE_PATH": str(warehouse),
                "DBT_TARGET_PATH": str(settings.data_dir / "dbt" / "target"),
                "DBT_LOG_PATH": str(settings.data_dir / "dbt" / "logs"),
            },
            cwd=REPO_ROOT / "dbt_project",
        ),
        # The SQLMesh twin over the same raw tables, execution time pinned to the midnight after the day
        # (plan on the first day, run afterwards): see python_jobs/sqlmesh_step.py.
        Step(
            "sqlmesh",
            [py, "-m", "python_jobs.sqlmesh_step", "--day", when.isoformat(), "--warehouse", str(warehouse)],
            env={"SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "true"},
        ),
    ]


@contextmanager
def pipeline_lock(data_dir: Path) -> Iterator[None]:
    """One pipeline at a time per data folder: the second one stops with a message instead of racing."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir / ".pipeline.lock"
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise PipelineBusyError(
                f"another pipeline is already running on {data_dir} (PID {holder}, lock {lock_path}). "
                "Wait for it to finish; runs are not queued."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def run_step(step: Step, log_file: Path) -> None:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "PYTHONPATH": str(REPO_ROOT), **step.env}
    with log_file.open("a") as log:
        log.write(f"$ {' '.join(step.command)}\n")
        log.flush()
        proc = subprocess.run(step.command, cwd=step.cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise subprocess.CalledProcessError(proc.returncode, step.name, output=tail)


def run_pipeline(settings: Settings, days: int) -> list[StepResult]:
    """Build days 1..`days` in a private warehouse, then publish it atomically."""
    build_dir = settings.data_dir / "tmp" / f"pipeline-build-{os.getpid()}"
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True)
    # Same file name as the published warehouse: DuckDB names the catalog after the file, and dbt's views
    # refer to it, so the file must not be renamed to another stem after the build.
    warehouse = build_dir / settings.warehouse_path.name
    log_dir = settings.data_dir / "logs" / "pipeline"
    log_dir.mkdir(parents=True, exist_ok=True)
    results: list[StepResult] = []
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            plan = [(d, s) for d in range(1, days + 1) for s in day_steps(settings, d, warehouse)]
            task = bar.add_task("pipeline", total=len(plan))
            for day, step in plan:
                when = settings.day_date(day)
                bar.update(task, description=f"day {day} ({when}) · {step.name}")
                started = time.perf_counter()
                run_step(step, log_dir / f"{when.isoformat()}.log")
                results.append(StepResult(when, step.name, time.perf_counter() - started))
                bar.advance(task)
        _publish(warehouse, settings.warehouse_path)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    return results


def _publish(built: Path, target: Path) -> None:
    # Fold the WAL into the file so the single file is the whole warehouse, then swap it in with one rename.
    con = duckdb.connect(str(built))
    con.execute("CHECKPOINT")
    con.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    os.replace(built, target)


def summary_tables(warehouse: Path, results: list[StepResult]) -> list[Table]:
    steps = Table(title="seconds per step")
    step_names = list(dict.fromkeys(r.step for r in results))
    steps.add_column("day")
    for name in step_names:
        steps.add_column(name, justify="right")
    for when in dict.fromkeys(r.day for r in results):
        row = {r.step: r.seconds for r in results if r.day == when}
        steps.add_row(when.isoformat(), *(f"{row.get(n, 0):.1f}" for n in step_names))
    steps.add_row("total", *(f"{sum(r.seconds for r in results if r.step == n):.1f}" for n in step_names))

    tables = Table(title=f"warehouse {warehouse}")
    for col in ("schema", "table", "rows"):
        tables.add_column(col, justify="right" if col == "rows" else "left")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rel = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'ingest', 'snapshots', 'marts') ORDER BY 1, 2"
        ).fetchall()
        for schema, name in rel:
            (count,) = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()
            tables.add_row(schema, name, f"{count:,}")
        quarantine = Table(title="quarantined rows by reason")
        for col in ("source", "reason", "rows"):
            quarantine.add_column(col, justify="right" if col == "rows" else "left")
        for source, reason, count in con.execute(
            "SELECT source, regexp_replace(reason, '(:| at byte| \\(| [0-9]{2,}).*$', '') AS reason, count(*) "
            "FROM ingest.quarantine "
            "GROUP BY ALL ORDER BY 1, 2"
        ).fetchall():
            quarantine.add_row(source, reason.strip(), f"{count:,}")
    finally:
        con.close()
    checks = Table(title="mart checksums (equal across runs of the same DAYS, SCALE, SEED)")
    for col in ("table", "rows", "md5"):
        checks.add_column(col, justify="right" if col == "rows" else "left")
    for name, (count, digest) in table_checksums(warehouse).items():
        checks.add_row(name, f"{count:,}", digest)
    return [steps, tables, quarantine, checks]


@app.command()
def run(
    days: Annotated[int, typer.Option(help="Simulated days to run (1..DAYS).")] = 3,
    scale: Annotated[float | None, typer.Option(help="Scale factor of the generated data.")] = None,
    seed: Annotated[int | None, typer.Option(help="Generator seed.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data folder (default ./data).")] = None,
) -> None:
    """Run the whole pipeline for days 1..DAYS and publish the warehouse."""
    settings = load_settings()
    if data_dir is not None:
        data_dir = data_dir.resolve()
        settings = settings.with_(data_dir=data_dir, warehouse_path=data_dir / "warehouse.duckdb")
    if scale is not None:
        settings = settings.with_(scale=scale)
    if seed is not None:
        settings = settings.with_(seed=seed)
    started = time.perf_counter()
    try:
        with pipeline_lock(settings.data_dir):
            results = run_pipeline(settings, days)
    except PipelineBusyError as exc:
        console.print(f"[bold red]pipeline not started:[/] {exc}")
        raise typer.Exit(2) from None
    except subprocess.CalledProcessError as exc:
        console.print(
            f"[bold red]pipeline failed at step '{exc.cmd}'[/] (the published warehouse is unchanged):"
        )
        console.print(exc.output, markup=False, highlight=False)
        raise typer.Exit(1) from None
    for table in summary_tables(settings.warehouse_path, results):
        console.print(table)
    console.print(
        f"[green]done[/] in {time.perf_counter() - started:.1f}s: {days} day(s) at scale {settings.scale} → "
        f"{settings.warehouse_path}"
    )


if __name__ == "__main__":
    app()
