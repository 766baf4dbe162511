"""A Dask client: a `LocalCluster` of worker processes by default, or the scheduler at GROCERY_DASK_SCHEDULER
(e.g. tcp://127.0.0.1:8786 of `dask scheduler` with `dask worker`s) by configuration.

A LocalCluster's workers get one thread each (the kernel holds the GIL between NumPy calls, so threads in one
worker would not run it side by side), a memory limit (above it they spill to `local_directory`, and pause and
are restarted further up), and no dashboard unless asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from distributed import Client, LocalCluster

from python_jobs.config import ComputeSettings


@contextlib.contextmanager
def dask_client(
    settings: ComputeSettings, *, local_directory: Path | None = None, memory_limit: str | None = None
) -> Iterator[Client]:
    if settings.dask_scheduler:
        with Client(settings.dask_scheduler, timeout="30s") as client:
            yield client
        return
    if local_directory is not None:
        local_directory.mkdir(parents=True, exist_ok=True)
    with (
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
