"""Run one engine over the landing data of a folder: the unit the lab measures and the tests compare.

Each engine writes the three outputs under `out_dir` (canonical.py reads them) and returns facts worth
reporting (bytes it spilled, where it can tell).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

from python_jobs.batch.semantics import landing_days, landing_files
from python_jobs.config import ModinSettings

ENGINES = ("spark-df", "spark-sql", "spark-rdd", "pandas", "pandas-chunked", "duckdb", "polars", "modin")


def run_engine(
    name: str,
    landing_dir: Path,
    seeds_dir: Path,
    out_dir: Path,
    *,
    through: date | None = None,
    spark=None,
    modin: ModinSettings | None = None,
) -> dict[str, object]:
    days = landing_days(landing_dir, through)
    if not days:
        raise FileNotFoundError(f"no landing days under {landing_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / "_work"
    try:
        if name == "duckdb":
            from python_jobs.batch.reference import duckdb as duckdb_engine

            duckdb_engine.run(landing_dir, seeds_dir, days, out_dir, work)
            return {}
        if name == "polars":
            from python_jobs.batch.reference import polars as polars_engine

            polars_engine.run(landing_dir, seeds_dir, days, out_dir, work)
            return {}
        if name == "pandas":
            from python_jobs.batch.pandas import engine as pandas_engine

            pandas_engine.run(landing_dir, seeds_dir, days, out_dir)
            return {}
        if name == "pandas-chunked":
            from python_jobs.batch.pandas import chunked as pandas_chunked

            return {"spilled_bytes": pandas_chunked.run(landing_dir, seeds_dir, days, out_dir, work)}
        if name == "modin":
            from python_jobs.batch.pandas import modin as modin_engine

            modin_engine.run(landing_dir, seeds_dir, days, out_dir, modin or ModinSettings())
            return {}
        if name.startswith("spark-"):
            return _spark(name, spark, landing_dir, seeds_dir, days, out_dir)
        raise ValueError(f"unknown engine {name!r}; one of {', '.join(ENGINES)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _spark(
    name: str, spark, landing_dir: Path, seeds_dir: Path, days: list[date], out_dir: Path
) -> dict[str, object]:
    from python_jobs.batch.spark import df as spark_df
    from python_jobs.batch.spark import rdd as spark_rdd
    from python_jobs.batch.spark import sql as spark_sql

    orders_files = landing_files(landing_dir, days, "orders")
    line_files = landing_files(landing_dir, days, "order_lines")
    products = spark_df.read_products(spark, str(seeds_dir / "products.csv"))
    plans = out_dir / "plans"
    plans.mkdir(exist_ok=True)
    if name == "spark-rdd":
        categories = {r.product_id: r.category_id for r in products.collect()}
        frames, facts = spark_rdd.compute(spark, orders_files, line_files, categories, days[-1])
        (plans / "spark-rdd.lineage.txt").write_text(facts.toDebugString().decode())
    else:
        orders = spark_df.read_csv(spark, orders_files, spark_df.ORDER_SCHEMA)
        lines = spark_df.read_csv(spark, line_files, spark_df.LINE_SCHEMA)
        if name == "spark-sql":
            frames = spark_sql.compute(spark, orders, lines, products, days[-1])
        else:
            # Three outputs = three Spark jobs over the same line facts: without the cache each job parses the
            # CSV and joins again (the RDD engine caches its facts RDD the same way).
            frames = spark_df.compute(spark_df.line_facts(orders, lines, products).cache(), days[-1])
        for table, frame in frames.items():
            for mode in ("formatted", "codegen"):
                (plans / f"{name}.{table}.{mode}.txt").write_text(explain_string(frame, mode))
    for table, frame in frames.items():
        spark_df.write_partitioned(frame, str(out_dir / table))
    return {}


def explain_string(frame, mode: str) -> str:
    """What `DataFrame.explain(mode)` prints, as a string (PySpark's explain only prints)."""
    jvm = frame.sparkSession.sparkContext._jvm
    return jvm.PythonSQLUtils.explainString(frame._jdf.queryExecution(), mode)


def print_result(result: dict[str, object]) -> None:
    # One JSON line on stdout: the lab parses it from the measured process's output.
    print("ENGINE_RESULT " + json.dumps(result, default=str))


Runner = Callable[..., dict[str, object]]
