"""The baseline: every task in this process, one after the other (one core)."""

from __future__ import annotations

from python_jobs.compute.engines import SimulationJob
from python_jobs.compute.kernel import TaskResult, run_task


def run_simulation(job: SimulationJob) -> list[TaskResult]:
    results = []
    for task in job.tasks():
        results.append(run_task(job.spec, job.series, task))
        job.progress(1)
    return results
