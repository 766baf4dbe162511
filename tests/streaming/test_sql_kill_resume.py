"""The SQL goal path killed with -9 mid-replay and resumed from its retained checkpoint writes what one run writes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from helpers import counted, generate, kill_9_when, run_module

from streaming.benchmark import VARIANTS
from streaming.evaluate import read_json_rows
from streaming.flink_env import latest_checkpoint

PARTS = ("windows", "anomalies", "dead_letters")
# The documented fast path (docs/streaming.md), as the benchmark runs it; the later checkpoint interval wins.
FAST = VARIANTS["goal-fast-event-time-dedup"][1]


def _in_progress(out: Path) -> dict[str, int]:
    """The part files the sink is still writing (hidden until committed): their committed name and bytes."""
    # `.part-<uuid>-<subtask>-<n>.inprogress.<uuid>` is committed as `part-<uuid>-<subtask>-<n>`.
    return {
        p.name[1:].partition(".inprogress")[0]: p.stat().st_size
        for p in (out / "windows").glob(".part-*.inprogress*")
        if p.is_file()
    }


def _rows(out: Path) -> dict[str, Counter]:
    return {part: counted(read_json_rows(out / part)) for part in PARTS}


def test_kill_9_mid_replay_and_resume_gives_the_rows_of_one_run(tmp_path: Path) -> None:
    generate(tmp_path / "input", hours=24, sensors=32, seed=5)
    args = ["--input", str(tmp_path / "input"), *FAST]
    run_module("streaming.sql_job", *args, "--out", str(tmp_path / "once"))
    expected = _rows(tmp_path / "once")
    assert len(expected["windows"]) > 50_000 and expected["anomalies"] and expected["dead_letters"]

    out = tmp_path / "killed"
    job = ["streaming.sql_job", *args, "--out", str(out), "--checkpoint-interval-ms", "500"]
    written_at: list = []

    def checkpoint_after_written_rows() -> bool:
        # A checkpoint taken after rows were written: the restore must resume the half-written part file.
        checkpoint = latest_checkpoint(out / "_checkpoints")
        if not written_at and sum(_in_progress(out).values()) > 0:
            written_at.append(checkpoint)
        return bool(written_at) and checkpoint is not None and checkpoint != written_at[0]

    kill_9_when(
        job,
        checkpoint_after_written_rows,
        timeout=240,
        too_early="the job finished before it could be killed: generate more hours",
    )
    half_written = {name for name, size in _in_progress(out).items() if size > 0}
    assert half_written
    committed = _rows(out)
    assert sum(map(len, committed.values())) < sum(map(len, expected.values())), "the kill came after the end"

    run_module(*job, "--restore-from", str(latest_checkpoint(out / "_checkpoints")))
    resumed = _rows(out)
    # The restored sink finished the file it was writing when killed; a run from scratch would start new ones.
    assert half_written & {p.name for p in (out / "windows").glob("part-*")}
    for part in PARTS:
        # Counters: a row written twice (replayed past the checkpoint) or lost would show here.
        assert resumed[part] == expected[part], part
