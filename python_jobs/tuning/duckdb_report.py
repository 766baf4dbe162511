"""The weekly report in DuckDB: the reference the tuned Spark job is measured against.

Same inputs (the fact partitioned by order day, the dimensions as Parquet, the products seed), same three outputs
in the same canonical form, so the checksums must equal Spark's. One process, one SQL engine, no JVM and no
shuffle between executors: the floor a single machine can reach on this report, which is what the issue's
"tuned within 2x of DuckDB" compares with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from python_jobs.tuning.fixes import FIX_NAMES, JobVariant
from python_jobs.tuning.inputs import Inputs
from python_jobs.tuning.report_job import canonical, checksum, segment_mix

# The line facts of the report window, and the enriched lines each output aggregates. The filter on the
# partition column lets DuckDB skip the other days' folders, as the pruning fix does for Spark.
VIEWS = """
create or replace temp view fact_window as
select * from read_parquet($fact, hive_partitioning = true, hive_types = {'order_date': date})
where order_date between $window_start and $window_end;
create or replace temp view enriched as
select cast(date_trunc('week', f.order_date) as date) as week_start,
       f.store_id, s.store_name, p.category_id, c.segment, f.order_id, f.customer_id,
       cast(f.quantity as bigint) as quantity, cast(f.cents as bigint) as cents
from fact_window f
join read_csv($products, header = true, columns = {
    'product_id': 'BIGINT', 'product_name': 'VARCHAR', 'category_id': 'BIGINT',
    'unit_price': 'DECIMAL(10,2)', 'is_perishable': 'BOOLEAN'}) p using (product_id)
join read_parquet($customers) c using (customer_id)
join read_parquet($stores) s using (store_id)
"""

OUTPUT_SQL: dict[str, str] = {
    "weekly_sales": """
        select week_start, store_id, category_id, segment, count(distinct order_id) as order_count,
               sum(quantity) as item_count, sum(cents) as revenue_cents
        from enriched group by all""",
    "store_weekly": """
        select week_start, store_id, store_name, count(distinct order_id) as order_count,
               count(distinct customer_id) as customer_count, sum(cents) as revenue_cents
        from enriched group by all""",
    "segment_mix": """
        select segment, category_id, sum(cents) as revenue_cents, count(*) as line_count
        from enriched group by all""",
}


@dataclass
class DuckResult:
    outputs: dict[str, pd.DataFrame]
    checksums: dict[str, str]
    seconds: float
    threads: int


def create_views(con: duckdb.DuckDBPyConnection, inputs: Inputs) -> None:
    """The views `fact_window` and `enriched` over the prepared inputs, in this connection."""
    params = {
        "fact": str(inputs.fact("parquet", "by_date") / "*" / "*.parquet"),
        "products": str(inputs.products_csv),
        "customers": str(inputs.dim("customers", "parquet") / "*.parquet"),
        "stores": str(inputs.dim("stores", "parquet") / "*.parquet"),
        "window_start": inputs.window_start,
        "window_end": inputs.window_end,
    }
    # A view cannot take prepared parameters: the values are inlined as SQL literals.
    sql = VIEWS
    for name, value in params.items():
        sql = sql.replace(f"${name}", "'" + str(value).replace("'", "''") + "'")
    con.execute(sql)


def run_duckdb_report(
    inputs: Inputs, *, threads: int | None = None, memory_limit: str | None = None
) -> DuckResult:
    """The three outputs, timed from the connection's opening to the last result in pandas."""
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        if threads:
            con.execute(f"set threads = {int(threads)}")
        if memory_limit:
            con.execute("set memory_limit = ?", [memory_limit])
        create_views(con, inputs)
        collected = {name: con.execute(query).df() for name, query in OUTPUT_SQL.items()}
        used = con.execute("select current_setting('threads')").fetchone()[0]
    finally:
        con.close()
    collected["segment_mix"] = segment_mix(collected["segment_mix"], JobVariant(fixes=frozenset(FIX_NAMES)))
    seconds = time.perf_counter() - started
    outputs = {name: canonical(name, frame) for name, frame in collected.items()}
    return DuckResult(
        outputs=outputs,
        checksums={name: checksum(frame) for name, frame in outputs.items()},
        seconds=seconds,
        threads=int(used),
    )


def write_duckdb_result(out: Path, result: DuckResult) -> dict:
    """Outputs as Parquet and result.json last, in the layout a Spark run writes (run.write_result)."""
    import json

    from python_jobs.batch.atomic import write_atomic

    out.mkdir(parents=True, exist_ok=True)
    for name, frame in result.outputs.items():
        write_atomic(out / f"{name}.parquet", lambda p, f=frame: f.to_parquet(p, index=False))
    record = {
        "variant": "duckdb",
        "engine": f"duckdb {duckdb.__version__}",
        "threads": result.threads,
        "job_seconds": round(result.seconds, 3),
        "checksums": result.checksums,
    }
    write_atomic(out / "result.json", lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))
    return record
