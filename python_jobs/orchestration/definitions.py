"""The pipeline's steps, declared as data: all the wiring in one place.

`PIPELINE` lists one entry per step in the order a run needs them. An entry either serves a whole run at once
(one process for every day, so its start-up is paid once: generate, ingest, the Flink replay, the Spark job,
dbt, SQLMesh, which build day after day inside the process) or each day (`per_day`: a process a day, the
loads of the engines' outputs). A new module adds its steps here, one entry each,
and nothing else changes: `plan()` turns the entries into the steps of a run, the runner decides from their
reads and writes which may run side by side, and `python -m python_jobs.pipeline --dry-run` prints them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from python_jobs.config import Settings
from python_jobs.orchestration.steps import WAREHOUSE, Step, by_day
from python_jobs.orchestration.tools import MAIN_PYTHON, STREAMING_PYTHON
from streaming.files import SENSOR_LOADS, sensor_output_dir


@dataclass(frozen=True)
class PlanContext:
    settings: Settings
    warehouse: Path

    @property
    def data_args(self) -> tuple[str, ...]:
        return ("--data-dir", str(self.settings.data_dir))

    @property
    def warehouse_args(self) -> tuple[str, ...]:
        return ("--data-dir", str(self.settings.data_dir), "--warehouse", str(self.warehouse))


# The engine steps' JVMs live for well under a minute at pipeline sizes: the C2 compiler's work never pays back
# there, and with C1 alone the Flink replay and the Spark job each spent about a third less CPU for the same rows
# (docs/measurements.md). A long lab or benchmark keeps the JVM's default.
SHORT_LIVED_JVM = {"JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1"}

StepBuilder = Callable[[PlanContext, tuple[date, ...]], Step]


@dataclass(frozen=True)
class StepEntry:
    name: str
    module: str  # the curriculum module it belongs to, for the printed plan
    build: StepBuilder
    per_day: bool = True


def _day_args(days: Iterable[date]) -> tuple[str, ...]:
    return tuple(arg for d in days for arg in ("--day", d.isoformat()))


def generate(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    s = ctx.settings
    return Step(
        "generate",
        (
            *(MAIN_PYTHON, "-m", "python_jobs.generate", "day", *_day_args(days)),
            *("--seed", str(s.seed), "--scale", str(s.scale), "--bad-share", str(s.bad_share)),
            *ctx.data_args,
        ),
        reads=("seeds",),
        writes=(*by_day(days, "landing"), *by_day(days, "truth")),
        days=days,
    )


def flink_replay(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    # Module 2: each day's cold-chain sensor stream through the Flink SQL job, in the streaming environment
    # (PyFlink cannot live in this one). One process replays every day: one JVM start instead of one a day.
    s = ctx.settings
    return Step(
        "flink replay",
        (
            *(STREAMING_PYTHON, "-m", "streaming.day", *_day_args(days)),
            *("--seed", str(s.seed), "--scale", str(s.scale), *ctx.data_args),
        ),
        writes=by_day(days, "streaming"),
        days=days,
        env=SHORT_LIVED_JVM,
    )


def spark_batch(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    # Module 1: the daily Spark job validates and stages every landing day up to the last one and rebuilds each
    # run day's windowed outputs (days already done are skipped by their markers). A day is a few MB: two
    # local cores and two shuffle partitions, since every partition is a task.
    return Step(
        "spark batch",
        (MAIN_PYTHON, "-m", "python_jobs.batch", "spark-run", "--day", days[-1].isoformat(), *ctx.data_args),
        reads=by_day(days, "landing"),
        writes=by_day(days, "batch"),
        days=days,
        env={"GROCERY_SPARK_MASTER": "local[2]", "GROCERY_SPARK_SHUFFLE_PARTITIONS": "2", **SHORT_LIVED_JVM},
    )


def ingest(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    return Step(
        "ingest",
        (MAIN_PYTHON, "-m", "python_jobs.ingest", "day", *_day_args(days), *ctx.warehouse_args),
        reads=by_day(days, "landing"),
        writes=(WAREHOUSE,),
        days=days,
    )


def load_sensors(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    # The Flink job's JSON outputs into raw.sensor_* through the spine's loader, one table after the other.
    (when,) = days
    tables = tuple(
        f"{table}={sensor_output_dir(ctx.settings.data_dir, when, table)}" for table in SENSOR_LOADS
    )
    return Step(
        "load sensors",
        (
            *(MAIN_PYTHON, "-m", "python_jobs.ingest", "output", "--day", when.isoformat()),
            *("--format", "json", *ctx.warehouse_args, *tables),
        ),
        reads=by_day(days, "streaming"),
        writes=(WAREHOUSE,),
        days=days,
    )


def load_batch(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    (when,) = days
    return Step(
        "load batch",
        (MAIN_PYTHON, "-m", "python_jobs.batch", "load", "--day", when.isoformat(), *ctx.warehouse_args),
        reads=by_day(days, "batch"),
        writes=(WAREHOUSE,),
        days=days,
    )


def monte_carlo(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    # Module 4: per run day, the stock-out risk of next week by Monte Carlo over the batch module's published
    # outputs up to that day. One process for every day; the engine is a setting (GROCERY_COMPUTE_ENGINE,
    # NumPy by default: the rows are the same on every engine, and at pipeline sizes no cluster pays back).
    return Step(
        "monte carlo",
        (MAIN_PYTHON, "-m", "python_jobs.compute", "run", *_day_args(days), *ctx.data_args),
        reads=by_day(days, "batch"),
        writes=by_day(days, "compute"),
        days=days,
    )


def load_compute(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    (when,) = days
    return Step(
        "load compute",
        (MAIN_PYTHON, "-m", "python_jobs.compute", "load", "--day", when.isoformat(), *ctx.warehouse_args),
        reads=by_day(days, "compute"),
        writes=(WAREHOUSE,),
        days=days,
    )


def geo(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    # Module 5: the metro's map is static for a run, so one step serves every day: it generates the landing
    # files under landing/geo/ if they are missing (about a second) and writes data/geo/*.parquet. Its resources
    # are its own folders, so it runs beside the day-by-day engines.
    s = ctx.settings
    return Step(
        "geo",
        (
            *(MAIN_PYTHON, "-m", "python_jobs.geo", "run"),
            *("--seed", str(s.seed), "--scale", str(s.scale), *ctx.data_args),
        ),
        writes=("landing/geo", "truth/geo", "geo"),
        days=days,
    )


def load_geo(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    # The map has no load day: each raw.geo_* table is replaced whole (_load_date is NULL).
    return Step(
        "load geo",
        (MAIN_PYTHON, "-m", "python_jobs.geo", "load", *ctx.warehouse_args),
        reads=("geo",),
        writes=(WAREHOUSE,),
        days=days,
    )


def dbt_build(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    # Every day's `dbt build` in calendar order by one process (python_jobs/dbt_step.py): the staging models
    # hide raw rows loaded after the day they build, so building day D over raw tables that already hold later
    # days gives what building it that day gave, and Python's and dbt's start-up is paid once.
    data = ctx.settings.data_dir
    return Step(
        "dbt build",
        (MAIN_PYTHON, "-m", "python_jobs.dbt_step", *_day_args(days)),
        reads=("seeds",),
        writes=(WAREHOUSE, "dbt"),
        days=days,
        # dbt's target/ and logs/ go under the data folder: two pipelines on two data folders never share them
        # (and the target/ kept from run to run holds the partial parse).
        env={
            "WAREHOUSE_PATH": str(ctx.warehouse),
            "DBT_TARGET_PATH": str(data / "dbt" / "target"),
            "DBT_LOG_PATH": str(data / "dbt" / "logs"),
        },
    )


def sqlmesh(ctx: PlanContext, days: tuple[date, ...]) -> Step:
    # The SQLMesh twin over the same raw tables, execution time pinned to the midnight after each day (plan on
    # the first day, run afterwards), every day by one Context: see python_jobs/sqlmesh_step.py.
    return Step(
        "sqlmesh",
        (
            *(MAIN_PYTHON, "-m", "python_jobs.sqlmesh_step", *_day_args(days)),
            *("--warehouse", str(ctx.warehouse)),
        ),
        reads=("seeds",),
        writes=(WAREHOUSE, "sqlmesh"),
        days=days,
    )


# In the order a run needs them. The Flink replay generates its own stream, so it starts with `generate`;
# the loaders run before the models, which then build the days one after the other over the loaded raw tables.
PIPELINE: tuple[StepEntry, ...] = (
    StepEntry("generate", "foundation", generate, per_day=False),
    StepEntry("flink replay", "streaming", flink_replay, per_day=False),
    StepEntry("ingest", "foundation", ingest, per_day=False),
    StepEntry("spark batch", "batch", spark_batch, per_day=False),
    StepEntry("monte carlo", "compute", monte_carlo, per_day=False),
    StepEntry("geo", "geospatial", geo, per_day=False),
    StepEntry("load sensors", "streaming", load_sensors),
    StepEntry("load batch", "batch", load_batch),
    StepEntry("load compute", "compute", load_compute),
    StepEntry("load geo", "geospatial", load_geo, per_day=False),
    StepEntry("dbt build", "transformation", dbt_build, per_day=False),
    StepEntry("sqlmesh", "transformation", sqlmesh, per_day=False),
)
STEP_NAMES = tuple(e.name for e in PIPELINE)


def plan(
    settings: Settings,
    days: Iterable[int],
    warehouse: Path,
    *,
    only: Collection[str] | None = None,
    entries: tuple[StepEntry, ...] = PIPELINE,
) -> list[Step]:
    """The steps of a run over simulated days `days`, in the entries' order: a run-wide entry gives one step,
    and consecutive per-day entries give their steps day after day (day 1's, then day 2's, ...).

    `only` keeps the named steps (a lab that needs generate and ingest, say). Unknown names are an error."""
    unknown = set(only or ()) - {e.name for e in entries}
    if unknown:
        raise ValueError(
            f"no step named {sorted(unknown)}; the steps are {', '.join(e.name for e in entries)}"
        )
    chosen = [e for e in entries if only is None or e.name in only]
    dates = tuple(settings.day_date(d) for d in days)
    if not dates:
        return []
    ctx = PlanContext(settings, warehouse)
    steps: list[Step] = []
    for per_day, group in itertools.groupby(chosen, key=lambda e: e.per_day):
        run = list(group)
        if per_day:
            steps += [e.build(ctx, (when,)) for when in dates for e in run]
        else:
            steps += [e.build(ctx, dates) for e in run]
    return steps


def day_steps(
    settings: Settings, day: int, warehouse: Path, *, only: Collection[str] | None = None
) -> list[Step]:
    """One simulated day's steps (the run-wide ones serving that day alone)."""
    return plan(settings, [day], warehouse, only=only)
