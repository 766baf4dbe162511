"""DuckDB's report, the reference the tuned Spark job is measured against, is the same report."""

from __future__ import annotations

from python_jobs.tuning.duckdb_report import run_duckdb_report
from python_jobs.tuning.fixes import FIX_NAMES
from python_jobs.tuning.probe import PROBES, probe_variant, run_probes
from tests.batch_support import session
from tests.tuning_support import SIZES, inputs, run


def test_duckdb_report_equals_the_spark_job() -> None:
    duck = run_duckdb_report(inputs(), threads=2)
    assert duck.checksums == run(*FIX_NAMES).checksums
    assert duck.threads == 2


def test_each_step_of_the_report_gives_the_same_result_in_spark_and_duckdb() -> None:
    rows = run_probes(session(), inputs(), probe_variant(**SIZES), repeat=1, warm_up=False, threads=2)
    assert [r.name for r in rows] == [p.name for p in PROBES]
    assert all(r.equal for r in rows), [(r.name, r.rows) for r in rows if not r.equal]
    by_name = {r.name: r for r in rows}
    # The distinct count's grouping has many more groups than the output keys' grouping.
    assert by_name["scan"].rows == by_name["scan + 3 joins"].rows
    assert by_name["group by order x category"].rows > 4 * by_name["group by the output keys"].rows
    assert by_name["group by the output keys"].rows == by_name["weekly_sales"].rows
    assert all(r.spark_s > 0 and r.duckdb_s > 0 for r in rows)
