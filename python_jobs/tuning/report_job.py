"""The weekly grocery report, written once the way a hurried analyst would, every anti-pattern behind a switch.

Report (the last WINDOW_WEEKS weeks of order days): weekly sales by store x category x customer segment, weekly
store totals, and the revenue mix of segment x category. The fact (line facts, inputs.py) is joined with the
products seed (category), the customer dimension (segment) and the store dimension (name).

Which anti-pattern is on is decided only by `JobVariant.on(<fix>)` (fixes.py names them). The slow job's session
settings are the analyst's: 200 shuffle partitions, adaptive execution off, automatic broadcast off (copied from
an old notebook after a driver ran out of memory). Each run sets the SQL settings it needs and restores the old
values afterwards, so variants can share one SparkSession.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from python_jobs.batch.spark.df import read_products
from python_jobs.tuning.fixes import JobVariant
from python_jobs.tuning.inputs import CUSTOMER_SCHEMA, FACT_SCHEMA, STORE_SCHEMA, Inputs

# Each output's key columns (the sort and checksum order) and value columns.
OUTPUT_KEYS: dict[str, tuple[str, ...]] = {
    "weekly_sales": ("week_start", "store_id", "category_id", "segment"),
    "store_weekly": ("week_start", "store_id"),
    "segment_mix": ("segment", "category_id"),
}


@dataclass
class RunResult:
    variant: str
    outputs: dict[str, pd.DataFrame]
    plans: dict[str, str]  # output -> executed physical plan (the final adaptive plan when AQE is on)
    driver_rows: dict[str, int]  # output -> rows its action collected to the driver
    seconds: float
    app_id: str
    checksums: dict[str, str] = field(default_factory=dict)


def session_conf(variant: JobVariant) -> dict[str, str]:
    """The SQL settings of a variant: the analyst's defaults, changed only by the fixes that own them."""
    skew = variant.on("skew")
    return {
        "spark.sql.shuffle.partitions": str(
            variant.tuned_partitions if variant.on("partitions") else variant.slow_partitions
        ),
        "spark.sql.adaptive.enabled": str(skew).lower(),
        "spark.sql.adaptive.skewJoin.enabled": str(skew).lower(),
        # Coalescing small shuffle partitions is the `partitions` fix's job: kept off so each fix's share is its own.
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
        "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes": str(variant.skew_bytes),
        "spark.sql.adaptive.advisoryPartitionSizeInBytes": str(variant.skew_bytes),
        # Automatic broadcast is off in every variant: the `broadcast` fix says which side is small, by hint.
        "spark.sql.autoBroadcastJoinThreshold": "-1",
        "spark.sql.adaptive.autoBroadcastJoinThreshold": "-1",
    }


@contextmanager
def applied(spark: SparkSession, conf: dict[str, str]) -> Iterator[None]:
    before = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def read_table(spark: SparkSession, path: str, schema: T.StructType | str, variant: JobVariant) -> DataFrame:
    """Parquet with the declared schema (fix `parquet`), or the CSV export with a schema inference pass."""
    if variant.on("parquet"):
        return spark.read.schema(schema).parquet(path)
    return read_inferred_csv(spark, path)


def read_inferred_csv(spark: SparkSession, path: str) -> DataFrame:
    """The analyst's read: header and `inferSchema`, a whole extra pass over the files to guess the types."""
    return spark.read.option("header", True).option("inferSchema", True).csv(path)


def read_fact(spark: SparkSession, inputs: Inputs, variant: JobVariant) -> DataFrame:
    """The line facts of the report window. Without `pruning` the files are not partitioned by order day: the
    filter is the same, but every file is opened and every row read before it applies."""
    layout = "by_date" if variant.on("pruning") else "flat"
    fmt = "parquet" if variant.on("parquet") else "csv"
    fact = read_table(spark, str(inputs.fact(fmt, layout)), FACT_SCHEMA, variant)
    return fact.where(F.col("order_date").between(F.lit(inputs.window_start), F.lit(inputs.window_end)))


def week_start(variant: JobVariant) -> Column:
    """The Monday of the order day's week."""
    if variant.on("builtin"):
        return F.to_date(F.date_trunc("week", F.col("order_date")))

    def monday(day):  # a closure, pickled by value: the Python workers need not import this package
        from datetime import timedelta

        return day - timedelta(days=day.weekday())

    return F.udf(monday, T.DateType())(F.col("order_date"))


def dimensions(spark: SparkSession, inputs: Inputs, variant: JobVariant) -> tuple[DataFrame, ...]:
    """Products (the seed: a CSV in both variants, its schema declared or inferred), customers and stores."""
    fmt = "parquet" if variant.on("parquet") else "csv"
    if variant.on("parquet"):
        products = read_products(spark, str(inputs.products_csv))
    else:
        products = read_inferred_csv(spark, str(inputs.products_csv)).select("product_id", "category_id")
    customers = read_table(spark, str(inputs.dim("customers", fmt)), CUSTOMER_SCHEMA, variant)
    stores = read_table(spark, str(inputs.dim("stores", fmt)), STORE_SCHEMA, variant)
    dims = (products, customers, stores)
    return tuple(F.broadcast(d) for d in dims) if variant.on("broadcast") else dims


def enriched_lines(spark: SparkSession, inputs: Inputs, variant: JobVariant) -> DataFrame:
    products, customers, stores = dimensions(spark, inputs, variant)
    return (
        read_fact(spark, inputs, variant)
        .join(products, "product_id")
        .join(customers, "customer_id")
        .join(stores, "store_id")
        .select(
            week_start(variant).alias("week_start"),
            "store_id",
            "store_name",
            "category_id",
            "segment",
            "order_id",
            "customer_id",
            F.col("quantity").cast("long").alias("quantity"),
            F.col("cents").cast("long").alias("cents"),
        )
    )


def report_frames(enriched: DataFrame, variant: JobVariant) -> dict[str, DataFrame]:
    """What each output's action runs. The segment mix without `no-collect` is the enriched lines themselves:
    all of them go to the driver and pandas aggregates them there (`segment_mix`)."""
    mix = (
        enriched.groupBy("segment", "category_id").agg(
            F.sum("cents").alias("revenue_cents"), F.count(F.lit(1)).alias("line_count")
        )
        if variant.on("no-collect")
        else enriched
    )
    return {
        "weekly_sales": enriched.groupBy("week_start", "store_id", "category_id", "segment").agg(
            F.countDistinct("order_id").alias("order_count"),
            F.sum("quantity").alias("item_count"),
            F.sum("cents").alias("revenue_cents"),
        ),
        "store_weekly": enriched.groupBy("week_start", "store_id", "store_name").agg(
            F.countDistinct("order_id").alias("order_count"),
            F.countDistinct("customer_id").alias("customer_count"),
            F.sum("cents").alias("revenue_cents"),
        ),
        "segment_mix": mix,
    }


def physical_plan(frame: DataFrame) -> str:
    """Spark's physical plan of `frame`: after an action on it, the plan that ran (with AQE, the final one)."""
    return frame._jdf.queryExecution().executedPlan().toString()


def segment_mix(collected: pd.DataFrame, variant: JobVariant) -> pd.DataFrame:
    """Revenue and lines per segment x category, and each one's share of the window's revenue."""
    if variant.on("no-collect"):
        mix = collected
    else:  # every enriched line came to the driver: pandas aggregates them
        mix = collected.groupby(["segment", "category_id"], as_index=False).agg(
            revenue_cents=("cents", "sum"), line_count=("cents", "size")
        )
    mix["revenue_share"] = mix["revenue_cents"] / mix["revenue_cents"].sum()
    return mix


def canonical(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by key, dates as ISO text, integers as int64: the form two variants are compared in."""
    keys = list(OUTPUT_KEYS[name])
    frame = frame.copy()
    for column in frame.columns:
        if column == "week_start":
            frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
        elif column in ("store_name", "segment"):
            frame[column] = frame[column].astype(str)
        elif column == "revenue_share":
            frame[column] = frame[column].astype("float64").round(12)
        else:
            frame[column] = frame[column].astype("int64")
    values = sorted(c for c in frame.columns if c not in keys)
    return frame[keys + values].sort_values(keys).reset_index(drop=True)


def checksum(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16]


@contextmanager
def prepared(spark: SparkSession, inputs: Inputs, variant: JobVariant) -> Iterator[dict[str, DataFrame]]:
    """The outputs' DataFrames under the variant's settings, the shared lines persisted if `cache` is on."""
    with applied(spark, session_conf(variant)):
        enriched = enriched_lines(spark, inputs, variant)
        if variant.on("cache"):
            enriched = enriched.persist(getattr(StorageLevel, variant.storage_level))
        try:
            yield report_frames(enriched, variant)
        finally:
            if variant.on("cache"):
                enriched.unpersist()


def plan_report(spark: SparkSession, inputs: Inputs, variant: JobVariant) -> dict[str, str]:
    """The physical plan of each output's action, without running it (with AQE on: the initial plan)."""
    with prepared(spark, inputs, variant) as frames:
        return {name: physical_plan(frame) for name, frame in frames.items()}


def run_report(spark: SparkSession, inputs: Inputs, variant: JobVariant) -> RunResult:
    """Run the three outputs' actions, one after another, as the analyst's notebook does."""
    started = time.perf_counter()
    collected: dict[str, pd.DataFrame] = {}
    plans: dict[str, str] = {}
    with prepared(spark, inputs, variant) as frames:
        for name, frame in frames.items():
            # Names the output's jobs in the UI and the event log, so its stages can be told apart.
            spark.sparkContext.setJobDescription(name)
            collected[name] = frame.toPandas()
            plans[name] = physical_plan(frame)
        spark.sparkContext.setJobDescription(None)
    driver_rows = {name: len(frame) for name, frame in collected.items()}
    collected["segment_mix"] = segment_mix(collected["segment_mix"], variant)
    seconds = time.perf_counter() - started
    outputs = {name: canonical(name, frame) for name, frame in collected.items()}
    return RunResult(
        variant=variant.label,
        outputs=outputs,
        plans=plans,
        driver_rows=driver_rows,
        seconds=seconds,
        app_id=spark.sparkContext.applicationId,
        checksums={name: checksum(frame) for name, frame in outputs.items()},
    )
