"""DuckDB's report, the reference the tuned Spark job is measured against, is the same report."""

from __future__ import annotations

from python_jobs.tuning.duckdb_report import run_duckdb_report
from python_jobs.tuning.fixes import FIX_NAMES
from tests.tuning_support import inputs, run


def test_duckdb_report_equals_the_spark_job() -> None:
    duck = run_duckdb_report(inputs(), threads=2)
    assert duck.checksums == run(*FIX_NAMES).checksums
    assert duck.threads == 2
