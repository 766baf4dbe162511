"""Lineage that grows with every iteration, and `checkpoint()` cutting it.

An iterative job (here: a running per-customer state folded over the landing days, one join + update per
day) builds a plan that repeats the whole history in every iteration: after n days the plan holds n scans and n
joins, planning gets slower and a lost partition would be recomputed from the very first day. `checkpoint()`
writes the current state to the checkpoint directory (reliable storage) and returns a DataFrame whose plan
starts from those files: the lineage is truncated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from python_jobs.batch.spark.df import explain_string


@dataclass(frozen=True)
class IterationPlans:
    before: str  # the state's plan just before the checkpoint
    after: str  # the same state's plan right after it
    final: DataFrame


def running_customer_state(
    spark: SparkSession, staged_orders: Path, checkpoint_dir: Path, *, checkpoint_every: int = 0
) -> IterationPlans:
    """Fold the staged order versions day by day into (customer_id, versions, last_seen); checkpoint every k days
    (0 = never). Returns the plan before/after the last checkpoint (or the final plan twice)."""
    spark.sparkContext.setCheckpointDir(str(checkpoint_dir))
    orders = spark.read.parquet(str(staged_orders))
    days = sorted(r.day for r in orders.select(F.col("day").cast("string").alias("day")).distinct().collect())
    state = spark.createDataFrame([], "customer_id BIGINT, versions BIGINT, last_seen DATE")
    before = after = ""
    for i, day in enumerate(days, start=1):
        today = (
            orders.where(F.col("day") == day)
            .groupBy("customer_id")
            .agg(F.count(F.lit(1)).alias("n"), F.max("load_date").alias("seen"))
        )
        state = state.join(today, "customer_id", "full_outer").select(
            "customer_id",
            (F.coalesce("versions", F.lit(0)) + F.coalesce("n", F.lit(0))).alias("versions"),
            F.greatest("last_seen", "seen").alias("last_seen"),
        )
        if checkpoint_every and i % checkpoint_every == 0:
            before = explain_string(state, "extended")
            state = state.checkpoint(eager=True)
            after = explain_string(state, "extended")
    if not before:
        before = after = explain_string(state, "extended")
    return IterationPlans(before, after, state)
