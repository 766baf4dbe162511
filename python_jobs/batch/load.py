"""Hand the Spark job's committed partitions of a run day to the spine's loader (the job never opens the
warehouse itself): daily tables into `raw.batch_<table>` (one load per partition day, replace-by-day), the
quarantine into `ingest.quarantine`."""

from __future__ import annotations

from datetime import date, timedelta

from python_jobs.batch.semantics import WINDOW_DAYS
from python_jobs.batch.spark_job import DAILY_OUTPUTS, root
from python_jobs.batch.spark_landing import QUARANTINE_SOURCE_PREFIX
from python_jobs.config import Settings
from python_jobs.ingest.outputs import load_output, load_quarantine


def load_day(settings: Settings, day: date, window_days: int = WINDOW_DAYS) -> dict[str, int]:
    base = root(settings)
    loaded: dict[str, int] = {}
    for table in DAILY_OUTPUTS:
        days = (
            [day]
            if table == "customer_rfm"
            else [day - timedelta(days=n) for n in range(window_days, -1, -1)]
        )
        for when in days:
            files = sorted((base / table / f"day={when.isoformat()}").glob("*.parquet"))
            if files:
                result = load_output(settings, f"batch_{table}", files, load_date=when)
                loaded[f"raw.batch_{table}/{when}"] = result.rows_loaded
    quarantine = sorted((base / "quarantine" / f"day={day.isoformat()}").glob("*.parquet"))
    for source in ("orders", "order_lines"):
        name = QUARANTINE_SOURCE_PREFIX + source
        loaded[f"ingest.quarantine/{name}/{day}"] = load_quarantine(
            settings, quarantine, source=name, load_date=day
        )
    return loaded
