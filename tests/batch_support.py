"""Helpers the batch tests share (small datasets, one SparkSession per process); test support, not product code.

Spark costs seconds per job even on kilobytes, so the expensive things are built once per pytest process and
shared by the three batch test modules: the generated landing days (one folder per bad-line share) and one
uninterrupted run of the daily Spark job over the dirty data, the reference every recovery scenario must
reproduce. Shared folders are read-only for tests: a test that changes data works on a copy.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from python_jobs.config import Settings, SparkSettings, load_settings
from python_jobs.generate.day import generate_day

# Two landing days are the fewest that still show every property: a completed day that a resumed run skips,
# a day in progress when the driver is killed, and an untouched partition next to a re-run one.
DAYS = 2
SCALE = 0.3
# The dirty data of every Spark job test: enough bad lines for every kind of defect the generator makes.
BAD_SHARE = 0.02


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
    # copytree keeps modification times, so the job's input fingerprints of the copy match the source's.
    target = make_settings(root, bad_share=source.bad_share)
    shutil.copytree(source.landing_dir, target.landing_dir)
    return target


def copy_data(source: Settings, root: Path) -> Settings:
    """The whole data folder (landing and the job's outputs, markers included), for a test that rewrites it."""
    target = make_settings(root, bad_share=source.bad_share)
    shutil.copytree(source.data_dir, target.data_dir)
    return target


def spark_settings(data_dir: Path, **changes: object) -> SparkSettings:
    base = SparkSettings(master="local[2]", shuffle_partitions=2, event_log_dir=None)
    return SparkSettings(**{**base.__dict__, **changes})


_SESSION = None
_SHARED: dict[str, Settings] = {}
_SHARED_ROOT: list[Path] = []


def _shared_folder(name: str) -> Path:
    if not _SHARED_ROOT:
        _SHARED_ROOT.append(Path(tempfile.mkdtemp(prefix="batch-tests-")))
        atexit.register(shutil.rmtree, _SHARED_ROOT[0], True)
    return _SHARED_ROOT[0] / name


def session():
    """One local SparkSession for the whole pytest process (getOrCreate would return it anyway)."""
    global _SESSION
    if _SESSION is None:
        from python_jobs.batch.spark.session import build_session

        local = _shared_folder("spark-local")
        local.mkdir(parents=True, exist_ok=True)
        _SESSION = build_session(spark_settings(local), "batch-tests", local_dir=local)
    return _SESSION


def landing(bad_share: float) -> Settings:
    """DAYS generated landing days (with truth/) and this share of bad lines (same seed for every share), once per
    process."""
    key = f"landing-{bad_share:g}"
    if key not in _SHARED:
        _SHARED[key] = generate(make_settings(_shared_folder(key), bad_share=bad_share))
    return _SHARED[key]


def reference_run() -> Settings:
    """The daily Spark job run once, uninterrupted, over every day of the dirty landing data."""
    if "reference" not in _SHARED:
        from python_jobs.batch.semantics import landing_days
        from python_jobs.batch.spark.job import run_day

        # In the generated folder itself (truth/ included, which the quarantine test reconciles against):
        # nothing else reads the dirty landing data but through this run.
        settings = landing(BAD_SHARE)
        for day in landing_days(settings.landing_dir):
            run_day(session(), settings, spark_settings(settings.data_dir), day, log=lambda _: None)
        _SHARED["reference"] = settings
    return _SHARED["reference"]
