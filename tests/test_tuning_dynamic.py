"""Dynamic allocation on the batch module's standalone cluster: the tuned report grows to two executors while it
has tasks, and they are removed once idle, as the event log records; the report is the same as in local mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from python_jobs.tuning.fixes import FIX_NAMES
from tests.conftest import run_module
from tests.tuning_support import dataset, run

pytestmark = pytest.mark.slow  # a master, a worker, a driver and its executors


def test_executors_come_and_go_with_the_work(tmp_path: Path) -> None:
    env = {
        "GROCERY_SPARK_DRIVER_MEMORY": "1g",
        "GROCERY_SPARK_EVENT_LOG_DIR": str(tmp_path / "events"),
    }
    out = tmp_path / "dynamic"
    run_module("python_jobs.tuning", "dynamic", "--dataset", str(dataset()), "--out", str(out), env=env)
    record = json.loads((out / "dynamic.json").read_text())
    assert record["app_id"].startswith("app-")  # a standalone application, not local mode
    assert record["checksums"] == run(*FIX_NAMES).checksums
    added = [e for _, e in record["executors_added"]]
    removed = [e for _, e, _ in record["executors_removed"]]
    # At least two executors came (a new one may come later, when the next job queues tasks again), every one
    # was removed while the application was still running (idle timeout), and never more than two at once.
    assert len(set(added)) == len(added) >= 2 and sorted(removed) == sorted(added) and record["all_released"]
    timeline = sorted(
        [(t, 1) for t, _ in record["executors_added"]] + [(t, -1) for t, _, _ in record["executors_removed"]]
    )
    alive = [sum(step for _, step in timeline[: i + 1]) for i in range(len(timeline))]
    assert max(alive) <= 2 and alive[-1] == 0
    assert not list((out / "cluster" / "pids").iterdir())  # both daemons stopped
