"""The same marts on a real PostgreSQL: raw copied by the loader, dbt replayed day by day, DuckDB ≡ Postgres.

One module-scoped build: the DuckDB pipeline (generate → ingest → dbt) for 3 small simulated days in a temporary
data folder, then the raw tables copied into a fresh database of the session's throwaway server and `dbt build
--target postgres` for the same 3 days. Every mart must then be equal on both engines, row for row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import psycopg
import pytest

from python_jobs.config import Settings
from python_jobs.pipeline import run_pipeline
from python_jobs.postgres.attach import connect, warehouse_catalog
from python_jobs.postgres.build import build_on_postgres
from python_jobs.postgres.load import PostgresSchemaError, load_schemas
from python_jobs.postgres.parity import compare_table, tables_of
from python_jobs.postgres.server import PostgresServer
from tests.pg import new_database, postgres_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DAYS = 3
DBT_MARTS = ["dim_customers", "dim_stores", "fct_daily_sales", "fct_orders"]


@dataclass(frozen=True)
class Built:
    settings: Settings
    dsn: str


@pytest.fixture(scope="module")
def built(
    postgres_server: PostgresServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Built]:
    data = tmp_path_factory.mktemp("pg-marts") / "data"
    from python_jobs.config import load_settings

    settings = load_settings({}).with_(data_dir=data, warehouse_path=data / "warehouse.duckdb", scale=0.5)
    run_pipeline(settings, DAYS)
    dsn = new_database(postgres_server, "marts_parity")
    build_on_postgres(settings, DAYS, dsn, tools=("dbt",))
    yield Built(settings, dsn)


@pytest.fixture
def both(built: Built) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(built.dsn, warehouse=built.settings.warehouse_path, postgres_read_only=True)
    yield con
    con.close()


def test_postgres_has_exactly_the_dbt_marts(both: duckdb.DuckDBPyConnection, built: Built) -> None:
    catalog = warehouse_catalog(built.settings.warehouse_path)
    assert tables_of(both, catalog, "marts") == DBT_MARTS
    assert tables_of(both, "pg", "marts") == DBT_MARTS


@pytest.mark.parametrize("mart", DBT_MARTS)
def test_dbt_mart_is_identical_on_duckdb_and_postgres(
    both: duckdb.DuckDBPyConnection, built: Built, mart: str
) -> None:
    result = compare_table(both, warehouse_catalog(built.settings.warehouse_path), "marts", mart)
    assert result.duckdb_rows > 0
    assert result.type_differences == ()
    assert (result.duckdb_rows, result.only_in_duckdb, result.only_in_postgres) == (
        result.postgres_rows,
        0,
        0,
    )


def test_scd2_history_spans_the_days_on_postgres(built: Built) -> None:
    # Guards the parity above against a trivial pass (e.g. both engines built only one day).
    with psycopg.connect(built.dsn) as con:
        (days,) = con.execute(
            "SELECT count(DISTINCT cast(valid_from AS date)) FROM marts.dim_customers"
        ).fetchone()
        (closed,) = con.execute("SELECT count(*) FROM marts.dim_customers WHERE NOT is_current").fetchone()
    assert days >= DAYS
    assert closed > 0


def test_the_comparison_sees_a_single_changed_row(both: duckdb.DuckDBPyConnection, built: Built) -> None:
    with psycopg.connect(built.dsn, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS probe CASCADE")
        con.execute("CREATE SCHEMA probe")
        con.execute("CREATE TABLE probe.fct_orders AS SELECT * FROM marts.fct_orders")
        con.execute(
            "UPDATE probe.fct_orders SET order_total = order_total + 0.01 "
            "WHERE order_id = (SELECT min(order_id) FROM probe.fct_orders)"
        )
    try:
        result = compare_table(
            both, warehouse_catalog(built.settings.warehouse_path), "marts", "fct_orders", "probe"
        )
        assert (result.only_in_duckdb, result.only_in_postgres, result.equal) == (1, 1, False)
    finally:
        with psycopg.connect(built.dsn, autocommit=True) as con:
            con.execute("DROP SCHEMA probe CASCADE")


def test_reload_replaces_raw_and_keeps_the_views_over_it(built: Built) -> None:
    wh = duckdb.connect(str(built.settings.warehouse_path), read_only=True)
    try:
        expected = {
            t: wh.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0]
            for t in ("customers", "order_lines", "orders", "stores")
        }
    finally:
        wh.close()
    # A second load after dbt built views on raw: TRUNCATE + INSERT, so nothing doubles and the views survive.
    copies = load_schemas(built.settings.warehouse_path, built.dsn)
    assert {c.table: c.rows for c in copies} == expected
    with psycopg.connect(built.dsn) as con:
        for table, rows in expected.items():
            assert con.execute(f"SELECT count(*) FROM raw.{table}").fetchone() == (rows,)
        (staged,) = con.execute("SELECT count(*) FROM staging.stg_shop__customers").fetchone()
    assert staged == expected["customers"]


def test_a_changed_postgres_table_is_refused_and_nothing_is_loaded(
    built: Built,
    postgres_server: PostgresServer,  # noqa: F811
) -> None:
    dsn = new_database(postgres_server, "loader_refuses")
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.orders (order_id bigint, something_else text)")
    with pytest.raises(PostgresSchemaError, match="orders"):
        load_schemas(built.settings.warehouse_path, dsn)
    with psycopg.connect(dsn) as con:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' ORDER BY 1"
        ).fetchall()
    # customers was copied before orders was reached: the rollback must have removed it again.
    assert tables == [("orders",)]
