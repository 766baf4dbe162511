"""Dask futures: the series scattered to every worker once, a future per chunk, results gathered as they
finish. A worker lost mid-run costs only its unfinished (or unfetched) keys: the scheduler recomputes them on
the workers left."""

from __future__ import annotations

from distributed import Client, as_completed

from python_jobs.compute.dask.cluster import dask_client
from python_jobs.compute.engines import SimulationJob
from python_jobs.compute.kernel import TaskResult, run_task


def run_simulation(job: SimulationJob) -> list[TaskResult]:
    with dask_client(job.settings) as client:
        return run_on(client, job)


def run_on(client: Client, job: SimulationJob) -> list[TaskResult]:
    """The simulation on a client the caller holds (a test's cluster, the lab's)."""
    series = client.scatter(job.series, broadcast=True)
    tasks = job.tasks()
    futures = [
        client.submit(run_task, job.spec, series, t, key=f"simulate-{t.series}-{t.block_start}", retries=2)
        for t in tasks
    ]
    results = []
    for future in as_completed(futures):
        results.append(future.result())
        job.progress(1)
    return results
