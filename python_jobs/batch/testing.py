"""Helpers the batch tests share (small datasets, one SparkSession per process); not used by the jobs."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from python_jobs.batch.spark_config import SparkSettings
from python_jobs.config import Settings, load_settings
from python_jobs.generate.day import generate_day

DAYS = 3
SCALE = 0.3


def make_settings(root: Path, *, bad_share: float) -> Settings:
    data = root / "data"
    return load_settings({}).with_(
        data_dir=data, warehouse_path=data / "warehouse.duckdb", scale=SCALE, bad_share=bad_share
    )


def generate(settings: Settings, days: int = DAYS) -> Settings:
    for day in range(1, days + 1):
        generate_day(settings, day)
    return settings


def copy_landing(source: Settings, root: Path) -> Settings:
    target = make_settings(root, bad_share=source.bad_share)
    shutil.copytree(source.landing_dir, target.landing_dir)
    return target


def spark_settings(data_dir: Path, **changes: object) -> SparkSettings:
    base = SparkSettings(master="local[2]", shuffle_partitions=2, event_log_dir=None)
    return SparkSettings(**{**base.__dict__, **changes})


_SESSION = None


def session():
    """One local SparkSession for the whole pytest process (getOrCreate would return it anyway)."""
    global _SESSION
    if _SESSION is None:
        from python_jobs.batch.spark_session import build_session

        local = Path(tempfile.mkdtemp(prefix="batch-spark-local-"))
        _SESSION = build_session(spark_settings(local), "batch-tests", local_dir=local)
    return _SESSION
