"""Flink output → the spine's loader → dbt marts fct_sensor_windows / fct_sensor_anomalies (main environment).

The Flink job itself runs in the streaming environment, as a subprocess, exactly like the pipeline step.
"""

from __future__ import annotations

import csv
import os
import subprocess

import duckdb
import pytest

from python_jobs.config import REPO_ROOT, Settings
from tests.conftest import run_module

STREAMING_PY = REPO_ROOT / ".venv-streaming" / "bin" / "python"
DAY = "2026-01-05"

pytestmark = pytest.mark.skipif(not STREAMING_PY.exists(), reason="streaming environment not installed")


def test_flink_day_lands_in_raw_and_builds_the_sensor_marts(settings: Settings) -> None:
    proc = subprocess.run(
        [
            str(STREAMING_PY),
            "-m",
            "streaming.day",
            "--day",
            DAY,
            "--data-dir",
            str(settings.data_dir),
            "--sensors",
            "3",
            "--hours",
            "6",
            "--seed",
            "5",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = settings.data_dir / "outputs" / "streaming" / DAY / "sql"
    for table, folder in (("sensor_windows", "windows"), ("sensor_anomalies", "anomalies")):
        run_module(
            "python_jobs.ingest",
            *("output", "--table", table, "--day", DAY, "--format", "json"),
            *("--data-dir", str(settings.data_dir), "--warehouse", str(settings.warehouse_path)),
            str(out / folder),
        )
    dbt = subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "dbt"),
            "build",
            "--select",
            "+fct_sensor_windows",
            "+fct_sensor_anomalies",
            "--vars",
            f"{{run_date: '{DAY}'}}",
        ],
        cwd=REPO_ROOT / "dbt_project",
        env={
            **os.environ,
            "WAREHOUSE_PATH": str(settings.warehouse_path),
            "DBT_TARGET_PATH": str(settings.data_dir / "dbt" / "target"),
            "DBT_LOG_PATH": str(settings.data_dir / "dbt" / "logs"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dbt.returncode == 0, dbt.stdout[-4000:]

    truth_dir = settings.data_dir / "streaming" / "input" / DAY / "truth"
    with (truth_dir / "events.csv").open() as handle:
        on_time = sum(1 for r in csv.DictReader(handle) if r["late"] == "0")
    with (truth_dir / "anomalies.csv").open() as handle:
        anomalies = list(csv.DictReader(handle))
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        (events,) = con.execute(
            "select sum(events) from marts.fct_sensor_windows where window_kind = 'tumble_1m'"
        ).fetchone()
        assert events == on_time
        found = {
            (sensor, kind)
            for sensor, kind in con.execute(
                "select sensor_id, anomaly_kind from marts.fct_sensor_anomalies"
            ).fetchall()
        }
        # Every injected fault shows up in the mart on its sensor (silence via the SQL gap rule).
        assert anomalies
        for a in anomalies:
            assert (a["sensor_id"], a["kind"]) in found, (a, found)
        (loaded,) = con.execute(
            "select count(*) from ingest.load_manifest where source = 'sensor_windows'"
        ).fetchone()
        assert loaded == 1
    finally:
        con.close()
