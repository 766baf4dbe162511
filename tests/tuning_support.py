"""The tuning tests' shared data: a few weeks of landing days at a tiny scale, prepared once per pytest process
(test support, not product code). Spark costs seconds per job even on kilobytes: the cost is the runs, not the
rows, so every variant of the job that a test needs is run once and kept, and a fix that shows in the plan Spark
makes before running (all but `skew`, whose split happens at run time) is checked on that plan alone."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from python_jobs.config import load_settings
from python_jobs.generate.day import generate_day
from python_jobs.tuning.fixes import JobVariant
from python_jobs.tuning.inputs import Inputs, prepare
from python_jobs.tuning.report_job import RunResult, plan_report, run_report
from tests.batch_support import session

# Three weeks: the report window (the last two) and one week before it that pruning skips.
DAYS = 21
SCALE = 0.05
# Sizes for kilobytes of data: 32 shuffle partitions stand in for Spark's 200 (same anti-pattern, a tenth of the
# tasks); with 12 store keys most of them are empty, which is what makes the store join skewed.
SIZES = {"slow_partitions": 32, "tuned_partitions": 2, "skew_bytes": 1024}

_STATE: dict[str, object] = {}


def dataset() -> Path:
    """The generated data folder (landing/, truth/, tuning/), read-only for tests."""
    if "dataset" not in _STATE:
        root = Path(tempfile.mkdtemp(prefix="tuning-tests-"))
        atexit.register(shutil.rmtree, root, True)
        settings = load_settings({}).with_(
            data_dir=root / "data",
            warehouse_path=root / "data" / "warehouse.duckdb",
            scale=SCALE,
            bad_share=0,
        )
        for day in range(1, DAYS + 1):
            generate_day(settings, day)
        prepare(session(), settings.data_dir, settings.seeds_dir)
        _STATE["dataset"] = settings.data_dir
    return _STATE["dataset"]  # type: ignore[return-value]


def inputs() -> Inputs:
    return Inputs.load(dataset(), load_settings({}).seeds_dir)


def run(*fixes: str) -> RunResult:
    """The report job with these fixes on, in this process's SparkSession, run once per set of fixes."""
    key = "run:" + ",".join(sorted(fixes))
    if key not in _STATE:
        _STATE[key] = run_report(session(), inputs(), JobVariant(fixes=frozenset(fixes), **SIZES))
    return _STATE[key]  # type: ignore[return-value]


def plans(*fixes: str) -> dict[str, str]:
    """The physical plans of the outputs with these fixes on, without running them (Spark plans them only)."""
    key = "plans:" + ",".join(sorted(fixes))
    if key not in _STATE:
        _STATE[key] = plan_report(session(), inputs(), JobVariant(fixes=frozenset(fixes), **SIZES))
    return _STATE[key]  # type: ignore[return-value]
