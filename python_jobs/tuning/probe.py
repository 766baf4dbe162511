"""Where the tuned Spark job loses to DuckDB: the report's steps, one at a time, timed in both engines.

The lab compares whole runs; this splits the report into the steps it is made of (start, scan, joins, a grouping
with few groups, the grouping a distinct count needs, the two outputs with distinct counts) and runs each one
alone in both engines on the same prepared inputs, warm (the best of `repeat` runs, after the first), with the
row count and a sum of each step's result compared, so the two engines are timed doing the same work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from python_jobs.tuning.duckdb_report import OUTPUT_SQL, create_views
from python_jobs.tuning.fixes import FIX_NAMES, JobVariant
from python_jobs.tuning.inputs import Inputs
from python_jobs.tuning.report_job import (
    OUTPUT_KEYS,
    applied,
    enriched_lines,
    read_fact,
    report_frames,
    session_conf,
)

WEEKLY_KEYS = OUTPUT_KEYS["weekly_sales"]


@dataclass(frozen=True)
class Probe:
    name: str
    what: str
    spark: Callable[[DataFrame, DataFrame, JobVariant], DataFrame]  # (fact window, enriched lines, variant)
    sql: str  # over DuckDB's views fact_window and enriched
    value: str  # the column summed to compare the engines' results


PROBES: tuple[Probe, ...] = (
    Probe("scan", "the window's line facts read (Parquet, pruned by day)", lambda f, e, v: f,
          "select * from fact_window", "cents"),
    Probe("scan + 3 joins", "the enriched lines: products, customers and stores joined (broadcast in Spark)",
          lambda f, e, v: e, "select * from enriched", "cents"),
    Probe("group by the output keys", "weekly_sales' grouping without its distinct count: few groups",
          lambda f, e, v: e.groupBy(*WEEKLY_KEYS).agg(F.sum("cents").alias("revenue_cents")),
          f"select {', '.join(WEEKLY_KEYS)}, sum(cents) as revenue_cents from enriched group by all",
          "revenue_cents"),
    Probe("group by order x category", "the grouping a distinct order count needs: a group per order and category",
          lambda f, e, v: e.groupBy("order_id", "category_id").agg(F.sum("cents").alias("revenue_cents")),
          "select order_id, category_id, sum(cents) as revenue_cents from enriched group by all",
          "revenue_cents"),
    Probe("weekly_sales", "the output: one distinct count (orders)",
          lambda f, e, v: report_frames(e, v)["weekly_sales"], OUTPUT_SQL["weekly_sales"], "order_count"),
    Probe("store_weekly", "the output: two distinct counts (orders, customers)",
          lambda f, e, v: report_frames(e, v)["store_weekly"], OUTPUT_SQL["store_weekly"], "customer_count"),
)  # fmt: skip


@dataclass
class ProbeRow:
    name: str
    what: str
    rows: int
    spark_s: float
    duckdb_s: float
    equal: bool

    @property
    def ratio(self) -> float:
        return self.spark_s / max(self.duckdb_s, 1e-6)


def _best(run: Callable[[], tuple[int, int]], repeat: int, warm_up: bool) -> tuple[float, tuple[int, int]]:
    """The best time of `repeat` runs, after a first, unmeasured one if `warm_up` (JIT, caches, file listing)."""
    result = run() if warm_up else (0, 0)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def probe_variant(**sizes: int) -> JobVariant:
    """The tuned job without its cache: each step computed from the files, as DuckDB computes it."""
    return JobVariant(fixes=frozenset(set(FIX_NAMES) - {"cache"}), **sizes)


def run_probes(
    spark: SparkSession,
    inputs: Inputs,
    variant: JobVariant,
    *,
    repeat: int = 2,
    warm_up: bool = True,
    threads: int | None = None,
) -> list[ProbeRow]:
    """Each probe in Spark under `variant`'s settings (`probe_variant`, sized for the data) and in DuckDB;
    `spark` is started by the caller, so its start is timed there."""
    import duckdb

    rows = []
    con = duckdb.connect()
    try:
        if threads:
            con.execute(f"set threads = {int(threads)}")
        create_views(con, inputs)
        with applied(spark, session_conf(variant)):
            fact = read_fact(spark, inputs, variant)
            enriched = enriched_lines(spark, inputs, variant)
            for probe in PROBES:
                frame = probe.spark(fact, enriched, variant)

                def on_spark(frame: DataFrame = frame, value: str = probe.value) -> tuple[int, int]:
                    row = frame.agg(F.count(F.lit(1)), F.sum(value)).collect()[0]
                    return int(row[0]), int(row[1])

                def on_duckdb(sql: str = probe.sql, value: str = probe.value) -> tuple[int, int]:
                    count, total = con.execute(f"select count(*), sum({value}) from ({sql})").fetchone()
                    return int(count), int(total)

                spark_s, spark_result = _best(on_spark, repeat, warm_up)
                duckdb_s, duckdb_result = _best(on_duckdb, repeat, warm_up)
                rows.append(
                    ProbeRow(
                        probe.name,
                        probe.what,
                        spark_result[0],
                        spark_s,
                        duckdb_s,
                        spark_result == duckdb_result,
                    )
                )
    finally:
        con.close()
    return rows
