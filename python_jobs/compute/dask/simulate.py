"""Dask futures: the series scattered to every worker once, a future per chunk, results gathered as they
finish. A worker lost mid-run costs only its unfinished (or unfetched) keys: the scheduler recomputes them on
the workers left."""

from __future__ import annotations

import uuid

from distributed import Client, as_completed

from python_jobs.compute.dask.cluster import dask_client
from python_jobs.compute.engines import SimulationJob
from python_jobs.compute.kernel import TaskResult, run_task


def run_simulation(job: SimulationJob) -> list[TaskResult]:
    with dask_client(job.settings, saturate=True) as client:
        return run_on(client, job)


def run_on(client: Client, job: SimulationJob) -> list[TaskResult]:
    """The simulation on a client the caller holds (a test's cluster, the lab's)."""
    # Keys unique to this call (the scattered series' too): a second run on the same client with the same keys
    # would meet the first run's futures being released and fail with "lost dependencies".
    run = uuid.uuid4().hex[:8]
    series = client.scatter(job.series, broadcast=True, hash=False)
    tasks = job.tasks()
    futures = [
        client.submit(
            run_task, job.spec, series, t, key=f"simulate-{t.series}-{t.block_start}-{run}", retries=2
        )
        for t in tasks
    ]
    results = []
    for future in as_completed(futures):
        results.append(future.result())
        job.progress(1)
    return results
