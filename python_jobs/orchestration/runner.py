"""Run steps: each a command in its own process, side by side where their reads and writes allow.

A step starts once every step before it in the plan that it conflicts with (steps.conflicts) has finished, and
at most `jobs` run at once. With `jobs=1` the plan runs strictly in order. The first failure stops new steps
from starting and stops the running ones (each engine writes atomically, so a stopped step leaves its previous
output, never half of a new one), then the failure is raised with the tail of the step's log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from python_jobs.orchestration.steps import Step, StepResult, conflicts
from python_jobs.orchestration.tools import child_env


class _Running:
    """The process groups of the steps running now, so a failure elsewhere can stop them (JVMs included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self.stopping = False

    def add(self, pid: int) -> None:
        with self._lock:
            self._groups.add(pid)

    def remove(self, pid: int) -> None:
        with self._lock:
            self._groups.discard(pid)

    def stop_all(self) -> None:
        with self._lock:
            self.stopping = True
            for pid in self._groups:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGTERM)


def run_step(step: Step, log_file: Path, running: _Running | None = None) -> None:
    """Run one step, its output appended to `log_file`; a failure raises CalledProcessError with the log's tail."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as log:
        log.write(f"$ {' '.join(step.command)}\n")
        log.flush()
        # Its own process group: stopping the step stops what it started (a JVM, Python workers) too.
        proc = subprocess.Popen(
            step.command,
            cwd=step.cwd,
            env=child_env(step.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=running is not None,
        )
        if running is not None:
            running.add(proc.pid)
            if running.stopping:
                os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait()
        finally:
            if running is not None:
                running.remove(proc.pid)
    if proc.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise subprocess.CalledProcessError(proc.returncode, step.name, output=tail)


def log_name(step: Step) -> str:
    """One log file per step, so steps that run side by side never interleave their lines."""
    days = (
        f"{step.days[0]}"
        if len(step.days) == 1
        else f"{step.days[0]}..{step.days[-1]}"
        if step.days
        else "run"
    )
    return f"{days}.{step.name.replace(' ', '-')}.log"


def run_steps(
    steps: Sequence[Step],
    log_dir: Path,
    *,
    jobs: int = 1,
    on_start: Callable[[Step], None] = lambda step: None,
    on_done: Callable[[Step, StepResult], None] = lambda step, result: None,
) -> list[StepResult]:
    """Run `steps` (a plan, in order) and return what each took, in the order they finished."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    began = time.perf_counter()
    waiting = list(steps)
    running: dict[Future[None], tuple[Step, float]] = {}
    groups = _Running()
    results: list[StepResult] = []
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while (waiting and failure is None) or running:
            if failure is None:
                for step in list(waiting):
                    if len(running) >= jobs:
                        break
                    ahead = waiting[: waiting.index(step)] + [s for s, _ in running.values()]
                    if any(conflicts(earlier, step) for earlier in ahead):
                        continue
                    waiting.remove(step)
                    on_start(step)
                    running[pool.submit(run_step, step, log_dir / log_name(step), groups)] = (
                        step,
                        time.perf_counter(),
                    )
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                step, started = running.pop(future)
                error = future.exception()
                if error is not None:
                    if failure is None:
                        failure = error
                        groups.stop_all()
                    continue
                result = StepResult(
                    step.name, step.days, time.perf_counter() - started, started=started - began
                )
                results.append(result)
                on_done(step, result)
    if failure is not None:
        raise failure
    return results
