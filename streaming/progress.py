"""A dependency-free progress bar: the streaming environment has no rich/tqdm (PyFlink's pinned stack)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


class Progress:
    def __init__(self, total: int, label: str, *, width: int = 30, stream=sys.stderr) -> None:
        self.total = max(total, 1)
        self.label = label
        self.width = width
        self.stream = stream
        self.done = 0
        self.started = time.perf_counter()
        self._last_draw = 0.0
        # Only draw on a terminal: logs and CI captures stay readable.
        self.enabled = hasattr(stream, "isatty") and stream.isatty()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw > 0.1 or self.done >= self.total):
            self._last_draw = now
            filled = int(self.width * min(self.done, self.total) / self.total)
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{self.done}/{self.total} {now - self.started:5.1f}s"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def track(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    bar = Progress(total, label)
    try:
        for item in items:
            yield item
            bar.advance()
    finally:
        bar.close()
