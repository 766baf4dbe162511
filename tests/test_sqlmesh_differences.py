"""Where dbt and SQLMesh genuinely differ, measured on a hand-made warehouse (docs/transformation.md).

The fixture is six simulated days (2026-01-05 .. 2026-01-10) with one customer, one store and two orders:
- order 100 is placed on 2026-01-05 and re-sent CANCELLED on 2026-01-10, five days later: beyond SQLMesh's
  `lookback 3` on the order date, but inside dbt's window, which is on `updated_at`;
- order 200 is placed on 2026-01-07 and arrives late on 2026-01-10 (3 days): inside both windows.

dbt builds 2026-01-05 then 2026-01-10 (its window only depends on what the table holds); SQLMesh plans
2026-01-05 and runs every later day, as the pipeline does. Then SQLMesh's fct_orders still says 'placed' for
order 100 while dbt's says 'cancelled', until a restatement of the order dates, after which both agree.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from python_jobs.config import REPO_ROOT
from python_jobs.parity import compare_relations
from python_jobs.sqlmesh_step import execution_time_for, open_context, process_day

DAYS = [date(2026, 1, d) for d in range(5, 11)]
CUSTOMER = (1, "Ada", "Lovelace", "ada@example.com", "1 Engine St", "Springfield", "01001", "gold",
            "2024-03-01", "2025-12-01 10:00:00")  # fmt: skip
STORE = (1, "Central", "supermarket", 1200, "Springfield", "2020-01-01")
# load day -> order rows (order_id, customer_id, store_id, order_ts, status, delivery_fee, updated_at)
ORDERS = {
    date(2026, 1, 5): [(100, 1, 1, "2026-01-05 10:00:00", "placed", 2.50, "2026-01-05 10:00:00")],
    date(2026, 1, 10): [
        (100, 1, 1, "2026-01-05 10:00:00", "cancelled", 2.50, "2026-01-10 09:00:00"),
        (200, 1, 1, "2026-01-07 12:00:00", "delivered", 0.00, "2026-01-07 12:00:00"),
    ],
}
# order_id -> (line_number, product_id, quantity, unit_price), delivered with the order's first load
LINES = {100: [(1, 1, 2, 1.89)], 200: [(1, 2, 1, 2.99)]}

RAW_DDL = """
create schema raw;
create table raw.customers (customer_id bigint, first_name varchar, last_name varchar, email varchar,
    street_address varchar, city varchar, postal_code varchar, loyalty_tier varchar, signup_date date,
    updated_at timestamp, _load_date date, _source_file varchar, _source_line bigint, _extra_columns varchar);
create table raw.stores (store_id bigint, store_name varchar, store_format varchar, size_sqm bigint, city varchar,
    opened_date date, _load_date date, _source_file varchar, _source_line bigint, _extra_columns varchar);
create table raw.orders (order_id bigint, customer_id bigint, store_id bigint, order_ts timestamp, status varchar,
    delivery_fee decimal(10,2), updated_at timestamp, _load_date date, _source_file varchar, _source_line bigint,
    _extra_columns varchar);
create table raw.order_lines (order_id bigint, line_number bigint, product_id bigint, quantity bigint,
    unit_price decimal(10,2), _load_date date, _source_file varchar, _source_line bigint, _extra_columns varchar);
"""


def build_raw(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(RAW_DDL)
        for day in DAYS:
            con.execute("insert into raw.customers values (?,?,?,?,?,?,?,?,?,?,?,?,2,null)",
                        [*CUSTOMER, day, f"{day}/customers.csv"])  # fmt: skip
            con.execute(
                "insert into raw.stores values (?,?,?,?,?,?,?,?,2,null)", [*STORE, day, f"{day}/stores.csv"]
            )
            for line, row in enumerate(ORDERS.get(day, []), start=2):
                con.execute("insert into raw.orders values (?,?,?,?,?,?,?,?,?,?,null)",
                            [*row, day, f"{day}/orders.csv", line])  # fmt: skip
                if row[0] in LINES and all(r[0] != row[0] for d, rs in ORDERS.items() if d < day for r in rs):
                    for lr in LINES[row[0]]:
                        con.execute("insert into raw.order_lines values (?,?,?,?,?,?,?,2,null)",
                                    [row[0], *lr, day, f"{day}/order_lines.csv"])  # fmt: skip
    finally:
        con.close()


def run_dbt(tmp: Path, warehouse: Path, day: date) -> None:
    from dbt.cli.main import dbtRunner

    os.environ["WAREHOUSE_PATH"] = str(warehouse)
    result = dbtRunner().invoke(
        ["build", "--vars", f"{{run_date: '{day.isoformat()}'}}", "--project-dir", str(REPO_ROOT / "dbt_project"),
         "--profiles-dir", str(REPO_ROOT / "profiles"), "--target-path", str(tmp / "dbt-target"),
         "--log-path", str(tmp / "dbt-logs")]
    )  # fmt: skip
    assert result.success, f"dbt build {day} failed: {result.exception}"


def status_of(warehouse: Path, schema: str) -> dict[int, str]:
    con = duckdb.connect(str(warehouse))
    try:
        return dict(
            con.execute(f"select order_id, order_status from {schema}.fct_orders order by 1").fetchall()
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("differences")
    path = tmp / "warehouse.duckdb"
    build_raw(path)
    saved = {k: os.environ.get(k) for k in ("WAREHOUSE_PATH", "SQLMESH__CACHE_DIR")}
    os.environ["SQLMESH__CACHE_DIR"] = str(tmp / "sqlmesh-cache")
    try:
        for day in (DAYS[0], DAYS[-1]):
            run_dbt(tmp, path, day)
        for day in DAYS:
            process_day(day, path)
        yield path
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def test_late_order_within_lookback_reaches_both(warehouse: Path) -> None:
    assert status_of(warehouse, "marts")[200] == "delivered"
    assert status_of(warehouse, "sqlmesh_marts")[200] == "delivered"


def test_update_beyond_lookback_needs_a_restatement_in_sqlmesh(warehouse: Path) -> None:
    # dbt re-selects by updated_at: the cancellation of a five-day-old order arrives with its next run.
    assert status_of(warehouse, "marts")[100] == "cancelled"
    # SQLMesh re-processes the order dates [D-3, D]: 2026-01-05 is outside when 2026-01-10 is processed.
    assert status_of(warehouse, "sqlmesh_marts")[100] == "placed"
    # The unique-key model upstream (incremental by LOAD day) did see it: only the time-range mart is stale.
    con = duckdb.connect(str(warehouse))
    try:
        (latest,) = con.execute(
            "select order_status from sqlmesh_intermediate.int_orders__latest_version where order_id = 100"
        ).fetchone()
    finally:
        con.close()
    assert latest == "cancelled"

    context = open_context(warehouse)
    try:
        context.plan(
            restate_models=["sqlmesh_marts.fct_orders"],
            start=DAYS[0],
            end=DAYS[-1],
            execution_time=execution_time_for(DAYS[-1]),
            auto_apply=True,
            no_prompts=True,
            skip_tests=True,
        )
    finally:
        context.close()
    assert status_of(warehouse, "sqlmesh_marts")[100] == "cancelled"
    con = duckdb.connect(str(warehouse))
    try:
        verdict = compare_relations(
            con,
            "select * from marts.fct_orders",
            con,
            "select * from sqlmesh_marts.fct_orders",
            name="fct_orders",
        )
    finally:
        con.close()
    assert verdict.ok, verdict
    assert verdict.left_rows == 2
