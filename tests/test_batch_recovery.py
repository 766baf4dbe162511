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
from python_jobs.batch.spark.checkpoint import running_customer_state
from python_jobs.batch.spark.job import root, run_day
from python_jobs.config import REPO_ROOT, Settings
from tests.batch_support import copy_landing, reference_run, session, spark_settings


@pytest.fixture(scope="module")
def spark():
    return session()


@pytest.fixture(scope="module")
def uninterrupted(spark) -> Settings:
    """One uninterrupted run over the same landing data (shared with the other batch tests; read-only)."""
    return reference_run()


def _outputs(settings: Settings) -> dict:
    return summarise_all(root(settings))


def _files(settings: Settings, table: str) -> dict[str, set[str]]:
    """Visible files per partition; Spark names files after the writing job, so a rewrite changes the names."""
    return {
        p.name: {f.name for f in p.glob("*.parquet")} for p in sorted((root(settings) / table).glob("day=*"))
    }


def _no_leftovers(settings: Settings) -> None:
    base = root(settings)
    assert not list(base.rglob(".spark-staging-*")) and not list(base.rglob("_temporary"))


def _kill_9_after_first_day(settings: Settings, days: list, events: Path) -> None:
    """Run the job as the pipeline does (its own driver process) and kill -9 it while it works on day 2."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "GROCERY_SPARK_MASTER": "local[2]",
        "GROCERY_SPARK_SHUFFLE_PARTITIONS": "2",
        "GROCERY_SPARK_EVENT_LOG_DIR": str(events),
    }
    command = [sys.executable, "-m", "python_jobs.batch", "spark-run", "--day", days[-1].isoformat()]
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
        deadline = time.monotonic() + 300
        while not first_done.exists():
            assert proc.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline, "day 1 never finished"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)  # mid-run: day 2 is being staged or written
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert not (root(settings) / "_done" / f"day-{days[-1]}.json").exists()


def test_kill_9_then_injected_task_failure_then_rerun_gives_the_same_output(
    uninterrupted: Settings, tmp_path: Path, spark
) -> None:
    """Two crashes on the same data, then a plain re-run: the outputs equal the uninterrupted run's.

    1. kill -9 of the driver process (and its JVM) once day 1 is complete: nothing is cleaned up, no marker.
    2. In that half-written folder, a write task of store_daily fails on day 2: Spark aborts the job, so
       none of its files become visible (store_daily is exactly as before), while product_daily, written
       before it, was committed.
    3. A re-run of every day skips day 1 (its marker stands) and repairs day 2.
    """
    settings = copy_landing(uninterrupted, tmp_path)
    days = landing_days(settings.landing_dir)
    assert len(days) >= 2
    _kill_9_after_first_day(settings, days, tmp_path / "events")
    first_done = root(settings) / "_done" / f"day-{days[0]}.json"
    stamp = first_done.stat().st_mtime_ns

    last = f"day={days[-1]}"
    store_before, product_before = _files(settings, "store_daily"), _files(settings, "product_daily")
    faulty = spark_settings(settings.data_dir, fail_at=f"task:store_daily:{days[-1]}")
    with pytest.raises(Exception, match="fault injected"):
        run_day(spark, settings, faulty, days[-1], log=lambda _: None)
    assert _files(settings, "store_daily") == store_before  # the aborted write left no visible file
    product_after = _files(settings, "product_daily")
    assert product_after[last] and product_after[last] != product_before.get(
        last
    )  # committed before the fault
    assert not (root(settings) / "_done" / f"day-{days[-1]}.json").exists()

    for day in days:
        run_day(spark, settings, spark_settings(settings.data_dir), day, log=lambda _: None)
    assert first_done.stat().st_mtime_ns == stamp  # the completed day was not recomputed
    assert (root(settings) / "_done" / f"day-{days[-1]}.json").exists()
    _no_leftovers(settings)
    assert _outputs(settings) == _outputs(uninterrupted)


def test_checkpoint_truncates_the_lineage(uninterrupted: Settings, tmp_path: Path, spark) -> None:
    staged = root(uninterrupted) / "staged" / "orders"
    days = len(list(staged.glob("day=*")))
    assert days >= 2
    plain = running_customer_state(spark, staged, tmp_path / "cp-none")
    cut = running_customer_state(spark, staged, tmp_path / "cp", checkpoint_every=days)
    scans = plain.before.split("== Optimized Logical Plan ==")[1].count("Relation [")
    assert scans >= days  # one scan of the staged files per folded day
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
