"""Hand the Spark job's committed partitions of a run day to the spine's loader (the job never opens the
warehouse itself): daily tables into `raw.batch_<table>`, the quarantine into `ingest.quarantine`.

The job's run of day D rewrites the order-day partitions D-3..D in place (an order can still change for 3
days), and publishes what it committed under `runs/<D>/` (see spark/job.py). The raw tables keep every run's
version: run day D's partitions are loaded from that folder with `_load_date = D` (replace-by-run-day). A model
built for run day D then takes, for each order day, the version of the latest run up to D, so a replay of an
earlier day (the Postgres build replays every day over the full raw tables) sees what that day saw.
"""

from __future__ import annotations

from datetime import date

from python_jobs.batch.spark.job import DAILY_OUTPUTS, is_completed, root, run_folder
from python_jobs.batch.spark.landing import QUARANTINE_SOURCE_PREFIX
from python_jobs.config import Settings
from python_jobs.ingest.outputs import load_output, load_quarantine


class RunNotDoneError(RuntimeError):
    """The run day asked for has no completed Spark run (or its inputs changed since)."""


def load_day(settings: Settings, day: date) -> dict[str, int]:
    if not is_completed(settings, day):
        raise RunNotDoneError(
            f"no completed Spark run of {day} matches the landing files: run `spark-run --day {day}` first"
        )
    base = root(settings)
    run = run_folder(base, day)
    loaded: dict[str, int] = {}
    for table in DAILY_OUTPUTS:
        files = sorted((run / table).glob("day=*/*.parquet"))  # every partition the run published
        if files:
            result = load_output(settings, f"batch_{table}", files, load_date=day)
            loaded[f"raw.batch_{table}/{day}"] = result.rows_loaded
    quarantine = sorted((base / "quarantine" / f"day={day.isoformat()}").glob("*.parquet"))
    for source in ("orders", "order_lines"):
        name = QUARANTINE_SOURCE_PREFIX + source
        loaded[f"ingest.quarantine/{name}/{day}"] = load_quarantine(
            settings, quarantine, source=name, load_date=day
        )
    return loaded
