"""Atomic, binary CSV writing with exact physical line numbers.

Files are written in binary because some bad lines are deliberately not valid UTF-8, and they go to a
temporary file in the target folder that is renamed over the final name only when complete: `os.replace`
is atomic within one file system, so a reader (or a crash) never sees half a file under the real name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Self

import numpy as np

TEMP_PREFIX = ".tmp-"
NEWLINE = ord("\n")


@dataclass(frozen=True)
class Block:
    """Rendered genuine CSV rows (each ending in `\\n`) and where each row starts."""

    data: bytes
    starts: np.ndarray  # byte offset of every row, plus len(data) as a final sentinel

    @classmethod
    def of(cls, data: bytes) -> Block:
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == NEWLINE) + 1
        return cls(data, np.concatenate([[0], ends]).astype(np.int64))

    @property
    def n_rows(self) -> int:
        return len(self.starts) - 1

    def row(self, i: int) -> bytes:
        """Row `i` without its line end."""
        return self.data[self.starts[i] : self.starts[i + 1] - 1]


class Insert(NamedTuple):
    """An extra (bad) line to place just before genuine row `before_row` of a block (n_rows = at the end)."""

    before_row: int
    line: bytes  # one physical line including its `\n`
    kind: str
    key: str


class WrittenLine(NamedTuple):
    line: int  # 1-based physical line number in the file, header = 1
    kind: str
    key: str


class AtomicFile:
    """A file written in blocks, published under its final name only if the `with` block succeeds."""

    def __init__(self, path: Path, header: Sequence[str] | None = None) -> None:
        self.path = path
        self.header = header
        self.lines = 0
        self._sha256 = hashlib.sha256()
        self._temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}")

    def __enter__(self) -> Self:
        self._file = open(self._temp, "wb")  # closed in __exit__
        if self.header is not None:
            self._write(",".join(self.header).encode("utf-8") + b"\n")
            self.lines = 1
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._file.close()
        if exc_type is None and not _holds(self.path, self._temp.stat().st_size, self.sha256):
            os.replace(self._temp, self.path)
        else:
            # Failed, or a rerun produced the very same bytes: keep the published file (and its modification
            # time, which is what lets downstream jobs see that an unchanged day needs no recomputation).
            self._temp.unlink(missing_ok=True)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def _write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._sha256.update(data)

    def write(self, data: bytes) -> None:
        """Append complete lines as they are."""
        self._write(data)
        self.lines += data.count(b"\n")

    def write_block(self, block: Block, inserts: Sequence[Insert] = ()) -> list[WrittenLine]:
        """Write a block of genuine rows with extra lines spliced in; returns where the extra lines landed."""
        view = memoryview(block.data)
        placed: list[WrittenLine] = []
        position = 0
        for j, insert in enumerate(sorted(inserts, key=lambda ins: ins.before_row)):
            if insert.line.count(b"\n") != 1 or not insert.line.endswith(b"\n"):
                raise ValueError(f"an extra line must be exactly one physical line: {insert.line!r}")
            cut = int(block.starts[insert.before_row])
            self._write(view[position:cut])
            self._write(insert.line)
            position = cut
            # Lines before this one: what was already in the file, the genuine rows before it, and the
            # extra lines placed earlier in this block.
            placed.append(WrittenLine(self.lines + insert.before_row + j + 1, insert.kind, insert.key))
        self._write(view[position:])
        self.lines += block.n_rows + len(inserts)
        return placed


def _holds(path: Path, size: int, sha256: str) -> bool:
    """Whether `path` already exists with exactly this content."""
    try:
        if path.stat().st_size != size:
            return False
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest() == sha256
    except FileNotFoundError:
        return False


def write_atomic(path: Path, data: bytes) -> str:
    """Write a small file in one go, atomically; returns its sha256."""
    with AtomicFile(path) as out:
        out.write(data)
    return out.sha256


def remove_stale_temp_files(folder: Path) -> None:
    """Temp files a crashed run left behind (never visible under a real name, but clutter)."""
    for stale in folder.glob(f"{TEMP_PREFIX}*"):
        stale.unlink(missing_ok=True)
