"""A real Spark standalone cluster (master + worker on 127.0.0.1) runs the daily job to the same output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from python_jobs.batch.canonical import summarise_all
from python_jobs.batch.semantics import landing_days
from python_jobs.batch.spark.cluster import standalone_cluster
from python_jobs.batch.spark.job import root
from python_jobs.config import REPO_ROOT
from tests.batch_support import copy_landing, reference_run

pytestmark = pytest.mark.slow


def test_standalone_cluster_output_equals_local(tmp_path: Path) -> None:
    local = reference_run()  # the job run in-process on local[2] (shared with the other batch tests)
    remote = copy_landing(local, tmp_path / "remote")
    days = landing_days(local.landing_dir)
    with standalone_cluster(tmp_path / "cluster", cores=2, memory="1g") as cluster:
        env = {
            **cluster.env,
            "PYTHONPATH": str(REPO_ROOT),
            "GROCERY_SPARK_MASTER": cluster.master_url,
            "GROCERY_SPARK_SHUFFLE_PARTITIONS": "2",
            "GROCERY_SPARK_DRIVER_MEMORY": "1g",
            "GROCERY_SPARK_EXECUTOR_MEMORY": "768m",
            "GROCERY_SPARK_EVENT_LOG_DIR": str(remote.data_dir / "spark-events"),
        }
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "python_jobs.batch",
                "spark-run",
                "--day",
                days[-1].isoformat(),
                "--data-dir",
                str(remote.data_dir),
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
    # Spark 4 writes rolling event logs, one folder per application; a standalone app id starts with "app-".
    logs = [p.name for p in (remote.data_dir / "spark-events").iterdir()]
    assert any(name.startswith("eventlog_v2_app-") for name in logs), logs
    assert summarise_all(root(remote)) == summarise_all(root(local))
    assert not os.listdir(tmp_path / "cluster" / "pids")  # both daemons stopped
