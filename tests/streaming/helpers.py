"""Run the streaming modules the way a user does: `python -m streaming.<module>` in this (streaming) env."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from python_jobs.config import REPO_ROOT


def _start(module_args: list[str], **output) -> subprocess.Popen:
    """`python -m <module_args>` from the repo, in its own session: a kill of its process group takes the JVM and
    the Python workers PyFlink started with it."""
    return subprocess.Popen(
        [sys.executable, "-m", *module_args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        start_new_session=True,
        **output,
    )


def counted(rows: list[dict]) -> Counter:
    """Rows as a multiset: equal when the same rows come the same number of times, in any order."""
    return Counter(json.dumps(r, sort_keys=True) for r in rows)


def run_module(module: str, *args: str, timeout: float = 300) -> dict:
    # On a timeout the JVM and Python workers PyFlink started are killed with the module, instead of running on
    # and slowing every later test.
    with _start([module, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as popen:
        try:
            stdout, stderr = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.communicate()
            raise
    proc = subprocess.CompletedProcess(popen.args, popen.returncode, stdout, stderr)
    if proc.returncode != 0:
        raise AssertionError(
            f"{module} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    last = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return json.loads(last[-1]) if last else {}


def generate(out: Path, *, hours: float, sensors: int, seed: int = 7, day: str = "2026-01-05") -> dict:
    return run_module(
        "streaming.generator",
        "replay",
        "--out",
        str(out),
        "--hours",
        str(hours),
        "--sensors",
        str(sensors),
        "--seed",
        str(seed),
        "--day",
        day,
    )


def kill_9_when(module_args: list[str], ready: Callable[[], bool], *, timeout: float, too_early: str) -> None:
    """Run `python -m <module_args>` until `ready()` holds, then kill -9 its whole process group (the JVM and the
    Python workers too: a real crash takes the whole tree). Fails with `too_early` if the module finishes first,
    or if `ready` never holds."""
    proc = _start(module_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(too_early)
            if ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"not ready to be killed within {timeout:.0f} s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
