"""The whole spine end to end: `python -m python_jobs.pipeline` as a user runs it (via make pipeline).

One module-scoped run of 3 simulated days feeds every test here; the determinism test runs it a second time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from python_jobs.checksums import table_checksums
from python_jobs.config import REPO_ROOT, Settings, load_settings
from python_jobs.labs.scd2_oracle import compare, expected_versions, read_customer_changes
from python_jobs.parity.marts import compare_warehouse

DAYS = 3
# Every schema the pipeline builds, both tools' marts included.
ALL_SCHEMAS = ("raw", "ingest", "snapshots", "marts", "sqlmesh_snapshots", "sqlmesh_marts")


def _pipeline(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "python_jobs.pipeline",
            "--days",
            str(DAYS),
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("pipeline") / "data"
    proc = _pipeline(data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return load_settings({}).with_(data_dir=data, warehouse_path=data / "warehouse.duckdb")


def _dbt_on_a_copy(
    built: Settings, tmp_path: Path, *args: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run `dbt *args` on a copy of the built warehouse (same file name: same DuckDB catalog)."""
    copy = tmp_path / "copy" / built.warehouse_path.name
    copy.parent.mkdir()
    shutil.copy(built.warehouse_path, copy)
    env = {
        **os.environ,
        "WAREHOUSE_PATH": str(copy),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_PROFILES_DIR": str(REPO_ROOT / "profiles"),
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args],
        cwd=REPO_ROOT / "dbt_project",
        env=env,
        capture_output=True,
        text=True,
    )
    return copy, proc


def _df(settings: Settings, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def test_pipeline_publishes_a_complete_warehouse(built: Settings) -> None:
    counts = _df(built, "SELECT count(*) AS n, count(DISTINCT _load_date) AS days FROM raw.orders")
    assert counts.days[0] == DAYS
    marts = table_checksums(built.warehouse_path)
    assert {"marts.dim_customers", "marts.dim_stores", "marts.fct_orders", "marts.fct_daily_sales"} <= set(
        marts
    )
    assert all(rows > 0 for rows, _ in marts.values())
    assert not (built.data_dir / "tmp").exists() or not any((built.data_dir / "tmp").glob("pipeline-build-*"))


def test_engine_marts_are_equal_in_dbt_and_sqlmesh_on_the_real_output(built: Settings) -> None:
    """The marts over the Spark, Flink and Monte Carlo outputs, which tests/test_parity.py only sees empty (its
    build has no engine step), and over the geo step's: here both tools built them from the real jobs' output,
    non-empty, and equal."""
    engine_marts = [
        "fct_product_daily_sales",
        "fct_sensor_windows",
        "fct_sensor_anomalies",
        "fct_store_stockout_risk",
        "dim_tracts",
        "fct_tract_sprawl",
        "fct_store_catchment",
    ]
    verdicts = compare_warehouse(built.warehouse_path, engine_marts)
    assert [v.name for v in verdicts] == engine_marts
    for v in verdicts:
        assert v.left_rows > 0 and v.right_rows > 0, (
            f"{v.name}: dbt {v.left_rows} rows, SQLMesh {v.right_rows}"
        )
        assert v.ok, (
            f"{v.name}: {v.only_left} rows only in dbt (e.g. {v.sample_left}), {v.only_right} only in SQLMesh "
            f"(e.g. {v.sample_right}); columns only in dbt {v.columns_only_left}, only in SQLMesh "
            f"{v.columns_only_right}"
        )


def test_customer_history_matches_the_oracle(built: Settings) -> None:
    changes = read_customer_changes(built.truth_dir, [built.day_date(d) for d in range(1, DAYS + 1)])
    expected = expected_versions(changes)
    actual = _df(built, "SELECT customer_id, valid_from, valid_to, closed_by_delete FROM marts.dim_customers")
    assert compare(expected, actual).empty
    # Deletes and returns really happened in these days, so the oracle tested them.
    assert expected.closed_by_delete.any()
    assert (expected.opened_by == "returned").any()
    deleted_expected = set(expected.loc[expected.closed_by_delete, "customer_id"])
    deleted_actual = set(actual.loc[actual.closed_by_delete, "customer_id"])
    assert deleted_expected == deleted_actual
    assert int(expected.closed_by_delete.sum()) == int(actual.closed_by_delete.sum())


def test_incremental_fct_orders_equals_a_full_refresh(built: Settings, tmp_path: Path) -> None:
    run_date = built.day_date(DAYS).isoformat()
    copy, proc = _dbt_on_a_copy(
        built,
        tmp_path,
        "run",
        "--select",
        "fct_orders",
        "--full-refresh",
        "--vars",
        f"{{run_date: '{run_date}'}}",
    )
    assert proc.returncode == 0, proc.stdout
    con = duckdb.connect(str(copy), read_only=True)
    try:
        con.execute(f"ATTACH '{built.warehouse_path}' AS built (READ_ONLY)")
        for left, right in (
            ("built.marts.fct_orders", "marts.fct_orders"),
            ("marts.fct_orders", "built.marts.fct_orders"),
        ):
            diff = con.execute(f"SELECT count(*) FROM (FROM {left} EXCEPT ALL FROM {right})").fetchone()[0]
            assert diff == 0, f"{left} has {diff} rows not in {right}"
    finally:
        con.close()


def _written_since(folder: Path, since: float) -> bool:
    for log in folder.glob("*.log"):
        try:
            if log.stat().st_mtime >= since:
                return True
        except FileNotFoundError:  # the starting run clears the previous run's logs
            pass
    return False


def test_a_second_pipeline_is_refused_and_a_killed_one_changes_nothing(built: Settings) -> None:
    before = table_checksums(built.warehouse_path, ALL_SCHEMAS)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    started = time.time()
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "python_jobs.pipeline",
            "--days",
            str(DAYS),
            "--data-dir",
            str(built.data_dir),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        lock = built.data_dir / ".pipeline.lock"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and lock.read_text().strip() != str(first.pid):
            time.sleep(0.1)
        second = _pipeline(built.data_dir)
        assert second.returncode == 2
        assert f"another pipeline is already running on {built.data_dir} (PID {first.pid}" in " ".join(
            second.stdout.split()
        )
        # Killed in the middle of its work: its private build folder exists and a step has started.
        build_dir = built.data_dir / "tmp" / f"pipeline-build-{first.pid}"
        logs = built.data_dir / "logs" / "pipeline"
        while time.monotonic() < deadline and not _written_since(logs, started):
            time.sleep(0.1)
        assert build_dir.is_dir()
        assert first.poll() is None, "the first run ended before it could be killed"
    finally:
        # Kill the whole first run mid-flight (its steps are child processes): the published warehouse must not move.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert table_checksums(built.warehouse_path, ALL_SCHEMAS) == before
    # What a kill -9 leaves: the dead run's build folder, and its PID in the lock file (the lock itself is free).
    assert build_dir.is_dir()
    assert lock.read_text().strip() == str(first.pid)


def test_the_next_run_after_a_kill_recovers_and_is_identical(built: Settings) -> None:
    """After the killed run above (stale PID in the lock file, its build folder left behind), running again into
    the same folder succeeds, clears the dead run's folder, and gives the same warehouse: every schema, not
    just the marts, and no row loaded twice."""
    before = table_checksums(built.warehouse_path, ALL_SCHEMAS)
    stale = list((built.data_dir / "tmp").glob("pipeline-build-*"))
    assert stale, "the kill test should have left a build folder behind"
    proc = _pipeline(built.data_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert table_checksums(built.warehouse_path, ALL_SCHEMAS) == before
    assert not any((built.data_dir / "tmp").glob("pipeline-build-*"))


def test_replaying_day_one_over_all_raw_days_sees_day_ones_batch_version(
    built: Settings, tmp_path: Path
) -> None:
    """The Postgres build replays every day over raw tables that already hold later days. The batch mart must
    then read each order day as the Spark run of the replayed day wrote it, so its roll-up still equals dbt's
    own fct_daily_sales of that day (the singular test, which failed when partitions were replaced in place)."""
    day_one = built.day_date(1).isoformat()
    copy, proc = _dbt_on_a_copy(
        built,
        tmp_path,
        *("build", "--full-refresh"),
        # The staging views hold their run_date (rebuilt here as of day one), snapshots are not replayed.
        *("--select", "stg_shop__orders+", "stg_shop__order_lines+", "stg_batch__product_daily+"),
        *("--vars", f"{{run_date: '{day_one}'}}"),
    )
    assert proc.returncode == 0, proc.stdout
    assert "assert_batch_product_daily_rolls_up_to_fct_daily_sales" in proc.stdout
    con = duckdb.connect(str(copy), read_only=True)
    try:
        versions = con.execute(
            "SELECT count(*), max(loaded_on), count(DISTINCT order_date) FROM marts.fct_product_daily_sales"
        ).fetchone()
        # raw holds 3 runs' versions; the replay took day one's, where order days run up to day one.
        (raw_runs,) = con.execute("SELECT count(DISTINCT _load_date) FROM raw.batch_product_daily").fetchone()
    finally:
        con.close()
    assert versions[0] > 0 and str(versions[1]) == day_one
    assert raw_runs == DAYS
