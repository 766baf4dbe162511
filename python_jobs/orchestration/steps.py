"""A pipeline step as data: the command to run, what it reads, what it writes.

Reads and writes are resource names, not paths: `landing/2026-01-05`, `streaming/2026-01-05`, `warehouse`.
A name covers every name below it (`landing` covers `landing/2026-01-05`). The runner uses them to decide
which steps may run side by side (no step writes what another one reads or writes); `--dry-run` prints them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from python_jobs.config import REPO_ROOT

# The DuckDB warehouse takes one writer at a time: every step that loads or builds it writes this resource.
WAREHOUSE = "warehouse"


@dataclass(frozen=True)
class Step:
    name: str
    command: tuple[str, ...]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    # The simulated days the step serves: one for a day's step, all of them for a step that serves a run.
    days: tuple[date, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = REPO_ROOT

    @property
    def label(self) -> str:
        if len(self.days) == 1:
            return f"{self.days[0]} · {self.name}"
        if self.days:
            return f"{self.days[0]}..{self.days[-1]} · {self.name}"
        return self.name


@dataclass(frozen=True)
class StepResult:
    step: str
    days: tuple[date, ...]
    seconds: float
    started: float = 0.0  # seconds after the run began

    @property
    def day(self) -> date:
        """The last day the step served (a day's step: its day)."""
        return self.days[-1]


def covers(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + "/")


def overlap(left: Iterable[str], right: Iterable[str]) -> bool:
    right = tuple(right)
    return any(covers(a, b) or covers(b, a) for a in left for b in right)


def conflicts(earlier: Step, later: Step) -> bool:
    """Whether `later` must wait for `earlier`: one writes what the other reads or writes."""
    return (
        overlap(earlier.writes, later.reads)
        or overlap(earlier.writes, later.writes)
        or overlap(earlier.reads, later.writes)
    )


def by_day(days: Iterable[date], prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}/{d.isoformat()}" for d in days)
