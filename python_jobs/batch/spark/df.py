"""The computation with the Spark DataFrame API (Catalyst-optimised, Tungsten code generation).

PySpark has no typed Datasets (they exist in Scala and Java only): what Python offers instead is an explicit
schema on every read (below: no inference pass, no surprise types) and, where row-level Python is needed,
`groupBy(...).applyInPandas(fn, schema)` over Arrow batches (docs/batch.md, "Typed Datasets").
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from python_jobs.batch.semantics import OUTPUTS, LandingFile, landing_files

if TYPE_CHECKING:
    from python_jobs.batch.engines import EngineJob

ORDER_SCHEMA = T.StructType(
    [
        T.StructField("order_id", T.LongType()),
        T.StructField("customer_id", T.LongType()),
        T.StructField("store_id", T.LongType()),
        T.StructField("order_ts", T.TimestampType()),
        T.StructField("status", T.StringType()),
        T.StructField("delivery_fee", T.DecimalType(10, 2)),
        T.StructField("updated_at", T.TimestampType()),
    ]
)
LINE_SCHEMA = T.StructType(
    [
        T.StructField("order_id", T.LongType()),
        T.StructField("line_number", T.IntegerType()),
        T.StructField("product_id", T.LongType()),
        T.StructField("quantity", T.IntegerType()),
        T.StructField("unit_price", T.DecimalType(10, 2)),
    ]
)
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"


def landing_day_of_path(path: Column) -> Column:
    """The landing day is the folder name: .../landing/<YYYY-MM-DD>/<file>.csv."""
    return F.to_date(F.regexp_extract(path, r"(\d{4}-\d{2}-\d{2})/[^/]+$", 1))


def read_csv(spark: SparkSession, files: list[LandingFile], schema: T.StructType) -> DataFrame:
    """Clean landing files (the lab's data): FAILFAST, so a bad line stops the run instead of vanishing.
    Orders get their landing day (the tie-break of the latest version); lines do not need it."""
    frame = (
        spark.read.schema(schema)
        .option("header", True)
        .option("mode", "FAILFAST")
        .option("timestampFormat", TIMESTAMP_FORMAT)
        .csv([str(f.path) for f in files])
    )
    if "updated_at" in schema.fieldNames():
        frame = frame.withColumn("load_date", landing_day_of_path(F.col("_metadata.file_path")))
    return frame


def read_products(spark: SparkSession, seeds_path: str) -> DataFrame:
    schema = "product_id BIGINT, product_name STRING, category_id BIGINT, unit_price DECIMAL(10,2), is_perishable BOOLEAN"
    return (
        spark.read.schema(schema).option("header", True).csv(seeds_path).select("product_id", "category_id")
    )


def latest_counted(orders: DataFrame) -> DataFrame:
    """Latest version per order (highest updated_at, then load_date), then cancelled ones dropped.

    The version is packed into one long and every field is taken with `max_by` on it, so every aggregation
    buffer is fixed-width and Spark plans a HashAggregate. The SQL twin (spark/sql.py) keeps the readable
    `max(struct(...))`, whose struct buffer forces a SortAggregate: a sort of every order version. Their
    plans (`make lab-batch` writes them) and wall times side by side show what that costs."""
    version = F.col("updated_at").cast("long") * 100_000 + F.datediff("load_date", F.lit("1970-01-01"))
    latest = (
        orders.withColumn("version", version)
        .groupBy("order_id")
        .agg(
            F.max_by((F.col("status") == "cancelled").cast("int"), "version").alias("cancelled"),
            F.max_by("customer_id", "version").alias("customer_id"),
            F.max_by("store_id", "version").alias("store_id"),
            F.max_by(F.to_date("order_ts"), "version").alias("order_date"),
        )
    )
    return latest.where(F.col("cancelled") == 0).drop("cancelled")


def line_facts(orders: DataFrame, lines: DataFrame, products: DataFrame) -> DataFrame:
    return (
        lines.join(latest_counted(orders), "order_id")
        .join(F.broadcast(products), "product_id")
        .select(
            "order_id",
            "customer_id",
            "store_id",
            "order_date",
            "product_id",
            "category_id",
            F.col("quantity").cast("long").alias("quantity"),
            ((F.col("unit_price") * 100).cast("long") * F.col("quantity")).alias("cents"),
        )
    )


def compute(facts: DataFrame, as_of: date, from_date: date | None = None) -> dict[str, DataFrame]:
    """The three outputs, each with a `day` partition column (the order day, or `as_of` for RFM)."""
    daily = facts if from_date is None else facts.where(F.col("order_date") >= F.lit(from_date))
    product = (
        daily.groupBy("order_date", "store_id", "product_id", "category_id")
        .agg(
            F.countDistinct("order_id").alias("order_count"),
            F.count(F.lit(1)).alias("line_count"),
            F.sum("quantity").alias("item_count"),
            F.sum("cents").alias("revenue_cents"),
        )
        .withColumn("avg_quantity", F.col("item_count") / F.col("line_count"))
    )
    baskets = facts.groupBy("order_id").agg(
        F.first("customer_id").alias("customer_id"),
        F.first("store_id").alias("store_id"),
        F.first("order_date").alias("order_date"),
        F.count(F.lit(1)).alias("lines"),
        F.sum("quantity").alias("items"),
        F.sum("cents").alias("cents"),
    )
    daily_baskets = baskets if from_date is None else baskets.where(F.col("order_date") >= F.lit(from_date))
    store = (
        daily_baskets.groupBy("order_date", "store_id")
        .agg(
            F.count(F.lit(1)).alias("order_count"),
            F.countDistinct("customer_id").alias("customer_count"),
            F.sum("lines").alias("line_count"),
            F.sum("items").alias("item_count"),
            F.sum("cents").alias("revenue_cents"),
        )
        .withColumn("avg_basket_items", F.col("item_count") / F.col("order_count"))
        .withColumn("avg_basket_cents", F.col("revenue_cents") / F.col("order_count"))
    )
    rfm = (
        baskets.groupBy("customer_id")
        .agg(
            F.max("order_date").alias("last_order_date"),
            F.count(F.lit(1)).alias("frequency"),
            F.sum("cents").alias("monetary_cents"),
        )
        .withColumn("as_of", F.lit(as_of))
        .withColumn("recency_days", F.datediff(F.lit(as_of), F.col("last_order_date")).cast("long"))
        .withColumn("avg_order_cents", F.col("monetary_cents") / F.col("frequency"))
    )
    out = {"product_daily": product, "store_daily": store, "customer_rfm": rfm}
    return {
        name: df.select(
            *OUTPUTS[name],
            F.date_format("as_of" if name == "customer_rfm" else "order_date", "yyyy-MM-dd").alias("day"),
        )
        for name, df in out.items()
    }


def write_partitioned(df: DataFrame, path: str) -> None:
    """Dynamic partition overwrite: only the `day` folders present in `df` are replaced, each atomically by
    Spark's output committer (files go to a staging folder and are moved in when the job commits).

    One task per day, rows sorted inside it: a shuffle delivers rows in arrival order, so without the sort two
    runs write the same rows in another order and the files' bytes (and sizes) differ. `day` leads the sort
    key: the writer needs its input ordered by the partition column and otherwise adds its own sort on `day`
    alone, which puts the rows of a day back in an arbitrary order (measured: same rows, other file size)."""
    order = ["day", *(c for c in df.columns if c != "day")]
    df.repartition("day").sortWithinPartitions(*order).write.mode("overwrite").partitionBy("day").parquet(
        path
    )


def run_job(job: EngineJob) -> dict[str, object]:
    """The registry's `spark-df` engine (engines.py)."""
    orders, lines, products = read_inputs(job)
    # Three outputs = three Spark jobs over the same line facts: without the cache each job parses the
    # CSV and joins again (the RDD engine caches its facts RDD the same way).
    frames = compute(line_facts(orders, lines, products).cache(), job.days[-1])
    write_plans(job, "spark-df", frames)
    write_outputs(job, frames)
    return {}


def read_inputs(job: EngineJob) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Orders, lines and products of an engine run (the DataFrame and SQL engines read them alike)."""
    products = read_products(job.spark, str(job.seeds_dir / "products.csv"))
    orders = read_csv(job.spark, landing_files(job.landing_dir, job.days, "orders"), ORDER_SCHEMA)
    lines = read_csv(job.spark, landing_files(job.landing_dir, job.days, "order_lines"), LINE_SCHEMA)
    return orders, lines, products


def plans_dir(job: EngineJob) -> Path:
    """Where the Spark engines write their plans, beside their outputs."""
    plans = job.out_dir / "plans"
    plans.mkdir(exist_ok=True)
    return plans


def write_plans(job: EngineJob, name: str, frames: dict[str, DataFrame]) -> None:
    plans = plans_dir(job)
    for table, frame in frames.items():
        for mode in ("formatted", "codegen"):
            (plans / f"{name}.{table}.{mode}.txt").write_text(explain_string(frame, mode))


def write_outputs(job: EngineJob, frames: dict[str, DataFrame]) -> None:
    for table, frame in frames.items():
        write_partitioned(frame, str(job.out_dir / table))


def explain_string(frame: DataFrame, mode: str) -> str:
    """What `DataFrame.explain(mode)` prints, as a string (PySpark's explain only prints)."""
    jvm = frame.sparkSession.sparkContext._jvm
    return jvm.PythonSQLUtils.explainString(frame._jdf.queryExecution(), mode)
