"""kill -9 the whole job process tree mid-stream, resume in a new process from the retained checkpoint."""

from __future__ import annotations

from pathlib import Path

from helpers import generate, kill_9_when, run_module

from streaming.evaluate import exactly_once, read_lines
from streaming.flink_env import latest_checkpoint


def test_kill_9_and_resume_from_checkpoint_loses_and_repeats_nothing(tmp_path: Path) -> None:
    generate(tmp_path / "input", hours=2, sensors=3, seed=11)
    out = tmp_path / "ds"
    job = [
        "streaming.datastream_job",
        "--input",
        str(tmp_path / "input"),
        "--out",
        str(out),
        "--checkpoint-interval-ms",
        "500",
        "--unaligned",
    ]
    # Throttled so the job is still running when it is killed.
    kill_9_when(
        [*job, "--throttle-ms", "8"],
        lambda: latest_checkpoint(out / "_checkpoints") is not None and len(read_lines(out / "clean")) > 200,
        timeout=180,
        too_early="the job finished before it could be killed: raise the throttle",
    )

    before = exactly_once(tmp_path / "input", out)
    assert before["lost"] > 0, "the kill came after the end of the stream"
    assert before["duplicates"] == 0

    checkpoint = latest_checkpoint(out / "_checkpoints")
    assert checkpoint is not None
    run_module(*job, "--restore-from", str(checkpoint))
    after = exactly_once(tmp_path / "input", out)
    assert after["expected"] > 1000
    assert (after["duplicates"], after["lost"], after["unexpected"]) == (0, 0, 0), after
