"""The computation in DuckDB SQL: the single-machine reference the other engines are measured against."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from python_jobs.batch.atomic import atomic_path
from python_jobs.batch.semantics import OUTPUTS, landing_files

if TYPE_CHECKING:
    from python_jobs.batch.engines import EngineJob

_ORDER_TYPES = (
    "{'order_id': 'BIGINT', 'customer_id': 'BIGINT', 'store_id': 'BIGINT', 'order_ts': 'TIMESTAMP', "
    "'status': 'VARCHAR', 'delivery_fee': 'DECIMAL(10,2)', 'updated_at': 'TIMESTAMP'}"
)
_LINE_TYPES = (
    "{'order_id': 'BIGINT', 'line_number': 'INTEGER', 'product_id': 'BIGINT', 'quantity': 'INTEGER', "
    "'unit_price': 'DECIMAL(10,2)'}"
)
_DAY_OF_PATH = r"CAST(regexp_extract(filename, '(\d{4}-\d{2}-\d{2})/[^/]+$', 1) AS DATE)"


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join(f"'{p.as_posix()}'" for p in paths) + "]"


def run(landing_dir: Path, seeds_dir: Path, days: list[date], out_dir: Path, temp_dir: Path) -> None:
    orders = [f.path for f in landing_files(landing_dir, days, "orders")]
    lines = [f.path for f in landing_files(landing_dir, days, "order_lines")]
    as_of = days[-1].isoformat()
    temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        # Spill to a folder we own (and clean) rather than next to the process's working directory.
        con.execute(f"SET temp_directory = '{temp_dir.as_posix()}'")
        con.execute("SET preserve_insertion_order = false")  # lets big aggregates stream and spill
        con.execute(
            f"CREATE TEMP VIEW orders AS SELECT *, {_DAY_OF_PATH} AS load_date "
            f"FROM read_csv({_files(orders)}, header = true, columns = {_ORDER_TYPES}, filename = true)"
        )
        con.execute(
            f"CREATE TEMP VIEW order_lines AS SELECT * "
            f"FROM read_csv({_files(lines)}, header = true, columns = {_LINE_TYPES})"
        )
        con.execute(
            f"CREATE TEMP VIEW products AS SELECT product_id, category_id "
            f"FROM read_csv('{(seeds_dir / 'products.csv').as_posix()}', header = true)"
        )
        # One pass over the big CSV: every later aggregate reads this compact, typed table instead.
        con.execute(
            """
            CREATE TEMP TABLE line_facts AS
            WITH versions AS (
                SELECT order_id, customer_id, store_id, CAST(order_ts AS DATE) AS order_date, status,
                       row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC, load_date DESC) AS rank
                FROM orders
            ),
            counted AS (
                SELECT order_id, customer_id, store_id, order_date FROM versions
                WHERE rank = 1 AND status <> 'cancelled'
            )
            SELECT l.order_id, o.customer_id, o.store_id, o.order_date, l.product_id, p.category_id,
                   l.quantity, CAST(l.unit_price * 100 AS BIGINT) * l.quantity AS cents
            FROM order_lines l
            JOIN counted o ON l.order_id = o.order_id
            JOIN products p ON l.product_id = p.product_id
            """
        )
        queries = {
            "product_daily": """
                SELECT order_date, store_id, product_id, category_id,
                       count(DISTINCT order_id) AS order_count, count(*) AS line_count,
                       sum(quantity) AS item_count, sum(cents) AS revenue_cents,
                       sum(quantity) / count(*) AS avg_quantity
                FROM line_facts GROUP BY ALL
            """,
            "store_daily": """
                WITH baskets AS (
                    SELECT order_id, any_value(customer_id) AS customer_id, any_value(store_id) AS store_id,
                           any_value(order_date) AS order_date, count(*) AS lines, sum(quantity) AS items,
                           sum(cents) AS cents
                    FROM line_facts GROUP BY order_id
                )
                SELECT order_date, store_id, count(*) AS order_count,
                       count(DISTINCT customer_id) AS customer_count, sum(lines) AS line_count,
                       sum(items) AS item_count, sum(cents) AS revenue_cents,
                       sum(items) / count(*) AS avg_basket_items, sum(cents) / count(*) AS avg_basket_cents
                FROM baskets GROUP BY ALL
            """,
            "customer_rfm": f"""
                SELECT DATE '{as_of}' AS as_of, customer_id, max(order_date) AS last_order_date,
                       DATE '{as_of}' - max(order_date) AS recency_days,
                       count(DISTINCT order_id) AS frequency, sum(cents) AS monetary_cents,
                       sum(cents) / count(DISTINCT order_id) AS avg_order_cents
                FROM line_facts GROUP BY customer_id
            """,
        }
        for table, sql in queries.items():
            columns = ", ".join(OUTPUTS[table])
            with atomic_path(out_dir / f"{table}.parquet") as temp:
                con.execute(f"COPY (SELECT {columns} FROM ({sql})) TO '{temp.as_posix()}' (FORMAT parquet)")
    finally:
        con.close()


def run_job(job: EngineJob) -> dict[str, object]:
    """The registry's entry (engines.py)."""
    run(job.landing_dir, job.seeds_dir, job.days, job.out_dir, job.work)
    return {}
