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
    driver_rows: int  # rows collected to the driver, all outputs together
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
    if variant.on("parquet"):
        products = read_products(spark, str(inputs.products_csv))
    else:
        products = read_table(spark, str(inputs.products_csv), "", variant).select(
            "product_id", "category_id"
        )
    customers = read_table(
        spark,
        str(inputs.dim("customers", "parquet" if variant.on("parquet") else "csv")),
        CUSTOMER_SCHEMA,
        variant,
    )
    stores = read_table(
        spark, str(inputs.dim("stores", "parquet" if variant.on("parquet") else "csv")), STORE_SCHEMA, variant
    )
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


def _collect(frame: DataFrame, plans: dict[str, str], name: str) -> pd.DataFrame:
    result = frame.toPandas()
    # After the action, the Dataset's QueryExecution holds the plan that ran (with AQE: the final plan).
    plans[name] = frame._jdf.queryExecution().executedPlan().toString()
    return result


def segment_mix(enriched: DataFrame, variant: JobVariant, plans: dict[str, str]) -> tuple[pd.DataFrame, int]:
    """Revenue and lines per segment x category, and each one's share of the window's revenue."""
    if variant.on("no-collect"):
        mix = _collect(
            enriched.groupBy("segment", "category_id").agg(
                F.sum("cents").alias("revenue_cents"), F.count(F.lit(1)).alias("line_count")
            ),
            plans,
            "segment_mix",
        )
        rows = len(mix)
    else:  # every enriched line to the driver, then pandas
        lines = _collect(enriched, plans, "segment_mix")
        rows = len(lines)
        mix = lines.groupby(["segment", "category_id"], as_index=False).agg(
            revenue_cents=("cents", "sum"), line_count=("cents", "size")
        )
    mix["revenue_share"] = mix["revenue_cents"] / mix["revenue_cents"].sum()
    return mix, rows


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


def run_report(spark: SparkSession, inputs: Inputs, variant: JobVariant) -> RunResult:
    plans: dict[str, str] = {}
    started = time.perf_counter()
    with applied(spark, session_conf(variant)):
        enriched = enriched_lines(spark, inputs, variant)
        if variant.on("cache"):
            enriched = enriched.persist(getattr(StorageLevel, variant.storage_level))
        try:
            weekly = _collect(
                enriched.groupBy("week_start", "store_id", "category_id", "segment").agg(
                    F.countDistinct("order_id").alias("order_count"),
                    F.sum("quantity").alias("item_count"),
                    F.sum("cents").alias("revenue_cents"),
                ),
                plans,
                "weekly_sales",
            )
            stores = _collect(
                enriched.groupBy("week_start", "store_id", "store_name").agg(
                    F.countDistinct("order_id").alias("order_count"),
                    F.countDistinct("customer_id").alias("customer_count"),
                    F.sum("cents").alias("revenue_cents"),
                ),
                plans,
                "store_weekly",
            )
            mix, mix_rows = segment_mix(enriched, variant, plans)
        finally:
            if variant.on("cache"):
                enriched.unpersist()
    seconds = time.perf_counter() - started
    outputs = {
        name: canonical(name, frame)
        for name, frame in (("weekly_sales", weekly), ("store_weekly", stores), ("segment_mix", mix))
    }
    return RunResult(
        variant=variant.label,
        outputs=outputs,
        plans=plans,
        driver_rows=len(weekly) + len(stores) + mix_rows,
        seconds=seconds,
        app_id=spark.sparkContext.applicationId,
        checksums={name: checksum(frame) for name, frame in outputs.items()},
    )
