"""The tuning job from its command line, each run its own Spark application: Spark's metrics (read from the event
log by python_jobs/tuning/metrics.py) show the fixes, and the parser reads a real event log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from python_jobs.tuning.metrics import read_app
from tests.conftest import run_module
from tests.tuning_support import SIZES, dataset

pytestmark = pytest.mark.slow  # two Spark applications, each its own JVM


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    root = tmp_path_factory.mktemp("tuning-runs")
    env = {
        "GROCERY_SPARK_MASTER": "local[2]",
        "GROCERY_SPARK_DRIVER_MEMORY": "1g",
        "GROCERY_SPARK_EVENT_LOG_DIR": str(root / "events"),
    }
    results = {}
    for label, args in (
        ("slow", ["--slow-partitions", str(SIZES["slow_partitions"])]),
        ("tuned", ["--tuned"]),
    ):
        out = root / label
        run_module(
            "python_jobs.tuning", "run", "--dataset", str(dataset()), "--out", str(out), *args, env=env
        )
        results[label] = json.loads((out / "result.json").read_text())
        assert sorted(p.name for p in out.glob("*.parquet")) == [
            "segment_mix.parquet",
            "store_weekly.parquet",
            "weekly_sales.parquet",
        ]
    return root, results


def test_cli_runs_agree_and_spark_metrics_show_the_fixes(runs: tuple[Path, dict[str, dict]]) -> None:
    _, results = runs
    slow, tuned = results["slow"], results["tuned"]
    assert slow["variant"] == "slow" and tuned["variant"] == "tuned"
    assert slow["checksums"] == tuned["checksums"]
    s, t = slow["metrics"], tuned["metrics"]
    assert s["files_read"] > t["files_read"]  # pruning (and one scan of the fact instead of three: cache)
    assert s["files_bytes"] > 2 * t["files_bytes"]  # Parquet, pruning, cache (bytes of the files scanned)
    assert s["tasks"] > 2 * t["tasks"]  # 32 partitions per shuffle against the sized ones
    assert (
        s["shuffle_write_bytes"] > 2 * t["shuffle_write_bytes"]
    )  # broadcast: the fact is never shuffled to join
    assert s["result_bytes"] > t["result_bytes"]  # every enriched line went to the driver
    assert slow["driver_rows"]["segment_mix"] > 50 * tuned["driver_rows"]["segment_mix"]


def test_event_log_parser_on_real_logs(runs: tuple[Path, dict[str, dict]]) -> None:
    root, results = runs
    slow = read_app(root / "events", results["slow"]["metrics"]["app_id"])
    tuned = read_app(root / "events", results["tuned"]["metrics"]["app_id"])
    assert slow.complete and slow.app_name == "tuning-slow" and tuned.app_name == "tuning-tuned"
    assert slow.jobs >= 3 and slow.stages and slow.seconds > 0
    # A shuffle's bytes are written once and read once; with AQE off every stage reading one has 32 tasks.
    assert slow.total("shuffle_read_bytes") == slow.total("shuffle_write_bytes") > 0
    reading = [s for s in slow.stages if s.shuffle_read_bytes > 0]
    assert reading and {s.tasks for s in reading} == {SIZES["slow_partitions"]}
    for stage in slow.stages:
        assert len(stage.task_seconds) == stage.tasks > 0
        assert stage.max_task_seconds >= stage.median_task_seconds >= 0 and stage.skew >= 1
    # The store join with 12 keys in 32 partitions: most tasks get nothing, a few get everything.
    assert max(s.skew for s in reading) >= 3
    assert slow.summary()["tasks"] == slow.tasks == sum(s.tasks for s in slow.stages)
    # Every stage is named by the output whose action ran it (run_report's job descriptions), in result.json too.
    assert {s.description for s in tuned.stages} == {"weekly_sales", "store_weekly", "segment_mix"}
    written = results["tuned"]["stages"]
    assert [r["stage_id"] for r in written] == [s.stage_id for s in tuned.stages]
    assert sum(r["seconds"] for r in written) <= results["tuned"]["job_seconds"] + 1.0
    assert slow.scan["number of files read"] > tuned.scan["number of files read"] > 0
    # One local executor ("driver"), never removed: dynamic allocation is shown on the standalone cluster.
    assert [e for _, e in slow.executors_added] == ["driver"] and not slow.executors_removed
