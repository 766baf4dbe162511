"""The computation in Polars: one lazy query per output over the CSVs, run by the streaming engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from python_jobs.batch.atomic import atomic_path
from python_jobs.batch.semantics import OUTPUTS, landing_files

if TYPE_CHECKING:
    from python_jobs.batch.engines import EngineJob

_TS = "%Y-%m-%d %H:%M:%S"


def _orders(landing_dir: Path, days: list[date]) -> pl.LazyFrame:
    parts = [
        pl.scan_csv(
            f.path,
            schema_overrides={"order_id": pl.Int64, "customer_id": pl.Int64, "store_id": pl.Int64},
        ).select(
            "order_id",
            "customer_id",
            "store_id",
            pl.col("order_ts").str.to_datetime(_TS).dt.date().alias("order_date"),
            (pl.col("status") == "cancelled").alias("cancelled"),
            pl.col("updated_at").str.to_datetime(_TS),
            pl.lit(f.day).alias("load_date"),
        )
        for f in landing_files(landing_dir, days, "orders")
    ]
    return pl.concat(parts)


def _lines(landing_dir: Path, days: list[date]) -> pl.LazyFrame:
    files = [f.path for f in landing_files(landing_dir, days, "order_lines")]
    return pl.scan_csv(
        files,
        schema_overrides={
            "order_id": pl.Int64,
            "line_number": pl.Int64,
            "product_id": pl.Int64,
            "quantity": pl.Int64,
            "unit_price": pl.Float64,
        },
    ).select(
        "order_id",
        "product_id",
        "quantity",
        # Two-decimal prices: rounding price x 100 gives the exact cents.
        ((pl.col("unit_price") * 100).round(0).cast(pl.Int64) * pl.col("quantity")).alias("cents"),
    )


def line_facts(landing_dir: Path, seeds_dir: Path, days: list[date]) -> pl.LazyFrame:
    latest = (
        _orders(landing_dir, days)
        .sort(["order_id", "updated_at", "load_date"])
        .group_by("order_id")
        .agg(pl.all().last())
        .filter(~pl.col("cancelled"))
        .select("order_id", "customer_id", "store_id", "order_date")
    )
    products = pl.scan_csv(seeds_dir / "products.csv").select(
        pl.col("product_id").cast(pl.Int64), pl.col("category_id").cast(pl.Int64)
    )
    return _lines(landing_dir, days).join(latest, on="order_id").join(products, on="product_id")


def run(landing_dir: Path, seeds_dir: Path, days: list[date], out_dir: Path, temp_dir: Path) -> None:
    temp_dir.mkdir(parents=True, exist_ok=True)
    # The joined lines are read by three aggregates: materialise them once (as Parquet, out of memory).
    facts_path = temp_dir / "line_facts.parquet"
    line_facts(landing_dir, seeds_dir, days).sink_parquet(facts_path, engine="streaming")
    facts = pl.scan_parquet(facts_path)
    as_of = days[-1]
    baskets = facts.group_by("order_id").agg(
        pl.col("customer_id").first(),
        pl.col("store_id").first(),
        pl.col("order_date").first(),
        pl.len().alias("lines"),
        pl.col("quantity").sum().alias("items"),
        pl.col("cents").sum(),
    )
    queries = {
        "product_daily": facts.group_by("order_date", "store_id", "product_id", "category_id")
        .agg(
            pl.col("order_id").n_unique().alias("order_count"),
            pl.len().alias("line_count"),
            pl.col("quantity").sum().alias("item_count"),
            pl.col("cents").sum().alias("revenue_cents"),
        )
        .with_columns((pl.col("item_count") / pl.col("line_count")).alias("avg_quantity")),
        "store_daily": baskets.group_by("order_date", "store_id")
        .agg(
            pl.len().alias("order_count"),
            pl.col("customer_id").n_unique().alias("customer_count"),
            pl.col("lines").sum().alias("line_count"),
            pl.col("items").sum().alias("item_count"),
            pl.col("cents").sum().alias("revenue_cents"),
        )
        .with_columns(
            (pl.col("item_count") / pl.col("order_count")).alias("avg_basket_items"),
            (pl.col("revenue_cents") / pl.col("order_count")).alias("avg_basket_cents"),
        ),
        "customer_rfm": baskets.group_by("customer_id")
        .agg(
            pl.col("order_date").max().alias("last_order_date"),
            pl.len().alias("frequency"),
            pl.col("cents").sum().alias("monetary_cents"),
        )
        .with_columns(
            pl.lit(as_of).alias("as_of"),
            (pl.lit(as_of) - pl.col("last_order_date")).dt.total_days().alias("recency_days"),
            (pl.col("monetary_cents") / pl.col("frequency")).alias("avg_order_cents"),
        ),
    }
    try:
        for table, query in queries.items():
            with atomic_path(out_dir / f"{table}.parquet") as temp:
                query.select(OUTPUTS[table]).sink_parquet(temp, engine="streaming")
    finally:
        facts_path.unlink(missing_ok=True)


def run_job(job: EngineJob) -> dict[str, object]:
    """The registry's entry (engines.py)."""
    run(job.landing_dir, job.seeds_dir, job.days, job.out_dir, job.work)
    return {}
