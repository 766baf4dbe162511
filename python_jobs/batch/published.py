"""The batch module's published outputs as other modules read them: the files of a daily table as it stood
after the run of a given day, each order day in the version of the latest run up to then.

The Spark job's run of day D publishes the partitions it rewrote under `runs/<D>/` (spark/job.py), so reading
as of D never sees a later run's rewrite of an earlier order day: a reader gets what a reader on day D got.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from python_jobs.batch.spark.job import DAILY_OUTPUTS, root
from python_jobs.config import Settings


def daily_files_as_of(settings: Settings, table: str, day: date) -> list[Path]:
    """Parquet files of `table` (product_daily, store_daily) for every order day up to `day`, as of `day`."""
    if table not in DAILY_OUTPUTS:
        raise ValueError(f"unknown batch table {table!r}; one of {', '.join(DAILY_OUTPUTS)}")
    runs = root(settings) / "runs"
    latest: dict[str, Path] = {}
    for run in sorted(p for p in runs.glob("*") if p.is_dir() and not p.name.startswith(".")):
        if date.fromisoformat(run.name) > day:
            continue
        for partition in (run / table).glob("day=*"):
            if date.fromisoformat(partition.name.removeprefix("day=")) <= day:
                latest[partition.name] = partition  # runs are visited in date order: the last one wins
    return [f for name in sorted(latest) for f in sorted(latest[name].glob("*.parquet"))]
