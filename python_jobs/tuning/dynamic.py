"""Dynamic allocation on the batch module's standalone cluster: executors added when tasks queue, removed when idle.

Local mode has one executor (the driver) and nothing to allocate, so this runs the tuned report on a real
standalone master + worker (`batch/spark/cluster.py`) with one-core executors, waits until the idle ones are
removed, and reads the timeline back from the application's event log (SparkListenerExecutorAdded/Removed).
Without an external shuffle service, executors holding shuffle files are only released once
`shuffleTracking.timeout` has passed: that is the setting that lets them go.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from python_jobs.batch.spark.cluster import standalone_cluster
from python_jobs.config import SparkSettings
from python_jobs.tuning.fixes import JobVariant
from python_jobs.tuning.inputs import Inputs
from python_jobs.tuning.metrics import read_app
from python_jobs.tuning.report_job import run_report


def dynamic_conf(max_executors: int = 2, idle_seconds: int = 3) -> dict[str, str]:
    return {
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",  # no external shuffle service here
        "spark.dynamicAllocation.shuffleTracking.timeout": f"{idle_seconds}s",
        "spark.dynamicAllocation.minExecutors": "0",
        "spark.dynamicAllocation.initialExecutors": "0",
        "spark.dynamicAllocation.maxExecutors": str(max_executors),
        "spark.dynamicAllocation.executorIdleTimeout": f"{idle_seconds}s",
        "spark.dynamicAllocation.cachedExecutorIdleTimeout": f"{idle_seconds}s",
        "spark.dynamicAllocation.schedulerBacklogTimeout": "1s",
        "spark.executor.cores": "1",
    }


def run_dynamic(
    inputs: Inputs,
    variant: JobVariant,
    spark: SparkSettings,
    cluster_dir: Path,
    *,
    max_executors: int = 2,
    idle_seconds: int = 3,
    wait_seconds: float = 120,
) -> dict[str, object]:
    """Run the report with dynamic allocation on a fresh standalone cluster; the executors' timeline and the
    checksums. The session stays open until every executor was released (or `wait_seconds` passed)."""
    from python_jobs.batch.spark.session import build_session

    if spark.event_log_dir is None:
        raise ValueError("dynamic allocation is read back from the event log: set an event log folder")
    with standalone_cluster(cluster_dir, cores=max_executors, memory=f"{max_executors}g") as cluster:
        settings = replace(spark, master=cluster.master_url, executor_memory="768m")
        session = build_session(settings, "tuning-dynamic", conf=dynamic_conf(max_executors, idle_seconds))
        try:
            result = run_report(session, inputs, variant)
            tracker = session.sparkContext._jsc.sc()
            deadline = time.monotonic() + wait_seconds
            # getExecutorIds: the live executors (the driver is not one of them on a cluster).
            while tracker.getExecutorIds().size() > 0 and time.monotonic() < deadline:
                time.sleep(1)
            released = tracker.getExecutorIds().size() == 0
        finally:
            session.stop()
    app = read_app(spark.event_log_dir, result.app_id)
    return {
        "app_id": result.app_id,
        "checksums": result.checksums,
        "job_seconds": round(result.seconds, 2),
        "all_released": released,
        "executors_added": [[round(t, 1), e] for t, e in app.executors_added],
        "executors_removed": [[round(t, 1), e, reason] for t, e, reason in app.executors_removed],
    }
