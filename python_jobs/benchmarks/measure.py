"""Measure a command in a fresh process: wall time, CPU time and peak RSS of its whole process tree.

The tree matters: a Spark driver's JVM or a Dask worker is a child process, and its memory counts.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Measurement:
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    output: str
    # Stopped by `measure` after its time limit: the wall time is then a lower bound, not the engine's time.
    timed_out: bool = False

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / 2**20


def _sample(root: psutil.Process, cpu: dict[int, float]) -> int:
    """RSS of the tree now; records each process's CPU time so far (the last sample before it exits counts)."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
            times = p.cpu_times()
            cpu[p.pid] = times.user + times.system
        except psutil.Error:
            continue
    return total


def measure(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    poll_seconds: float = 0.05,
    timeout_seconds: float | None = None,
) -> Measurement:
    """Run `command`, sampling the RSS of its process tree every `poll_seconds`.

    After `timeout_seconds` the whole tree is killed (a Spark JVM is a child: killing the Python parent alone
    would leave it running and hold the machine) and the measurement says it timed out."""
    # Output goes to a file, not a pipe: a full pipe would block the child while we only poll it.
    with tempfile.TemporaryFile(mode="w+") as log:
        started = time.perf_counter()
        popen = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        root = psutil.Process(popen.pid)
        peak = 0
        cpu: dict[int, float] = {}
        timed_out = False
        while popen.poll() is None:
            peak = max(peak, _sample(root, cpu))
            if timeout_seconds is not None and time.perf_counter() - started > timeout_seconds:
                timed_out = True
                children = _kill_children(root)
                popen.kill()
                popen.wait()
                # Killed children stay zombies until their parent is gone; then init reaps them.
                psutil.wait_procs(children, timeout=30)
                break
            time.sleep(poll_seconds)
        wall = time.perf_counter() - started
        log.seek(0)
        output = log.read()
    return Measurement(popen.returncode, wall, sum(cpu.values()), peak, output, timed_out)


def _kill_children(root: psutil.Process) -> list[psutil.Process]:
    # The root is left to Popen: psutil's wait would reap it, and Popen would then report exit code 0.
    try:
        procs = root.children(recursive=True)
    except psutil.Error:
        return []
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.Error:
            continue
    return procs


class TreeSampler:
    """Peak RSS of a running process tree (this process by default), sampled by a thread: for work that runs in
    this process and its children (a Ray runtime, a Dask LocalCluster) rather than in one command.

    `with TreeSampler() as s: ...` then `s.peak_rss_bytes`. Children that start and exit between two samples
    are missed: a lower bound, like `measure`'s."""

    def __init__(self, root: psutil.Process | None = None, poll_seconds: float = 0.05) -> None:
        self.root = root or psutil.Process()
        self.poll_seconds = poll_seconds
        self.peak_rss_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        cpu: dict[int, float] = {}
        while True:
            self.peak_rss_bytes = max(self.peak_rss_bytes, _sample(self.root, cpu))
            if self._stop.wait(self.poll_seconds):
                return

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss_bytes = max(self.peak_rss_bytes, _sample(self.root, {}))

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / 2**20
