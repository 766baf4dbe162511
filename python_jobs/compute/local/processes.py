"""Shared-nothing on one machine: a pool of worker processes (`concurrent.futures`), each task's arguments
pickled to a worker and its result pickled back. Workers are spawned, not forked: a fork of a process that
already runs Ray's or Dask's threads can deadlock."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed

from python_jobs.compute.engines import SimulationJob
from python_jobs.compute.kernel import TaskResult, run_task


def start_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def run_simulation(job: SimulationJob) -> list[TaskResult]:
    with start_pool(job.workers) as pool:
        return run_on(pool, job)


def run_on(pool: ProcessPoolExecutor, job: SimulationJob) -> list[TaskResult]:
    """The simulation on a pool the caller holds (the lab's, open across sizes: spawning costs seconds)."""
    futures = [pool.submit(run_task, job.spec, job.series, task) for task in job.tasks()]
    results = []
    for future in as_completed(futures):
        results.append(future.result())
        job.progress(1)
    return results
