"""The simulation engines' registry: one `Engine` per engine, looked up by name (the pattern of
python_jobs/batch/engines.py). Every runner takes a `SimulationJob`, runs the kernel's tasks its own way and
returns their results; `simulate` merges them per series and checks that every path ran exactly once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from python_jobs.cli_support import import_entry
from python_jobs.compute.kernel import Task, TaskResult, Totals, check_complete, merge, plan_tasks
from python_jobs.compute.model import Series, SimulationSpec
from python_jobs.config import ComputeSettings

Progress = Callable[[int], None]  # called with the number of tasks just finished


def _no_progress(_: int) -> None:
    pass


@dataclass(frozen=True)
class SimulationJob:
    spec: SimulationSpec
    series: Series
    chunk_paths: int
    settings: ComputeSettings  # workers, and where a cluster runs (addresses)
    progress: Progress = _no_progress

    @property
    def workers(self) -> int:
        return self.settings.workers

    def tasks(self) -> list[Task]:
        return plan_tasks(len(self.series), self.spec, self.chunk_paths)


Runner = Callable[[SimulationJob], list[TaskResult]]


@dataclass(frozen=True)
class Engine:
    name: str
    family: str  # the subpackage its code lives in: local, ray or dask
    run: str  # "module:function", imported only when the engine runs (importing Ray costs seconds)
    memory: str  # shared or distributed: what the workers see of each other's memory

    def runner(self) -> Runner:
        return import_entry(self.run)


ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        Engine("numpy", "local", "python_jobs.compute.local.numpy:run_simulation", "one process"),
        Engine("processes", "local", "python_jobs.compute.local.processes:run_simulation", "shared-nothing"),
        Engine("ray-tasks", "ray", "python_jobs.compute.ray.tasks:run_simulation", "object store"),
        Engine("ray-actors", "ray", "python_jobs.compute.ray.actors:run_simulation", "object store + actor"),
        Engine("dask", "dask", "python_jobs.compute.dask.simulate:run_simulation", "distributed"),
    )
}


def get_engine(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; one of {', '.join(ENGINES)}") from None


def simulate(engine: str, job: SimulationJob) -> list[Totals]:
    """Run every task of `job` on `engine`: per series totals, each series' paths counted exactly once."""
    return checked_totals(engine, job, get_engine(engine).runner()(job))


def checked_totals(engine: str, job: SimulationJob, results: list[TaskResult]) -> list[Totals]:
    """Per series totals of `results`, after checking that every task of `job` is in them exactly once (no
    result lost, none doubled by a retry or a recomputation) and every series has exactly `spec.paths` paths."""
    seen = sorted((r.task.series, r.task.block_start, r.task.block_stop) for r in results)
    if seen != sorted((t.series, t.block_start, t.block_stop) for t in job.tasks()):
        raise RuntimeError(f"{engine}: {len(results)} task results for {len(job.tasks())} tasks")
    totals = merge(len(job.series), results)
    check_complete(job.spec, totals)
    return totals
