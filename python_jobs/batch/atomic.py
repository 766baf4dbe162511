"""Atomic file publication for the single-machine engines: write beside the target, fsync, rename over it.

A reader (or a crash) sees either the previous complete file or the new complete file, never a half-written
one: `os.replace` is atomic on POSIX when source and target are on the same file system, which is why the
temporary file lives in the target's own folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = ".tmp-"


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `target`, on any failure it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{target.name}")
    try:
        yield temp
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        os.replace(temp, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # ...and the rename itself survives a power cut
        finally:
            os.close(directory)
    finally:
        temp.unlink(missing_ok=True)


def write_atomic(target: Path, write: Callable[[Path], None]) -> None:
    with atomic_path(target) as temp:
        write(temp)


def remove_stale_temp_files(folder: Path) -> None:
    """Temporary files a killed writer left behind (they are never read, only cleaned)."""
    for stale in folder.glob(f"{TEMP_PREFIX}*"):
        stale.unlink(missing_ok=True)
