"""Ray actors as stateful workers: a pool of `workers` actors, each built once with the series in its memory;
tasks then ship only (first block, last block). An actor that dies is restarted (`max_restarts`) and the
calls it had not answered are retried on it (`max_task_retries`): the state it needs is rebuilt by its
constructor, since the series never change."""

from __future__ import annotations

import ray
from ray.util import ActorPool

from python_jobs.compute.engines import SimulationJob
from python_jobs.compute.kernel import Task, TaskResult, run_task
from python_jobs.compute.model import Series, SimulationSpec
from python_jobs.compute.ray.runtime import ensure_ray


@ray.remote(max_restarts=2, max_task_retries=2)
class SimulationWorker:
    def __init__(self, spec: SimulationSpec, series: Series) -> None:
        self.spec = spec
        self.series = series
        self.tasks_done = 0

    def run(self, task: Task) -> TaskResult:
        self.tasks_done += 1
        return run_task(self.spec, self.series, task)

    def pid(self) -> int:
        import os

        return os.getpid()


def run_simulation(job: SimulationJob) -> list[TaskResult]:
    ensure_ray(job.settings)
    # The series by value, not as an object-store reference: a restarted actor is rebuilt from its
    # constructor's arguments, and an argument held only in the object store could be gone by then.
    actors = [SimulationWorker.remote(job.spec, job.series) for _ in range(job.workers)]
    try:
        pool = ActorPool(actors)
        results = []
        for result in pool.map_unordered(lambda actor, task: actor.run.remote(task), job.tasks()):
            results.append(result)
            job.progress(1)
        return results
    finally:
        for actor in actors:
            ray.kill(actor)
