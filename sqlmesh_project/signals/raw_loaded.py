"""Signal: a daily interval is ready only once its day has been loaded into `raw`.

The simulated calendar lives in the past (days from 2026-01-05), while SQLMesh's clock is the wall clock. Without
this signal a hand-typed `sqlmesh run` would process every day up to yesterday, stamping SCD2 deletes at days for
which no extract exists. With it, SQLMesh only builds the days the ingest job has delivered, exactly like the
pipeline (which also pins the execution time, see python_jobs/sqlmesh_step.py).
"""

from __future__ import annotations

from sqlmesh import ExecutionContext, signal
from sqlmesh.utils.date import DatetimeRanges


@signal()
def raw_loaded(batch: DatetimeRanges, context: ExecutionContext) -> bool | DatetimeRanges:
    # raw.customers is a full extract delivered every day: its newest load day is the newest complete day.
    row = context.engine_adapter.fetchone("SELECT CAST(MAX(_load_date) AS VARCHAR) FROM raw.customers")
    latest = row[0] if row else None
    if latest is None:
        return False
    return [(start, end) for start, end in batch if start.date().isoformat() <= latest]
