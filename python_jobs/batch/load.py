"""Hand the Spark job's committed partitions of a run day to the spine's loader (the job never opens the
warehouse itself): daily tables into `raw.batch_<table>`, the quarantine into `ingest.quarantine`.

The job's run of day D rewrites the order-day partitions D-3..D in place (an order can still change for 3
days), so the files hold only the latest run's version. The raw tables keep every run's version instead:
run day D's partitions are loaded with `_load_date = D` (replace-by-run-day). A model built for run day D then
takes, for each order day, the version of the latest run up to D, so a replay of an earlier day (the Postgres
build replays every day over the full raw tables) sees what that day saw. That only works if each run day is
loaded right after its run, before a later run rewrites the same partitions; `load_day` refuses otherwise.
"""

from __future__ import annotations

from datetime import date, timedelta

from python_jobs.batch.semantics import WINDOW_DAYS
from python_jobs.batch.spark_job import DAILY_OUTPUTS, completed_days, root
from python_jobs.batch.spark_landing import QUARANTINE_SOURCE_PREFIX
from python_jobs.config import Settings
from python_jobs.ingest.outputs import load_output, load_quarantine


class LaterRunError(RuntimeError):
    """A later run day already rewrote the partitions of the run day asked for."""


def load_day(settings: Settings, day: date, window_days: int = WINDOW_DAYS) -> dict[str, int]:
    later = [d for d in completed_days(settings) if d > day]
    if later:
        raise LaterRunError(
            f"the Spark outputs were rewritten by the run of {later[-1]} after the run of {day}: its version of "
            f"the order days {day - timedelta(days=window_days)}..{day} is gone. Load each run day right after "
            f"its run (spark-run --through D, then load --day D), as the pipeline does."
        )
    base = root(settings)
    loaded: dict[str, int] = {}
    for table in DAILY_OUTPUTS:
        days = (
            [day]
            if table == "customer_rfm"
            else [day - timedelta(days=n) for n in range(window_days, -1, -1)]
        )
        files = [
            f for when in days for f in sorted((base / table / f"day={when.isoformat()}").glob("*.parquet"))
        ]
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
