"""The same computation as Spark SQL text: Catalyst turns it into the same kind of physical plan as the
DataFrame version (compare the `explain` output the lab writes)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, SparkSession

from python_jobs.batch.spark import df as spark_df

if TYPE_CHECKING:
    from python_jobs.batch.engines import EngineJob

LINE_FACTS = """
WITH latest AS (
    SELECT order_id, max(struct(updated_at, load_date, status, customer_id, store_id, order_ts)) AS v
    FROM orders GROUP BY order_id
),
counted AS (
    SELECT order_id, v.customer_id, v.store_id, to_date(v.order_ts) AS order_date
    FROM latest WHERE v.status <> 'cancelled'
)
SELECT /*+ BROADCAST(p) */ l.order_id, c.customer_id, c.store_id, c.order_date, l.product_id, p.category_id,
       CAST(l.quantity AS BIGINT) AS quantity,
       CAST(l.unit_price * 100 AS BIGINT) * l.quantity AS cents
FROM order_lines l
JOIN counted c ON l.order_id = c.order_id
JOIN products p ON l.product_id = p.product_id
"""

QUERIES = {
    "product_daily": """
SELECT order_date, store_id, product_id, category_id, count(DISTINCT order_id) AS order_count,
       count(*) AS line_count, sum(quantity) AS item_count, sum(cents) AS revenue_cents,
       sum(quantity) / count(*) AS avg_quantity, date_format(order_date, 'yyyy-MM-dd') AS day
FROM line_facts GROUP BY order_date, store_id, product_id, category_id
""",
    "store_daily": """
WITH baskets AS (
    SELECT order_id, first(customer_id) AS customer_id, first(store_id) AS store_id,
           first(order_date) AS order_date, count(*) AS lines, sum(quantity) AS items, sum(cents) AS cents
    FROM line_facts GROUP BY order_id
)
SELECT order_date, store_id, count(*) AS order_count, count(DISTINCT customer_id) AS customer_count,
       sum(lines) AS line_count, sum(items) AS item_count, sum(cents) AS revenue_cents,
       sum(items) / count(*) AS avg_basket_items, sum(cents) / count(*) AS avg_basket_cents,
       date_format(order_date, 'yyyy-MM-dd') AS day
FROM baskets GROUP BY order_date, store_id
""",
    "customer_rfm": """
WITH baskets AS (
    SELECT order_id, first(customer_id) AS customer_id, first(order_date) AS order_date, sum(cents) AS cents
    FROM line_facts GROUP BY order_id
)
SELECT DATE '{as_of}' AS as_of, customer_id, max(order_date) AS last_order_date,
       CAST(datediff(DATE '{as_of}', max(order_date)) AS BIGINT) AS recency_days, count(*) AS frequency,
       sum(cents) AS monetary_cents, sum(cents) / count(*) AS avg_order_cents, '{as_of}' AS day
FROM baskets GROUP BY customer_id
""",
}


def compute(
    spark: SparkSession, orders: DataFrame, lines: DataFrame, products: DataFrame, as_of: date
) -> dict[str, DataFrame]:
    orders.createOrReplaceTempView("orders")
    lines.createOrReplaceTempView("order_lines")
    products.createOrReplaceTempView("products")
    spark.sql("UNCACHE TABLE IF EXISTS line_facts")  # a previous run's cache in the same session
    spark.sql(LINE_FACTS).createOrReplaceTempView("line_facts")
    # Read by all three queries: cached on first use, not parsed and joined three times.
    spark.sql("CACHE LAZY TABLE line_facts")
    return {name: spark.sql(sql.format(as_of=as_of.isoformat())) for name, sql in QUERIES.items()}


def run_job(job: EngineJob) -> dict[str, object]:
    """The registry's `spark-sql` engine (engines.py)."""
    orders, lines, products = spark_df.read_inputs(job)
    frames = compute(job.spark, orders, lines, products, job.days[-1])
    spark_df.write_plans(job, "spark-sql", frames)
    spark_df.write_outputs(job, frames)
    return {}
