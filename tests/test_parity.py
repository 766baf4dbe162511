"""Parity dbt ≡ SQLMesh: the comparator on hand-made relations, then the real thing after 3 small days."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest

from python_jobs.config import REPO_ROOT
from python_jobs.parity import compare_relations
from python_jobs.parity.marts import SHARED_MARTS, compare_warehouse
from tests.conftest import run_module

SQLMESH = str(REPO_ROOT / ".venv" / "bin" / "sqlmesh")


# --- the comparator ---------------------------------------------------------------------------------------------


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("create table a as select * from (values (1, 'x'), (2, 'y'), (2, 'y')) t(id, v)")
    return c


def test_equal_relations_with_other_column_names_case_and_order(con: duckdb.DuckDBPyConnection) -> None:
    con.execute('create table b as select v as "V", id as "ID" from a')
    verdict = compare_relations(con, "select * from a", con, "select * from b", name="t")
    assert verdict.ok and (verdict.left_rows, verdict.right_rows) == (3, 3)


def test_changed_value_is_seen_from_both_sides(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table b as select id, case when id = 1 then 'X' else v end as v from a")
    verdict = compare_relations(con, "select * from a", con, "select * from b")
    assert not verdict.ok
    assert (verdict.only_left, verdict.only_right) == (1, 1)
    assert verdict.sample_left == [(1, "x")] and verdict.sample_right == [(1, "X")]


def test_duplicates_count_as_rows(con: duckdb.DuckDBPyConnection) -> None:
    # EXCEPT (set) would call these equal; EXCEPT ALL (multiset) does not.
    con.execute("create table b as select distinct * from a")
    verdict = compare_relations(con, "select * from a", con, "select * from b")
    assert (verdict.only_left, verdict.only_right) == (1, 0)


def test_column_sets_must_match(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table b as select *, 0 as extra from a")
    verdict = compare_relations(con, "select * from a", con, "select * from b")
    assert not verdict.ok and verdict.columns_only_right == ["extra"]


def test_two_connections(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    other = duckdb.connect(str(tmp_path / "other.duckdb"))
    other.execute("create table b as select * from (values (1, 'x'), (2, 'y')) t(id, v)")
    verdict = compare_relations(con, "select * from a", other, "select * from b")
    assert (verdict.only_left, verdict.only_right) == (1, 0)
    assert verdict.sample_left == [(2, "y")]


def test_cli_fails_and_shows_rows_on_a_mismatch(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    c = duckdb.connect(str(warehouse))
    for schema in ("marts", "sqlmesh_marts"):
        c.execute(f"create schema {schema}")
        for mart in SHARED_MARTS:
            c.execute(f"create table {schema}.{mart} as select 1 as id, 'same' as v")
    c.execute("update sqlmesh_marts.fct_orders set v = 'different'")
    c.close()
    proc = run_module("python_jobs.parity", "--warehouse", str(warehouse), check=False)
    assert proc.returncode == 1, proc.stdout
    assert "DIFFERENT" in proc.stdout and "different" in proc.stdout and "parity FAILED" in proc.stdout


# --- the real projects, 3 small days ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parity_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data = tmp_path_factory.mktemp("parity") / "data"
    proc = run_module(
        "python_jobs.parity",
        "--days",
        "3",
        "--scale",
        "0.3",
        "--data-dir",
        str(data),
        env={"GROCERY_DATA_DIR": str(data), "SQLMESH__CACHE_DIR": str(data / "sqlmesh-cache")},
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    return data / "warehouse.duckdb", proc.stdout


@pytest.mark.slow
def test_parity_after_three_days(parity_run: tuple[Path, str]) -> None:
    warehouse, output = parity_run
    assert "parity OK" in output
    verdicts = compare_warehouse(warehouse)
    assert [v.name for v in verdicts] == SHARED_MARTS
    assert all(v.ok for v in verdicts)
    # Not a vacuous equality: history with changes and deletes, and orders, are there on both sides.
    counts = {v.name: v.left_rows for v in verdicts}
    assert counts["fct_orders"] > 1000 and counts["dim_stores"] > 0
    # The parity build runs the geo step (the static map): its marts have rows on both sides, one per tract,
    # tract x image year (three years) and store.
    assert counts["dim_tracts"] > 0 and counts["fct_tract_sprawl"] == 3 * counts["dim_tracts"]
    assert counts["fct_store_catchment"] == 12
    # This build has no Spark, Flink or compute step, so no raw.batch_*, sensor_* or compute_* table: both tools
    # still build the engine marts, empty (dbt: its staging's fallback, SQLMesh: the @optional_raw macro).
    engine_marts = (
        "fct_product_daily_sales",
        "fct_sensor_windows",
        "fct_sensor_anomalies",
        "fct_store_stockout_risk",
    )
    assert {m: counts[m] for m in engine_marts} == dict.fromkeys(engine_marts, 0)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        (closed,) = con.execute(
            "select count(*) from sqlmesh_marts.dim_customers where not is_current"
        ).fetchone()
    finally:
        con.close()
    assert closed > 0


@pytest.mark.slow
def test_audits_pass_and_hand_typed_commands_change_nothing(parity_run: tuple[Path, str]) -> None:
    warehouse, _ = parity_run
    env = {
        **os.environ,
        "WAREHOUSE_PATH": str(warehouse),
        "SQLMESH__CACHE_DIR": str(warehouse.parent / "sqlmesh-cache"),
    }
    cwd = REPO_ROOT / "sqlmesh_project"

    def sqlmesh(*args: str) -> str:
        proc = subprocess.run([SQLMESH, *args], cwd=cwd, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"sqlmesh {args}: {proc.stdout}\n{proc.stderr}"
        return proc.stdout

    # Every audit (built-in and the custom SCD2 invariants) re-run on the built data; exit code 1 on a failure.
    audit = sqlmesh("audit", "--start", "2026-01-05", "--end", "2026-01-07")
    assert (
        "Finished with 0 audit errors" in audit
        and "scd2_no_gaps on model sqlmesh_marts.dim_customers" in audit
    )
    # What a learner types inside sqlmesh_project/: nothing changed, so nothing to apply ...
    assert "No changes to plan" in sqlmesh("plan", "--no-prompts")
    # ... and a wall-clock `sqlmesh run` (today is far after the simulated days) builds no day that was never
    # loaded, thanks to the raw_loaded signal: the calendar still ends on day 3 and parity still holds.
    sqlmesh("run")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        (last_day,) = con.execute("select max(date_day) from sqlmesh_marts.dim_date").fetchone()
    finally:
        con.close()
    assert last_day == date(2026, 1, 7)
    assert all(v.ok for v in compare_warehouse(warehouse))
