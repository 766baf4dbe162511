"""A Dask client: a `LocalCluster` of worker processes by default, or the scheduler at GROCERY_DASK_SCHEDULER
(e.g. tcp://127.0.0.1:8786 of `dask scheduler` with `dask worker`s) by configuration.

A LocalCluster's workers get one thread each (the kernel holds the GIL between NumPy calls, so threads in one
worker would not run it side by side), a memory limit (above it they spill to `local_directory`, and pause and
are restarted further up), and no dashboard unless asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import dask
from distributed import Client, LocalCluster

from python_jobs.config import ComputeSettings


@contextlib.contextmanager
def dask_client(
    settings: ComputeSettings,
    *,
    local_directory: Path | None = None,
    memory_limit: str | None = None,
    saturate: bool = False,
    trim_freed_memory: bool = False,
) -> Iterator[Client]:
    """A client of the configured scheduler, or of a new LocalCluster. `saturate`: the LocalCluster's scheduler
    sends every ready task to the workers at once instead of queueing them (for many alike, short tasks).
    `trim_freed_memory`: keep Dask's MALLOC_TRIM_THRESHOLD_ (see below), for workers that must give memory back
    to the machine after spilling: out of core, heap glibc keeps counts in the RSS and the kernel kills on it."""
    if settings.dask_scheduler:
        with Client(settings.dask_scheduler, timeout="30s") as client:
            yield client
        return
    if local_directory is not None:
        local_directory.mkdir(parents=True, exist_ok=True)
    with (
        _parent_environ_kept(TRIM_VARIABLE),
        # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap
        # threshold at 128 KiB: every block-sized array the kernel allocates is then a fresh mmap, zeroed page by
        # page, and the simulation's tasks ran far slower than the same calls in a plain process. Without it,
        # glibc reuses its heap as in any Python process (docs/compute.md, traps).
        dask.config.set(
            {
                "distributed.nanny.pre-spawn-environ": _worker_environ(trim_freed_memory),
                # Queueing keeps a memory-heavy graph (the fit) from loading every input at once; alike, short
                # tasks (the simulation) are better all sent at once, or each worker waits a round trip to the
                # scheduler after every task.
                "distributed.scheduler.worker-saturation": float("inf")
                if saturate
                else dask.config.get("distributed.scheduler.worker-saturation"),
            }
        ),
        LocalCluster(
            n_workers=settings.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit or settings.dask_memory_limit,
            dashboard_address=":0" if settings.dashboards else None,
            local_directory=str(local_directory) if local_directory else None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


TRIM_VARIABLE = "MALLOC_TRIM_THRESHOLD_"
# Dask's own pre-spawn value, set explicitly: an enclosing dask_client's config may have dropped it.
TRIM_THRESHOLD = 65536


def _worker_environ(trim_freed_memory: bool = False) -> dict[str, object]:
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    if trim_freed_memory:
        environ[TRIM_VARIABLE] = TRIM_THRESHOLD
    else:
        environ.pop(TRIM_VARIABLE, None)
    return environ


@contextlib.contextmanager
def _parent_environ_kept(name: str) -> Iterator[None]:
    """A LocalCluster's nannies live in this process and write their pre-spawn variables into its os.environ,
    where every later worker process inherits them: without this, one trimmed cluster would trim every cluster
    after it. The variable is removed for the cluster's life (the nannies set it again where asked) and put back
    as it was."""
    saved = os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if saved is not None:
            os.environ[name] = saved
