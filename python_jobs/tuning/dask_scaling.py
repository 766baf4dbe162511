"""The simplified Dask report on LocalClusters set up three ways: fixed vs adaptive workers, limited vs unlimited
worker memory. Every run writes its own `performance_report` HTML and keeps the report's checksums.

* Scaling: `fixed` starts its workers before the clock starts; `adaptive` starts with none and lets
  `cluster.adapt(minimum=0, maximum=workers)` add them when tasks wait and remove them once idle. A thread polls
  the scheduler's worker list while the run lasts and for a while after it (removal comes only after
  `wait_count` idle checks, `interval` apart): the timeline is what was seen, not what adapt was asked for.
* Memory: `unlimited` (memory_limit 0) against `limited`, whose per-worker limit is sized from the unlimited
  run's persisted bytes so the enriched lines cannot all stay in memory. Only the `target` threshold (managed
  memory, the data's own size) is on in the limited run: spill/pause/terminate follow the worker process's RSS,
  whose baseline (the interpreter, pandas, pyarrow: ~150 MiB) is above any limit sized to small data, and a
  paused worker of a two-worker cluster waits forever. Bytes spilled come from each worker's SpillBuffer
  (`spill_metrics`), peak RSS from sampling the worker processes.
* Out of core: with `worker_memory` set (the lab sets it when the workers could not hold the data), every
  cluster here is capped at that many bytes a worker, spilling past `target` of managed memory and past `spill`
  of the RSS, never pausing or restarting, with freed heap given back (`OUT_OF_CORE`), and the memory table's
  first run is `capped` at it instead of `unlimited`. Dask's own default ("auto": the machine's memory
  split between the workers, then pause at 80 % and restart at 95 % of the RSS) would pause a worker of two
  forever or kill it mid-task on data larger than memory.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import dask
import psutil

from python_jobs.compute.dask.cluster import dask_client
from python_jobs.config import ComputeSettings
from python_jobs.labs.montecarlo_fit import spill_metrics
from python_jobs.tuning.dask_job import DaskRun, run_variant
from python_jobs.tuning.inputs import Inputs

ADAPT_INTERVAL = "250ms"
ADAPT_WAIT_COUNT = 4  # idle checks in a row before adapt removes a worker: one second at ADAPT_INTERVAL
SETTLE_SECONDS = 20.0  # how long after the run the timeline waits for adapt to remove the workers
TARGET = 0.6  # distributed's default `target`: spill once managed memory is above this share of the limit
SPILL = 0.7  # distributed's default `spill`: spill managed memory while the process's RSS is above this share

TARGET_ONLY = {
    "distributed.worker.memory.target": TARGET,
    "distributed.worker.memory.spill": False,
    "distributed.worker.memory.pause": False,
    "distributed.worker.memory.terminate": False,
}
# Capped at gigabytes, a worker's RSS is the measure the kernel kills on: past `spill` of the cap its managed data
# goes to disk too, and freed heap goes back to the machine (dask_client's trim_freed_memory).
OUT_OF_CORE = {**TARGET_ONLY, "distributed.worker.memory.spill": SPILL}


@contextmanager
def lab_client(
    workers: int, local_directory: Path, worker_memory: int | None = None, *, target_only: bool = False
) -> Iterator[object]:
    """A client of a new LocalCluster of `workers`: Dask's default memory settings (None), unlimited workers (0),
    or each capped at `worker_memory` bytes, out of core (module docstring); `target_only`: spilling only past
    `target`, for a limit sized below the worker process's own baseline (the limited run)."""
    limit = {"memory_limit": str(worker_memory)} if worker_memory is not None else {}
    memory = (TARGET_ONLY if target_only else OUT_OF_CORE) if worker_memory else {}
    with (
        dask.config.set(memory),
        dask_client(
            local_settings(workers),
            local_directory=local_directory,
            trim_freed_memory=bool(worker_memory),
            **limit,
        ) as client,
    ):
        yield client


def local_settings(workers: int) -> ComputeSettings:
    """A LocalCluster of `workers` one-thread worker processes, whatever GROCERY_DASK_SCHEDULER says: the lab
    compares cluster set-ups, which only a cluster it starts itself can show."""
    return replace(ComputeSettings(), workers=workers, dask_scheduler=None, dashboards=False)


class WorkerTimeline:
    """Polls a cluster's worker count from a thread: (seconds since start, workers) at every change."""

    def __init__(self, cluster: object, poll_seconds: float = 0.1) -> None:
        self.cluster = cluster
        self.poll_seconds = poll_seconds
        self.points: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.perf_counter()

    def _count(self) -> int:
        return len(self.cluster.scheduler_info.get("workers", {}))  # type: ignore[attr-defined]

    def _run(self) -> None:
        while True:
            n = self._count()
            if not self.points or self.points[-1][1] != n:
                self.points.append((round(time.perf_counter() - self._t0, 2), n))
            if self._stop.wait(self.poll_seconds):
                return

    def start(self) -> WorkerTimeline:
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def wait_for(self, workers: int, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.points and self.points[-1][1] == workers:
                return True
            time.sleep(self.poll_seconds)
        return False

    @property
    def added(self) -> int:
        return sum(max(0, b[1] - a[1]) for a, b in zip(self.points, self.points[1:], strict=False))

    @property
    def removed(self) -> int:
        return sum(max(0, a[1] - b[1]) for a, b in zip(self.points, self.points[1:], strict=False))


class WorkerRss:
    """Peak RSS of each worker process (polled; a worker restarted under a new pid counts as another one)."""

    def __init__(self, client: object, poll_seconds: float = 0.05) -> None:
        self.client = client
        self.poll_seconds = poll_seconds
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        procs: dict[int, psutil.Process] = {}
        while True:
            for pid in self.pids:
                try:
                    proc = procs.setdefault(pid, psutil.Process(pid))
                    self.peaks[pid] = max(self.peaks.get(pid, 0), proc.memory_info().rss)
                except psutil.Error:
                    continue
            if self._stop.wait(self.poll_seconds):
                return

    def __enter__(self) -> WorkerRss:
        self.pids = list(self.client.run(os.getpid).values())  # type: ignore[attr-defined]
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def max_mib(self) -> float:
        return round(max(self.peaks.values(), default=0) / 2**20, 1)


def reported(path: Path):
    from distributed import performance_report

    path.parent.mkdir(parents=True, exist_ok=True)
    # Inline resources: the HTML opens offline.
    return performance_report(filename=str(path), mode="inline")


def run_scaling(
    inputs: Inputs,
    out_dir: Path,
    *,
    workers: int = 2,
    modes: tuple[str, ...] = ("fixed", "adaptive"),
    worker_memory: int | None = None,
) -> list[dict[str, object]]:
    """The simplified report on `workers` fixed workers, then on an adaptive cluster of 0..`workers`."""
    rows = []
    for mode in modes:
        started = time.perf_counter()
        space = out_dir / "dask-space" / mode
        with lab_client(workers if mode == "fixed" else 0, space, worker_memory) as client:
            cluster = client.cluster
            if mode == "adaptive":
                cluster.adapt(  # type: ignore[union-attr]
                    minimum=0, maximum=workers, interval=ADAPT_INTERVAL, wait_count=ADAPT_WAIT_COUNT
                )
            timeline = WorkerTimeline(cluster).start()
            with reported(out_dir / f"dask-report-{mode}.html"):
                run = run_variant(inputs, "simplified", workers=workers)
            settled = timeline.wait_for(0, SETTLE_SECONDS) if mode == "adaptive" else True
            timeline.stop()
        rows.append(
            {
                "mode": mode,
                "workers": f"0..{workers}" if mode == "adaptive" else str(workers),
                "seconds": round(run.seconds, 2),
                "with_start_s": round(time.perf_counter() - started, 2),
                "added": timeline.added,
                "removed": timeline.removed,
                "timeline": timeline.points,
                "settled": settled,
                "checksums": run.checksums,
                "tasks": run.graph_tasks,
                "report": f"dask-report-{mode}.html",
            }
        )
    return rows


def _memory_limit(dask_worker: object) -> int | None:
    return dask_worker.memory_manager.memory_limit  # type: ignore[attr-defined]


def _persisted_bytes(run: DaskRun) -> int:
    return int(run.extra.get("persisted_bytes", 0))


def run_memory(
    inputs: Inputs,
    out_dir: Path,
    *,
    workers: int = 2,
    partitions: int | None = None,
    worker_memory: int | None = None,
) -> list[dict[str, object]]:
    """The simplified report with unlimited worker memory (or, out of core, `capped` at `worker_memory`), then
    with a limit per worker of a third of its share of the persisted lines (so `target` is a fifth of it: most
    of it must go to disk). `partitions`: of the fact, four per worker by default, so one partition is a
    fraction of what a worker holds."""
    partitions = partitions or 4 * workers
    rows: list[dict[str, object]] = []
    first = "capped" if worker_memory else "unlimited"
    limit: int | None = None
    for mode in (first, "limited"):
        cap = {"unlimited": 0, "capped": worker_memory, "limited": limit}[mode]
        with lab_client(workers, out_dir / "dask-space" / mode, cap, target_only=mode == "limited") as client:
            before = client.run(spill_metrics)
            # The limit as the workers hold it, not as asked: a worker started with another reads as such.
            held = {w or 0 for w in client.run(_memory_limit).values()}
            with WorkerRss(client) as rss, reported(out_dir / f"dask-report-memory-{mode}.html"):
                run = run_variant(inputs, "simplified", workers=workers, partitions=partitions)
            after = client.run(spill_metrics)
        spilled = int(sum(after[w]["written"] - before.get(w, {}).get("written", 0.0) for w in after))
        if mode == first:
            limit = max(1, _persisted_bytes(run) // (3 * workers))
        rows.append(
            {
                "mode": mode,
                "memory_limit": ", ".join(f"{w / 2**20:.2f} MiB" if w else "none" for w in sorted(held)),
                "persisted_mib": round(_persisted_bytes(run) / 2**20, 2),
                "seconds": round(run.seconds, 2),
                "spilled_bytes": spilled,
                "peak_worker_rss_mib": rss.max_mib,
                "checksums": run.checksums,
                "report": f"dask-report-memory-{mode}.html",
            }
        )
    return rows
