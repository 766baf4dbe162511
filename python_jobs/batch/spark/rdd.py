"""The same computation with the RDD API: Python functions over tuples, no optimiser, no code generation.

Every record crosses from the JVM into a Python worker and back (pickled), and the plan is exactly the
chain of transformations written here: the lineage `toDebugString()` prints is all Spark knows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from pyspark import RDD, SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from python_jobs.batch.semantics import OUTPUTS, LandingFile, landing_files
from python_jobs.batch.spark import df as spark_df

if TYPE_CHECKING:
    from python_jobs.batch.engines import EngineJob

_EPOCH = date(1970, 1, 1)


def _orders(sc: SparkContext, files: list[LandingFile]) -> RDD:
    parts = []
    for f in files:
        day = f.day.isoformat()
        # One textFile per file: the landing day is known per file, and the header is its line starting "order_id".
        parts.append(
            sc.textFile(str(f.path))
            .filter(lambda line: not line.startswith("order_id,"))
            .map(lambda line, day=day: _order(line, day))
        )
    return sc.union(parts)


def _order(line: str, day: str) -> tuple[int, tuple]:
    order_id, customer_id, store_id, order_ts, status, _fee, updated_at = line.split(",")
    # ISO strings compare like the timestamps they spell: (updated_at, landing day) picks the latest version.
    return int(order_id), (updated_at, day, status, int(customer_id), int(store_id), order_ts[:10])


def _line(line: str) -> tuple[int, tuple[int, int, int]]:
    order_id, _number, product_id, quantity, unit_price = line.split(",")
    units, _, cents = unit_price.partition(".")
    price_cents = int(units) * 100 + int((cents + "00")[:2])
    return int(order_id), (int(product_id), int(quantity), price_cents * int(quantity))


def compute(
    spark: SparkSession,
    orders: list[LandingFile],
    lines: list[LandingFile],
    categories: dict[int, int],
    as_of: date,
) -> tuple[dict[str, DataFrame], RDD]:
    """Returns the three outputs (as DataFrames, only to write them) and the line-facts RDD (for its lineage)."""
    sc = spark.sparkContext
    category_of = sc.broadcast(categories)
    latest = _orders(sc, orders).reduceByKey(max)  # tuple max: updated_at, then landing day
    counted = latest.filter(lambda kv: kv[1][2] != "cancelled").mapValues(lambda v: (v[3], v[4], v[5]))
    line_rdd = sc.union(
        [sc.textFile(str(f.path)).filter(lambda s: not s.startswith("order_id,")).map(_line) for f in lines]
    )
    # facts: order_id -> ((product, quantity, cents), (customer, store, order_date))
    facts = line_rdd.join(counted).cache()

    def add3(a, b):
        return a[0] + b[0], a[1] + b[1], a[2] + b[2]

    def product_order(kv):
        order_id, ((product, quantity, cents), (_customer, store, day)) = kv
        return ((day, store, product, category_of.value[product]), order_id), (1, quantity, cents)

    # Distinct orders per group: reduce to one record per (group, order) first, then count those records.
    product = (
        facts.map(product_order)
        .reduceByKey(add3)
        .map(lambda kv: (kv[0][0], (1, *kv[1])))
        .reduceByKey(lambda a, b: (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]))
        .map(lambda kv: (*kv[0], kv[1][0], kv[1][1], kv[1][2], kv[1][3], kv[1][2] / kv[1][1]))
    )
    baskets = facts.map(lambda kv: (kv[0], (kv[1][1], 1, kv[1][0][1], kv[1][0][2]))).reduceByKey(
        lambda a, b: (a[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])
    )
    # basket: order_id -> ((customer, store, day), lines, items, cents); distinct customers the same way.
    store = (
        baskets.map(lambda kv: ((kv[1][0][2], kv[1][0][1], kv[1][0][0]), (1, kv[1][1], kv[1][2], kv[1][3])))
        .reduceByKey(lambda a, b: (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]))
        .map(lambda kv: ((kv[0][0], kv[0][1]), (kv[1][0], 1, kv[1][1], kv[1][2], kv[1][3])))
        .reduceByKey(lambda a, b: tuple(x + y for x, y in zip(a, b, strict=True)))
        .map(lambda kv: (*kv[0], *kv[1], kv[1][3] / kv[1][0], kv[1][4] / kv[1][0]))
    )
    as_of_text = as_of.isoformat()
    rfm = (
        baskets.map(lambda kv: (kv[1][0][0], (kv[1][0][2], 1, kv[1][3])))
        .reduceByKey(lambda a, b: (max(a[0], b[0]), a[1] + b[1], a[2] + b[2]))
        .map(
            lambda kv: (
                as_of_text,
                kv[0],
                kv[1][0],
                (date.fromisoformat(as_of_text) - date.fromisoformat(kv[1][0])).days,
                kv[1][1],
                kv[1][2],
                kv[1][2] / kv[1][1],
            )
        )
    )
    rdds = {"product_daily": product, "store_daily": store, "customer_rfm": rfm}
    frames = {}
    for name, rdd in rdds.items():
        frame = spark.createDataFrame(rdd.map(_typed), _schema(name))
        date_column = "as_of" if name == "customer_rfm" else "order_date"
        frames[name] = frame.selectExpr("*", f"date_format({date_column}, 'yyyy-MM-dd') AS day")
    return frames, facts


def _typed(row: tuple) -> tuple:
    return tuple(datetime.strptime(v, "%Y-%m-%d").date() if isinstance(v, str) else v for v in row)


def _schema(name: str) -> T.StructType:
    kinds = {"order_date": T.DateType(), "as_of": T.DateType(), "last_order_date": T.DateType()}
    floats = {"avg_quantity", "avg_basket_items", "avg_basket_cents", "avg_order_cents"}
    return T.StructType(
        [
            T.StructField(c, kinds.get(c, T.DoubleType() if c in floats else T.LongType()))
            for c in OUTPUTS[name]
        ]
    )


def run_job(job: EngineJob) -> dict[str, object]:
    """The registry's `spark-rdd` engine (engines.py): writes the facts RDD's lineage in place of plans."""
    products = spark_df.read_products(job.spark, str(job.seeds_dir / "products.csv"))
    categories = {r.product_id: r.category_id for r in products.collect()}
    orders = landing_files(job.landing_dir, job.days, "orders")
    lines = landing_files(job.landing_dir, job.days, "order_lines")
    frames, facts = compute(job.spark, orders, lines, categories, job.days[-1])
    (spark_df.plans_dir(job) / "spark-rdd.lineage.txt").write_text(facts.toDebugString().decode())
    spark_df.write_outputs(job, frames)
    return {}
