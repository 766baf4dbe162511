"""Ray tasks: every chunk a remote function call. The series go into the object store once (`ray.put`) and
every task reads them from there (zero-copy on one node). A task that dies with its worker is retried
(`max_retries`), and an object lost with its node is rebuilt from its lineage."""

from __future__ import annotations

import ray

from python_jobs.compute.engines import SimulationJob
from python_jobs.compute.kernel import TaskResult, run_task
from python_jobs.compute.ray.runtime import ensure_ray

simulate_task = ray.remote(max_retries=3)(run_task)


def run_simulation(job: SimulationJob) -> list[TaskResult]:
    ensure_ray(job.settings)
    series = ray.put(job.series)
    pending = [simulate_task.remote(job.spec, series, task) for task in job.tasks()]
    results: list[TaskResult] = []
    while pending:
        done, pending = ray.wait(pending, num_returns=min(len(pending), 8), timeout=1.0)
        results += ray.get(done)
        if done:
            job.progress(len(done))
    return results
