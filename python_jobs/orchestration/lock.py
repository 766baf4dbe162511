"""One pipeline at a time per data folder, and no private build folder left behind by a killed one."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUILD_PREFIX = "pipeline-build-"


class PipelineBusyError(Exception):
    pass


@contextmanager
def pipeline_lock(data_dir: Path) -> Iterator[None]:
    """The second pipeline on a data folder stops with a message instead of racing.

    flock, not a PID file: the kernel drops the lock when its holder dies, even by `kill -9`, so the next run
    never waits on a dead one. The PID written into the file is only for the message."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir / ".pipeline.lock"
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise PipelineBusyError(
                f"another pipeline is already running on {data_dir} (PID {holder}, lock {lock_path}). "
                "Wait for it to finish; runs are not queued."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def clear_stale_builds(data_dir: Path) -> list[Path]:
    """Remove the build folders of pipelines that died without cleaning up (killed with -9, power cut).

    Call it holding the lock: only the lock's holder builds in this data folder, so every build folder but
    its own is a dead run's (a PID check would not do: PIDs are reused)."""
    own = data_dir / "tmp" / f"{BUILD_PREFIX}{os.getpid()}"
    removed = []
    for folder in sorted((data_dir / "tmp").glob(f"{BUILD_PREFIX}*")):
        if folder != own:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
