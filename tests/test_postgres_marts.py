"""The same marts on a real PostgreSQL: raw copied by the loader, both tools replayed day by day, DuckDB ≡ Postgres.

One module-scoped build: the pipeline's own steps generate → ingest → dbt build → sqlmesh for 3 small simulated
days into a temporary DuckDB warehouse, then the raw tables copied into a fresh database of the session's
throwaway server, and `dbt build --target postgres` plus the SQLMesh step on the `postgres` gateway for the same
3 days. Every mart of both tools must then be equal on both engines, row for row, and on each engine dbt's
marts must equal SQLMesh's.

The geo step and its load run too (seconds), so the geo marts are compared with rows on both engines.
The Flink job is not run (its own environment, too slow here); a few hand-made sensor rows go through the
project's output loader instead, so the sensor marts are built from real rows on both engines too, including
fractional-second timestamps where DuckDB's and Postgres's date arithmetic could differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import duckdb
import psycopg
import pytest

from python_jobs.config import Settings, load_settings
from python_jobs.ingest.outputs import load_output
from python_jobs.orchestration import day_steps, run_step
from python_jobs.parity import compare_relations
from python_jobs.parity.marts import SHARED_MARTS
from python_jobs.postgres import federated
from python_jobs.postgres.attach import connect, warehouse_catalog
from python_jobs.postgres.build import build_on_postgres
from python_jobs.postgres.load import PostgresSchemaError, load_schemas
from python_jobs.postgres.parity import compare_table, tables_of
from python_jobs.postgres.server import PostgresServer
from tests.pg import new_database, postgres_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DAYS = 3
# The marts both tools build from the shop data; each must be non-empty here, so equality is not vacuous.
CORE_MARTS = ["dim_customers", "dim_stores", "fct_daily_sales", "fct_orders"]
# Fed by the engine steps. The sensor marts get the hand-made rows below; fct_product_daily_sales and
# fct_store_stockout_risk stay empty (no Spark or compute step here, so no raw.batch_product_daily or
# raw.compute_stockout_risk): they check that both tools build them without their table.
ENGINE_MARTS = [
    "fct_product_daily_sales",
    "fct_sensor_anomalies",
    "fct_sensor_windows",
    "fct_store_stockout_risk",
]
SCHEMAS = {"dbt": "marts", "sqlmesh": "sqlmesh_marts"}
GEO_MARTS = ["dim_tracts", "fct_store_catchment", "fct_tract_sprawl"]
NON_EMPTY = [*CORE_MARTS, "fct_sensor_anomalies", "fct_sensor_windows", *GEO_MARTS]

SENSOR_WINDOWS = [
    # window lengths must satisfy the marts' tests: tumble_1m = 60 s, hop_5m_1m = 300 s
    ("S01", 1, "tumble_1m", "10:00:00", "10:01:00", 12, 3.5, 3.1, 3.9, 0, 0.25),
    ("S01", 1, "hop_5m_1m", "10:00:00", "10:05:00", 60, 3.6, 3.0, 4.1, 2, None),
    ("S02", 2, "door_session", "11:00:00.250", "11:02:10.750", 7, 5.0, 4.0, 6.0, 7, None),
]
SENSOR_ANOMALIES = [
    ("S01", 1, "compressor_failure", "10:00:00", "10:07:30", 2.5),
    ("S02", 2, "flatline", "23:59:59.900", "23:59:59.950", 0.0),
]
# Only the steps of the two transformation tools, plus the geo step and its load (the static map: seconds, and
# its marts then have rows on both engines); the other modules' engines are not under test here.
STEPS = ("generate", "ingest", "geo", "load geo", "dbt build", "sqlmesh")


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
    settings = load_settings({}).with_(data_dir=data, warehouse_path=data / "warehouse.duckdb", scale=0.5)
    data.mkdir(parents=True)
    log = data / "build.log"
    for day in range(1, DAYS + 1):
        for step in day_steps(settings, day, settings.warehouse_path):
            if step.name in STEPS:
                run_step(step, log)
            if step.name == "ingest" and day == 1:
                _load_sensor_rows(settings, settings.day_date(1))
    dsn = new_database(postgres_server, "marts_parity")
    build_on_postgres(settings, DAYS, dsn, tools=("dbt", "sqlmesh"), parallel=True)
    yield Built(settings, dsn)


WINDOW_KEYS = (
    "sensor_id", "store_id", "window_kind", "window_start", "window_end", "events",
    "temp_mean", "temp_min", "temp_max", "door_open_events", "temp_zscore",
)  # fmt: skip
ANOMALY_KEYS = ("sensor_id", "store_id", "kind", "start_time", "detected_at", "score")


def _load_sensor_rows(settings: Settings, day: date) -> None:
    """Stand-in for the Flink job's JSON outputs of `day`, loaded by the project's output loader."""
    folder = settings.data_dir / "outputs" / "hand-made" / day.isoformat()
    folder.mkdir(parents=True)

    def ts(clock: str) -> str:
        return f"{day.isoformat()} {clock}"

    windows = [
        dict(zip(WINDOW_KEYS, (*row[:3], ts(row[3]), ts(row[4]), *row[5:]), strict=True))
        for row in SENSOR_WINDOWS
    ]
    anomalies = [
        dict(zip(ANOMALY_KEYS, (*row[:3], ts(row[3]), ts(row[4]), row[5]), strict=True))
        for row in SENSOR_ANOMALIES
    ]
    for table, rows in (("sensor_windows", windows), ("sensor_anomalies", anomalies)):
        path = folder / f"{table}.json"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        load_output(settings, table, [path], fmt="json", load_date=day)


@pytest.fixture
def both(built: Built) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(built.dsn, warehouse=built.settings.warehouse_path, postgres_read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize("tool", ["dbt", "sqlmesh"])
def test_every_mart_is_identical_on_duckdb_and_postgres(
    both: duckdb.DuckDBPyConnection, built: Built, tool: str
) -> None:
    # Every mart the tool built, found at run time: marts other modules add are covered without editing this.
    catalog = warehouse_catalog(built.settings.warehouse_path)
    marts = tables_of(both, catalog, SCHEMAS[tool])
    assert set(CORE_MARTS + ENGINE_MARTS + GEO_MARTS) <= set(marts)
    assert tables_of(both, "pg", SCHEMAS[tool]) == marts
    results = {m: compare_table(both, catalog, SCHEMAS[tool], m) for m in marts}
    assert {m: r for m, r in results.items() if not r.equal or r.type_differences} == {}
    assert {m: results[m].duckdb_rows for m in NON_EMPTY if results[m].duckdb_rows == 0} == {}


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_dbt_and_sqlmesh_agree_on_each_engine(
    both: duckdb.DuckDBPyConnection, built: Built, engine: str
) -> None:
    # The other diagonal: on each engine, dbt's marts equal SQLMesh's. The hand-made sensor rows have
    # fractional-second timestamps, where the two projects' second counts are written differently.
    catalog = "pg" if engine == "postgres" else warehouse_catalog(built.settings.warehouse_path)
    verdicts = [
        compare_relations(
            both,
            f'SELECT * FROM "{catalog}".marts.{mart}',
            both,
            f'SELECT * FROM "{catalog}".sqlmesh_marts.{mart}',
            name=mart,
        )
        for mart in SHARED_MARTS
    ]
    assert [v.name for v in verdicts if not v.ok] == []
    # Empty on both tools: the marts of the engine steps this build leaves out (no Spark, no Monte Carlo).
    assert {v.name for v in verdicts if v.left_rows == 0} == {
        "fct_product_daily_sales",
        "fct_store_stockout_risk",
    }


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
        tables = wh.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
        ).fetchall()
        expected = {t: wh.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for (t,) in tables}
    finally:
        wh.close()
    # A second load after dbt built views on raw: TRUNCATE + INSERT, so nothing doubles and the views survive.
    copies = load_schemas(built.settings.warehouse_path, built.dsn)
    assert {c.table: c.rows for c in copies} == expected
    assert {"customers", "order_lines", "orders", "stores", "sensor_windows", "sensor_anomalies"} <= set(
        expected
    )
    with psycopg.connect(built.dsn) as con:
        for table, rows in expected.items():
            assert con.execute(f"SELECT count(*) FROM raw.{table}").fetchone() == (rows,)
        (staged,) = con.execute("SELECT count(*) FROM staging.stg_shop__customers").fetchone()
        # Every raw table with a load day has its BRIN index, already summarised (nothing left to summarise).
        indexed = {
            table: con.execute(f"SELECT brin_summarize_new_values('raw.\"{index}\"'::regclass)").fetchone()[0]
            for table, index in con.execute(
                "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'raw' AND indexdef LIKE "
                "'%USING brin (_load_date)%'"
            ).fetchall()
        }
    assert staged == expected["customers"]
    assert {"customers", "order_lines", "orders", "stores"} <= set(indexed)
    assert set(indexed.values()) == {0}


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


def test_federated_query_joins_postgres_parquet_and_duckdb(
    both: duckdb.DuckDBPyConnection, built: Built, tmp_path_factory: pytest.TempPathFactory
) -> None:
    catalog = warehouse_catalog(built.settings.warehouse_path)
    parquet = tmp_path_factory.mktemp("lake") / "order_lines.parquet"
    (lines,) = both.execute(f'SELECT count(*) FROM "{catalog}".raw.order_lines').fetchone()
    assert federated.export_order_lines(both, catalog, parquet) == lines
    sql = federated.revenue_query(parquet, catalog)
    across = both.execute(sql).fetchall()
    # The same question answered with the marts read from the DuckDB warehouse instead of Postgres.
    local = both.execute(federated.revenue_query(parquet, catalog, marts=f'"{catalog}".marts')).fetchall()
    assert across == local
    assert len(across) > 1
    plan = federated.physical_plan(both, sql)
    assert "POSTGRES_SCAN" in plan and "READ_PARQUET" in plan
    # The status filter runs inside Postgres: only delivered orders cross the wire.
    assert "order_status='delivered'" in plan
