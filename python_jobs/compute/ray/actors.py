"""Ray actors as stateful workers: a pool of `workers` actors, each built once with the series (the fitted
parameters) in its memory; calls then ship only the spec and a block range. The pool is kept for the next call
with the same series and worker count (a lab's many sizes, a service's many requests): building it means new
worker processes and copies of the series, seconds that a call of a few seconds would otherwise pay each time.

An actor that dies is restarted (`max_restarts`) and the calls it had not answered are retried on it
(`max_task_retries`): the state it needs is rebuilt by its constructor, since the series never change."""

from __future__ import annotations

import contextlib
import hashlib
import os

import ray
from ray.util import ActorPool

from python_jobs.compute.engines import SimulationJob
from python_jobs.compute.kernel import Task, TaskResult, run_task
from python_jobs.compute.model import SERIES_COLUMNS, Series, SimulationSpec
from python_jobs.compute.ray.runtime import ensure_ray


@ray.remote(max_restarts=2, max_task_retries=2)
class SimulationWorker:
    def __init__(self, series: Series) -> None:
        self.series = series
        self.tasks_done = 0

    def run(self, spec: SimulationSpec, task: Task) -> TaskResult:
        self.tasks_done += 1
        return run_task(spec, self.series, task)

    def pid(self) -> int:
        return os.getpid()


# (series fingerprint, workers, Ray node and job) -> the actors of the pool kept from the last call, and the
# object-store reference of the series they were built from.
_kept: tuple[tuple[str, int, str], list, object] | None = None


def _fingerprint(series: Series) -> str:
    digest = hashlib.sha256()
    for column in SERIES_COLUMNS:
        digest.update(getattr(series, column).tobytes())
    return digest.hexdigest()


def actor_pool(series: Series, workers: int) -> list:
    """The kept pool when it serves these series with this many workers in this Ray job; a new one otherwise."""
    global _kept
    context = ray.get_runtime_context()
    # The node too: after ray.shutdown and a new runtime, the first job's id repeats, and the kept handles
    # would name actors of a runtime that is gone.
    key = (_fingerprint(series), workers, f"{context.get_node_id()}/{context.get_job_id()}")
    if _kept is not None and _kept[0] == key:
        return _kept[1]
    close_actor_pool()
    # A restarted actor is rebuilt from its constructor's arguments, which Ray keeps in the object store (NumPy
    # arrays always go there); once the caller's reference is gone they may be deleted, and the restart fails
    # ("has already been deleted by the reference counting protocol"). So the pool holds the reference for as
    # long as it lives.
    series_ref = ray.put(series)
    actors = [SimulationWorker.remote(series_ref) for _ in range(workers)]
    _kept = (key, actors, series_ref)
    return actors


def close_actor_pool() -> None:
    global _kept
    kept, _kept = _kept, None
    if kept is not None and ray.is_initialized():
        for actor in kept[1]:
            with contextlib.suppress(Exception):  # an actor of a runtime already shut down: nothing to kill
                ray.kill(actor)


def run_simulation(job: SimulationJob) -> list[TaskResult]:
    ensure_ray(job.settings)
    actors = actor_pool(job.series, job.workers)
    results = []
    try:
        pool = ActorPool(actors)
        for result in pool.map_unordered(lambda actor, task: actor.run.remote(job.spec, task), job.tasks()):
            results.append(result)
            job.progress(1)
    except BaseException:
        close_actor_pool()  # a pool that failed a call is not kept: the next call builds a fresh one
        raise
    return results
