"""The batch engines' registry: one `Engine` per engine, looked up by name.

This is the pattern the other engine modules copy (python_jobs/compute for Ray/Dask, python_jobs/geo,
python_jobs/tuning): a frozen `Engine(name, family, run)` per engine in the dict `ENGINES`, whose `run` names
the engine's runner as a "module:function" string. The module is imported only when that engine runs, because
importing Spark or Modin costs seconds and listing the engines (the CLI's choices) must not. `get_engine` fails
with the known names; `run_engine` looks the engine up and runs it.

Every runner takes one `EngineJob`, writes the three outputs under `job.out_dir` (canonical.py reads them) and
returns facts worth reporting (bytes it spilled, where it can tell).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from python_jobs.batch.semantics import landing_days
from python_jobs.cli_support import import_entry
from python_jobs.config import ModinSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class EngineJob:
    """What a runner gets: the landing days to read, where to write, and what its engine needs."""

    landing_dir: Path
    seeds_dir: Path
    days: list[date]
    out_dir: Path
    work: Path  # scratch folder (spills, temp files), removed after the run
    spark: SparkSession | None = None  # the Spark engines' SparkSession: built and stopped by the caller
    modin: ModinSettings = field(default_factory=ModinSettings)


Runner = Callable[[EngineJob], dict[str, object]]


@dataclass(frozen=True)
class Engine:
    name: str
    family: str  # the package its code lives in: spark, pandas or reference
    run: str  # the runner, "module:function", imported when the engine runs

    def runner(self) -> Runner:
        return import_entry(self.run)


ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        Engine("spark-df", "spark", "python_jobs.batch.spark.df:run_job"),
        Engine("spark-sql", "spark", "python_jobs.batch.spark.sql:run_job"),
        Engine("spark-rdd", "spark", "python_jobs.batch.spark.rdd:run_job"),
        Engine("pandas", "pandas", "python_jobs.batch.pandas.engine:run_job"),
        Engine("pandas-chunked", "pandas", "python_jobs.batch.pandas.chunked:run_job"),
        Engine("duckdb", "reference", "python_jobs.batch.reference.duckdb:run_job"),
        Engine("polars", "reference", "python_jobs.batch.reference.polars:run_job"),
        Engine("modin", "pandas", "python_jobs.batch.pandas.modin:run_job"),
    )
}


def get_engine(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; one of {', '.join(ENGINES)}") from None


def run_engine(
    name: str,
    landing_dir: Path,
    seeds_dir: Path,
    out_dir: Path,
    *,
    through: date | None = None,
    spark=None,
    modin: ModinSettings | None = None,
) -> dict[str, object]:
    """Run one engine over the landing days up to `through` (default: all) and write its outputs to `out_dir`."""
    engine = get_engine(name)
    if engine.family == "spark" and spark is None:
        raise ValueError(f"engine {name!r} needs a SparkSession (spark=...)")
    days = landing_days(landing_dir, through)
    if not days:
        raise FileNotFoundError(f"no landing days under {landing_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / "_work"
    job = EngineJob(landing_dir, seeds_dir, days, out_dir, work, spark=spark, modin=modin or ModinSettings())
    try:
        return engine.runner()(job)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_result(result: dict[str, object]) -> None:
    # One JSON line on stdout: the lab parses it from the measured process's output.
    print("ENGINE_RESULT " + json.dumps(result, default=str))
