"""The same DataStream job on a real Flink standalone cluster (JobManager + TaskManager JVMs on 127.0.0.1),
started from the wheel's bin/ scripts with its own config, pid and log folders, submitted with `flink run -py`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import generate

from python_jobs.config import REPO_ROOT
from streaming.cluster import StandaloneCluster
from streaming.evaluate import exactly_once, late_events, read_lines
from streaming.flink_env import latest_checkpoint

JOB = REPO_ROOT / "streaming" / "datastream_job.py"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    c = StandaloneCluster(tmp_path_factory.mktemp("flink-cluster"))
    c.start()
    try:
        yield c
    finally:
        c.stop()


def test_job_submitted_with_flink_run_is_exactly_once(cluster: StandaloneCluster, tmp_path: Path) -> None:
    generate(tmp_path / "input", hours=2, sensors=3, seed=21)
    result = cluster.submit(JOB, "--input", str(tmp_path / "input"), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "has finished" in result.stdout
    once = exactly_once(tmp_path / "input", tmp_path / "out")
    assert once["expected"] > 1000
    assert (once["duplicates"], once["lost"], once["unexpected"]) == (0, 0, 0)
    late = late_events(tmp_path / "input", tmp_path / "out")
    assert late["side_output"] == late["injected_late"] == late["injected_and_routed"]
    assert (cluster.home / "log").is_dir() and any((cluster.home / "pid").iterdir())


def test_taskmanager_killed_mid_job_recovers_on_a_replacement(
    cluster: StandaloneCluster, tmp_path: Path
) -> None:
    generate(tmp_path / "input", hours=2, sensors=3, seed=22)
    out = tmp_path / "out"
    job = cluster.submit_async(
        JOB,
        *("--input", str(tmp_path / "input"), "--out", str(out)),
        *("--throttle-ms", "8", "--checkpoint-interval-ms", "500", "--restart-attempts", "10", "--unaligned"),
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert job.poll() is None, "the job finished before the TaskManager could be killed"
            if latest_checkpoint(out / "_checkpoints") is not None and len(read_lines(out / "clean")) > 200:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no committed checkpoint within 180 s")
        killed = cluster.kill_taskmanager()
        before = exactly_once(tmp_path / "input", out)
        assert before["lost"] > 0
        cluster.start_taskmanager()
        output, _ = job.communicate(timeout=300)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 0, output[-4000:]
    assert killed not in cluster.taskmanager_pids()
    after = exactly_once(tmp_path / "input", out)
    assert (after["duplicates"], after["lost"], after["unexpected"]) == (0, 0, 0), after
