"""Spark settings of the batch jobs, read once from the environment at the entry point (like config.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[*]"
    # Small on purpose: the pipeline's daily data is a few MB, and every shuffle partition is a task.
    shuffle_partitions: int = 4
    driver_memory: str = "2g"
    executor_memory: str = "1g"
    event_log_dir: Path | None = None
    # Fault injection for the recovery tests and docs: "<task|exit>:<output>:<YYYY-MM-DD>", e.g.
    # "task:product_daily:2026-01-07" fails a write task of that output on that run day,
    # "exit:product_daily:2026-01-07" ends the driver right after that output is committed.
    fail_at: str | None = None


def load_spark_settings(data_dir: Path, env: dict[str, str] | None = None) -> SparkSettings:
    env = dict(os.environ if env is None else env)
    return SparkSettings(
        master=env.get("GROCERY_SPARK_MASTER", "local[*]"),
        shuffle_partitions=int(env.get("GROCERY_SPARK_SHUFFLE_PARTITIONS", "4")),
        driver_memory=env.get("GROCERY_SPARK_DRIVER_MEMORY", "2g"),
        executor_memory=env.get("GROCERY_SPARK_EXECUTOR_MEMORY", "1g"),
        event_log_dir=Path(env.get("GROCERY_SPARK_EVENT_LOG_DIR", data_dir / "spark-events")).resolve(),
        fail_at=env.get("GROCERY_BATCH_FAIL_AT") or None,
    )
