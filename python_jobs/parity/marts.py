"""The marts both transformation projects build, and where each project writes them."""

from __future__ import annotations

from pathlib import Path

import duckdb

from python_jobs.parity.compare import Verdict, compare_relations

# Every mart of dbt_project/models/marts with its SQLMesh twin. sqlmesh_marts.dim_date (a Python model) has no
# dbt twin and is not compared. The next four come from the engine steps (Spark, Flink, the Monte Carlo job): on
# a warehouse built without them both tools' marts are empty, and still compared (same columns, zero rows each).
# The last three come from the geo step (the static map), which the parity build runs (it takes seconds).
SHARED_MARTS = [
    "dim_customers",
    "dim_stores",
    "fct_orders",
    "fct_daily_sales",
    "fct_product_daily_sales",
    "fct_sensor_windows",
    "fct_sensor_anomalies",
    "fct_store_stockout_risk",
    "dim_tracts",
    "fct_tract_sprawl",
    "fct_store_catchment",
]
DBT_SCHEMA = "marts"
SQLMESH_SCHEMA = "sqlmesh_marts"


def compare_warehouse(warehouse: Path, marts: list[str] = SHARED_MARTS) -> list[Verdict]:
    """dbt's `marts.<m>` against SQLMesh's `sqlmesh_marts.<m>` in one DuckDB warehouse."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [
            compare_relations(
                con,
                f"SELECT * FROM {DBT_SCHEMA}.{mart}",
                con,
                f"SELECT * FROM {SQLMESH_SCHEMA}.{mart}",
                name=mart,
            )
            for mart in marts
        ]
    finally:
        con.close()
