"""Fault tolerance: injected task failure, a real kill -9 of the driver, atomic pandas writes, checkpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from python_jobs.batch.canonical import summarise_all
from python_jobs.batch.semantics import landing_days
from python_jobs.batch.spark_checkpoint import running_customer_state
from python_jobs.batch.spark_job import root, run_day
from python_jobs.batch.testing import copy_landing, generate, make_settings, session, spark_settings
from python_jobs.config import REPO_ROOT, Settings


@pytest.fixture(scope="module")
def spark():
    return session()


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return generate(make_settings(tmp_path_factory.mktemp("landing"), bad_share=0.01))


@pytest.fixture(scope="module")
def uninterrupted(landing: Settings, tmp_path_factory: pytest.TempPathFactory, spark) -> Settings:
    settings = copy_landing(landing, tmp_path_factory.mktemp("uninterrupted"))
    for day in landing_days(settings.landing_dir):
        run_day(spark, settings, spark_settings(settings.data_dir), day, log=lambda _: None)
    return settings


def _outputs(settings: Settings) -> dict:
    return summarise_all(root(settings))


def _no_leftovers(settings: Settings) -> None:
    base = root(settings)
    assert not list(base.rglob(".spark-staging-*")) and not list(base.rglob("_temporary"))


def test_injected_task_failure_commits_nothing_and_rerun_matches(
    landing: Settings, uninterrupted: Settings, tmp_path: Path, spark
) -> None:
    settings = copy_landing(landing, tmp_path)
    days = landing_days(settings.landing_dir)
    run_day(spark, settings, spark_settings(settings.data_dir), days[0], log=lambda _: None)
    faulty = spark_settings(settings.data_dir, fail_at=f"task:store_daily:{days[1]}")
    with pytest.raises(Exception, match="fault injected"):
        run_day(spark, settings, faulty, days[1], log=lambda _: None)
    # product_daily of day 2 was committed before the failure; store_daily's day-2 partition never became visible.
    assert (root(settings) / "product_daily" / f"day={days[1]}").exists()
    assert not (root(settings) / "store_daily" / f"day={days[1]}").exists()
    assert not (root(settings) / "_done" / f"day-{days[1]}.json").exists()
    first_marker = (root(settings) / "_done" / f"day-{days[0]}.json").stat().st_mtime_ns
    for day in days:
        run_day(spark, settings, spark_settings(settings.data_dir), day, log=lambda _: None)
    assert (
        root(settings) / "_done" / f"day-{days[0]}.json"
    ).stat().st_mtime_ns == first_marker  # not recomputed
    _no_leftovers(settings)
    assert _outputs(settings) == _outputs(uninterrupted)


def test_kill_9_of_the_driver_then_rerun_gives_the_same_output(
    landing: Settings, uninterrupted: Settings, tmp_path: Path, spark
) -> None:
    settings = copy_landing(landing, tmp_path)
    days = landing_days(settings.landing_dir)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "GROCERY_SPARK_MASTER": "local[2]",
        "GROCERY_SPARK_SHUFFLE_PARTITIONS": "2",
        "GROCERY_SPARK_EVENT_LOG_DIR": str(tmp_path / "events"),
    }
    command = [sys.executable, "-m", "python_jobs.batch", "spark-run", "--through", days[-1].isoformat()]
    proc = subprocess.Popen(
        [*command, "--data-dir", str(settings.data_dir)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches the driver's JVM too
    )
    first_done = root(settings) / "_done" / f"day-{days[0]}.json"
    try:
        deadline = time.monotonic() + 240
        while not first_done.exists():
            assert proc.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline, "day 1 never finished"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # mid-run: day 2 is being staged or written
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert not (root(settings) / "_done" / f"day-{days[-1]}.json").exists()
    stamp = first_done.stat().st_mtime_ns
    for day in days:
        run_day(spark, settings, spark_settings(settings.data_dir), day, log=lambda _: None)
    assert first_done.stat().st_mtime_ns == stamp  # the completed day was not recomputed
    _no_leftovers(settings)
    assert _outputs(settings) == _outputs(uninterrupted)


def test_checkpoint_truncates_the_lineage(uninterrupted: Settings, tmp_path: Path, spark) -> None:
    staged = root(uninterrupted) / "staged" / "orders"
    plain = running_customer_state(spark, staged, tmp_path / "cp-none")
    cut = running_customer_state(spark, staged, tmp_path / "cp", checkpoint_every=3)
    scans = plain.before.split("== Optimized Logical Plan ==")[1].count("Relation [")
    assert scans >= 3  # one scan of the staged files per folded day
    optimized_after = cut.after.split("== Optimized Logical Plan ==")[1]
    assert "Relation [" not in optimized_after and "LogicalRDD" in optimized_after
    assert "Relation [" in cut.before
    left = plain.final.toPandas().sort_values("customer_id").reset_index(drop=True)
    right = cut.final.toPandas().sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)


_SLOW_WRITER = """
import sys, time
from pathlib import Path
import pyarrow as pa, pyarrow.parquet as pq
from python_jobs.batch.atomic import atomic_path
target, started = Path(sys.argv[1]), Path(sys.argv[2])
with atomic_path(target) as temp:
    schema = pa.schema([("n", pa.int64())])
    with pq.ParquetWriter(temp, schema) as writer:
        for i in range(10_000):
            writer.write_table(pa.table({"n": list(range(i * 1000, (i + 1) * 1000))}, schema=schema))
            if i == 3:
                started.touch()
            time.sleep(0.01)
"""


def test_pandas_atomic_write_survives_a_killed_writer(tmp_path: Path) -> None:
    target = tmp_path / "out" / "product_daily.parquet"
    target.parent.mkdir()
    good = pa.table({"n": [1, 2, 3]})
    pq.write_table(good, target)
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(target), str(started)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    deadline = time.monotonic() + 60
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    temp_files = list(target.parent.glob(".tmp-*"))
    assert temp_files and temp_files[0].stat().st_size > 0  # killed mid-write, not before it started
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert pq.read_table(target).equals(good)  # the previous good file, whole
