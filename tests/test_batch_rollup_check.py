"""The batch roll-up check (dbt's assert_batch_product_daily_rolls_up_to_fct_daily_sales, SQLMesh's audit
product_daily_rolls_up_to_daily_sales) on an empty batch side: it fails where the load manifest says the Spark
step's output was loaded, and passes where no Spark step ran (no manifest entry).

One real day (generate → ingest) at a small scale, then the Spark step's trace without its rows: an empty
raw.batch_product_daily, as a Spark run that wrote nothing would leave. Each case builds its own copy with the
real dbt and SQLMesh steps (python_jobs.dbt_step, python_jobs.sqlmesh_step), as the pipeline runs them.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from python_jobs.config import load_settings
from python_jobs.orchestration import plan, run_steps
from tests.conftest import run_module

DAY = date(2026, 1, 5)

# The columns of raw.batch_product_daily as the loader creates them from the job's Parquet
# (sqlmesh_project/external_models.yaml).
EMPTY_BATCH_TABLE = """
create table raw.batch_product_daily (
    order_date date, store_id bigint, product_id bigint, category_id bigint, order_count bigint,
    line_count bigint, item_count bigint, revenue_cents bigint, avg_quantity double,
    _load_date date, _source_file varchar)
"""


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding day 1 as the ingest loader writes it, with an empty raw.batch_product_daily."""
    data = tmp_path_factory.mktemp("rollup") / "data"
    settings = load_settings({}).with_(data_dir=data, warehouse_path=data / "warehouse.duckdb", scale=0.1)
    log_dir = data / "logs"
    log_dir.mkdir(parents=True)
    run_steps(plan(settings, [1], settings.warehouse_path, only=("generate", "ingest")), log_dir)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        con.execute(EMPTY_BATCH_TABLE)
        (orders,) = con.execute("select count(*) from raw.orders").fetchone()
    finally:
        con.close()
    assert orders > 0, "the day must have orders, or an empty batch side would be right"
    return settings.warehouse_path


def build_both(
    ingested: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    *,
    manifest_lists_batch: bool,
) -> tuple[subprocess.CompletedProcess[str], BaseException | None]:
    """dbt and SQLMesh build DAY on a copy of `ingested`: dbt's finished process, SQLMesh's exception or None.

    SQLMesh runs in this process so that its log (which names a failed audit; its console does not) is
    captured by caplog."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(ingested, warehouse)
    if manifest_lists_batch:
        con = duckdb.connect(str(warehouse))
        try:
            # What python_jobs/ingest/outputs.py records for a Spark run of DAY (here one that loaded no rows).
            con.execute(
                "insert into ingest.load_manifest values ('batch_product_daily', ?, 1, 0, 0, 0, 0, 0, '{}', ?)",
                [DAY, datetime(2026, 1, 6)],
            )
        finally:
            con.close()
    dbt = run_module(
        "python_jobs.dbt_step", "--day", DAY.isoformat(), env={"WAREHOUSE_PATH": str(warehouse)}, check=False
    )
    from python_jobs.sqlmesh_step import process_day

    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))  # process_day sets it; restored after the test
    caplog.set_level(logging.INFO, logger="sqlmesh")
    try:
        process_day(DAY, warehouse)
    except Exception as error:  # what failed is checked by the caller
        return dbt, error
    return dbt, None


@pytest.mark.slow
def test_empty_batch_side_fails_where_the_manifest_lists_a_spark_load(
    ingested: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dbt, sqlmesh_error = build_both(ingested, tmp_path, monkeypatch, caplog, manifest_lists_batch=True)
    dbt_out = dbt.stdout + dbt.stderr
    assert dbt.returncode != 0, dbt_out
    assert "FAIL" in dbt_out and "assert_batch_product_daily_rolls_up_to_fct_daily_sales" in dbt_out, dbt_out
    assert sqlmesh_error is not None, "the SQLMesh plan passed"
    assert "Audits failed: product_daily_rolls_up_to_daily_sales" in caplog.text, caplog.text[-3000:]


@pytest.mark.slow
def test_empty_batch_side_passes_without_a_manifest_entry(
    ingested: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dbt, sqlmesh_error = build_both(ingested, tmp_path, monkeypatch, caplog, manifest_lists_batch=False)
    assert dbt.returncode == 0, dbt.stdout + dbt.stderr
    assert sqlmesh_error is None, caplog.text[-3000:]
