"""kill -9 the whole job process tree mid-stream, resume in a new process from the retained checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import generate, run_module

from python_jobs.config import REPO_ROOT
from streaming.evaluate import exactly_once, read_lines
from streaming.flink_env import latest_checkpoint


def test_kill_9_and_resume_from_checkpoint_loses_and_repeats_nothing(tmp_path: Path) -> None:
    generate(tmp_path / "input", hours=2, sensors=3, seed=11)
    out = tmp_path / "ds"
    base = [
        sys.executable,
        "-m",
        "streaming.datastream_job",
        "--input",
        str(tmp_path / "input"),
        "--out",
        str(out),
        "--checkpoint-interval-ms",
        "500",
        "--unaligned",
    ]
    # Throttled so the job is still running when it is killed; its own session so kill -9 reaches the JVM
    # and the Python worker too (a real crash takes the whole tree).
    proc = subprocess.Popen(
        [*base, "--throttle-ms", "8"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError("the job finished before it could be killed: raise the throttle")
            if latest_checkpoint(out / "_checkpoints") is not None and len(read_lines(out / "clean")) > 200:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no committed checkpoint and output within 180 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    before = exactly_once(tmp_path / "input", out)
    assert before["lost"] > 0, "the kill came after the end of the stream"
    assert before["duplicates"] == 0

    checkpoint = latest_checkpoint(out / "_checkpoints")
    assert checkpoint is not None
    run_module(*base[2:], "--restore-from", str(checkpoint))
    after = exactly_once(tmp_path / "input", out)
    assert after["expected"] > 1000
    assert (after["duplicates"], after["lost"], after["unexpected"]) == (0, 0, 0), after
