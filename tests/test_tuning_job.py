"""The tuning module's report job: slow and tuned give the same report, and each fix alone is real in Spark's own
physical plan (and changes nothing in the results)."""

from __future__ import annotations

import re

import pytest

from python_jobs.tuning.fixes import FIX_NAMES, JobVariant, get_fix
from tests.tuning_support import SIZES, inputs, plans, run


def test_slow_and_tuned_write_identical_results() -> None:
    slow, tuned = run(), run(*FIX_NAMES)
    assert slow.variant == "slow" and tuned.variant == "tuned"
    assert slow.checksums == tuned.checksums
    weekly, stores, mix = (tuned.outputs[n] for n in ("weekly_sales", "store_weekly", "segment_mix"))
    assert len(weekly) > 100 and len(stores) > 12 and len(mix) > 10
    # The window's two weeks, and the three outputs account for the same revenue.
    window = inputs()
    assert sorted(weekly["week_start"].unique()) == sorted(stores["week_start"].unique())
    assert len(weekly["week_start"].unique()) == 2
    assert min(weekly["week_start"]) == window.window_start.isoformat()
    assert weekly["revenue_cents"].sum() == stores["revenue_cents"].sum() == mix["revenue_cents"].sum() > 0
    assert abs(mix["revenue_share"].sum() - 1) < 1e-9


def _exchange_partitions(plan: str) -> set[int]:
    return {int(n) for n in re.findall(r"Exchange hashpartitioning\(.*?, (\d+)\)", plan)}


def _fact_scan(plan: str) -> str:
    (line,) = [line for line in plan.splitlines() if "FileScan" in line and "/fact/" in line]
    return line


# What each fix alone changes in the physical plans of the three outputs (slow: all fixes off).
def _parquet(slow: dict[str, str], fixed: dict[str, str]) -> None:
    assert "Format: CSV" in _fact_scan(slow["weekly_sales"])
    assert "Format: Parquet" in _fact_scan(fixed["weekly_sales"])


def _pruning(slow: dict[str, str], fixed: dict[str, str]) -> None:
    assert "PartitionFilters: []" in _fact_scan(slow["weekly_sales"])
    assert re.search(r"PartitionFilters: \[[^\]]*order_date", _fact_scan(fixed["weekly_sales"]))


def _builtin(slow: dict[str, str], fixed: dict[str, str]) -> None:
    assert all(re.search(r"(Arrow|Batch)EvalPython", plan) for plan in slow.values())
    assert not any(re.search(r"EvalPython|PythonUDF", plan) for plan in fixed.values())


def _partitions(slow: dict[str, str], fixed: dict[str, str]) -> None:
    assert _exchange_partitions(slow["weekly_sales"]) == {SIZES["slow_partitions"]}
    assert _exchange_partitions(fixed["weekly_sales"]) == {SIZES["tuned_partitions"]}


def _skew(slow: dict[str, str], fixed: dict[str, str]) -> None:
    assert "AdaptiveSparkPlan" not in slow["weekly_sales"]
    assert "isFinalPlan=true" in fixed["weekly_sales"]
    assert "SortMergeJoin(skew=true)" in fixed["weekly_sales"]


def _broadcast(slow: dict[str, str], fixed: dict[str, str]) -> None:
    assert slow["weekly_sales"].count("SortMergeJoin") == 3
    assert "SortMergeJoin" not in fixed["weekly_sales"]
    assert fixed["weekly_sales"].count("BroadcastHashJoin") == 3


def _cache(slow: dict[str, str], fixed: dict[str, str]) -> None:
    assert not any("InMemoryTableScan" in plan for plan in slow.values())
    assert all("InMemoryTableScan" in plan for plan in fixed.values())


def _no_collect(slow: dict[str, str], fixed: dict[str, str]) -> None:
    # Slow: the segment mix's action is the enriched lines themselves; fixed: an aggregate in Spark.
    assert not slow["segment_mix"].lstrip("*( 0123456789)").startswith("HashAggregate")
    assert "HashAggregate" in fixed["segment_mix"].splitlines()[0]


PLAN_CHECKS = {
    "parquet": _parquet,
    "pruning": _pruning,
    "builtin": _builtin,
    "partitions": _partitions,
    "skew": _skew,
    "broadcast": _broadcast,
    "cache": _cache,
    "no-collect": _no_collect,
}


def test_every_fix_has_a_plan_check() -> None:
    assert tuple(PLAN_CHECKS) == FIX_NAMES


# Shows only once the job ran: AQE splits skewed partitions at run time, from the shuffle's real sizes.
AT_RUN_TIME = {"skew"}


@pytest.mark.parametrize("fix", FIX_NAMES)
def test_each_fix_alone_is_real_in_the_physical_plan(fix: str) -> None:
    if fix in AT_RUN_TIME:
        slow, alone = run(), run(fix)
        assert alone.variant == fix and alone.checksums == slow.checksums
        PLAN_CHECKS[fix](slow.plans, alone.plans)
    else:
        PLAN_CHECKS[fix](plans(), plans(fix))


def test_the_slow_job_sends_every_enriched_line_to_the_driver() -> None:
    slow, tuned = run(), run(*FIX_NAMES)
    fixed_rows = tuned.driver_rows["segment_mix"]
    assert fixed_rows == len(tuned.outputs["segment_mix"])
    assert (
        slow.driver_rows["segment_mix"] == slow.outputs["segment_mix"]["line_count"].sum() > 50 * fixed_rows
    )


def test_unknown_fix_names_the_fixes() -> None:
    with pytest.raises(
        ValueError, match=r"unknown fix 'brodcast'; the fixes are: parquet, pruning, .*no-collect"
    ):
        JobVariant(fixes=frozenset({"brodcast"}))
    with pytest.raises(ValueError, match="unknown fix"):
        get_fix("")


def test_cli_rejects_an_unknown_fix_with_the_list(tmp_path) -> None:
    from tests.conftest import run_module

    proc = run_module(
        "python_jobs.tuning",
        *("run", "--dataset", str(tmp_path), "--out", str(tmp_path / "out"), "--fix", "brodcast"),
        env={"COLUMNS": "250"},
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown fix 'brodcast'; the fixes are: parquet, pruning, builtin" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["run", "duckdb", "probe", "dynamic"])
def test_a_dataset_not_prepared_is_refused_with_what_is_missing(tmp_path, command) -> None:
    from typer.testing import CliRunner

    from python_jobs.tuning.cli import app

    args = [command, "--dataset", str(tmp_path)] + (
        [] if command == "probe" else ["--out", str(tmp_path / "o")]
    )
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "inputs.json" in result.output and not (tmp_path / "o").exists()
