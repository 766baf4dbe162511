"""The tuning lab's arithmetic and report (no Spark): each fix's share of the gain, each fix alone against the
slow job, the broadcast / pruning / caching tables, a SIZE too big for the machine refused, and the runs a
stopped lab did not reach marked as such."""

from __future__ import annotations

import signal

import pytest
import typer

from python_jobs.labs.tuning import (
    _row,
    dask_worker_memory,
    memory_needed,
    refuse_if_too_big,
    status_of,
    variants,
    write_report,
)
from python_jobs.labs.tuning_report import Planned, markdown, shares, time_table
from python_jobs.tuning.fixes import FIX_NAMES, cumulative, sized

META = {"size": "100MB", "fact_rows": 1000, "window": "a..b", "command": "make lab-tuning", "when": "now",
        "cpus": 2, "load_before": [1.0], "load_after": [1.0]}  # fmt: skip


def _metrics(**values: int) -> dict:
    base = dict.fromkeys(
        ("tasks", "files_bytes", "shuffle_write_bytes", "shuffle_read_bytes", "memory_spilled_bytes",
         "disk_spilled_bytes", "result_bytes", "files_read"), 0)  # fmt: skip
    return base | {"max_skew": 1.0} | values


def _run(
    kind: str, fixes: tuple[str, ...], wall: float, checksums: dict | None = None, **metrics: int
) -> dict:
    level = "-" if kind == "reference" else "MEMORY_AND_DISK"
    result = {"checksums": checksums or {"weekly_sales": "a"}, "metrics": _metrics(**metrics), "joins": {}}
    row = _row(Planned(kind, fixes, level), 0, wall, wall, 100.0, result)
    return row


def test_plan_order_and_names() -> None:
    planned = variants("all")
    assert [p.fixes for p in planned[: len(FIX_NAMES) + 1]] == cumulative()
    assert planned[0].label == "slow" and planned[len(FIX_NAMES)].label == "tuned"
    assert [p.fixes for p in planned if p.kind == "alone"] == [(n,) for n in FIX_NAMES]
    assert [p.level for p in planned if p.kind == "levels"] == ["MEMORY_ONLY", "DISK_ONLY"]
    assert planned[-2] == Planned("reference", (), "-") and planned[-2].label == "duckdb"
    assert planned[-1] == Planned("dask", (), "-") and planned[-1].label == "dask"
    assert [p.label for p in variants("ends")] == ["slow", "tuned", "duckdb"]
    with pytest.raises(typer.BadParameter, match="unknown plan part 'fast'"):
        variants("ends,fast")


def test_shuffle_partitions_are_sized_to_what_the_shuffle_moves_not_to_the_input() -> None:
    window_10gb = 717 * 10**6  # the 10 GB dataset's report window, Parquet
    before, after = sized(window_10gb, 2, broadcast=False), sized(window_10gb, 2, broadcast=True)
    # Before broadcast the joins shuffle ~14 GB of lines: ~64 MiB a partition is about Spark's own 200, not the
    # 11 that sizing from the input gave (and spilled 27 GB); after it the ~2.6 GB of aggregates need ~40.
    assert 200 <= before["tuned_partitions"] <= 230 and 35 <= after["tuned_partitions"] <= 45
    assert sized(1000, 2, broadcast=False) == {
        "tuned_partitions": 4,
        "skew_bytes": 1281,
    }  # at least 2 per core
    assert all(s["skew_bytes"] * 4 * s["tuned_partitions"] <= window_10gb * 21 for s in (before, after))


def test_shares_sum_to_the_whole_gain_and_alone_is_against_slow() -> None:
    walls = [100, 80, 70, 72, 50, 45, 40, 30, 25]  # one step slower than the one before: a negative share
    rows = [_run("cumulative", fixes, wall) for fixes, wall in zip(cumulative(), walls, strict=True)]
    rows += [_run("alone", (name,), 90 - i) for i, name in enumerate(FIX_NAMES)]
    rows[-1]["checksums"] = {"weekly_sales": "other"}
    rows.append(_run("reference", (), 12.5))
    rows.append(_run("dask", (), 30.0) | {"dask_md": "| variant | tasks |\n|---|---|\n| naive | 900 |"})
    summary = shares(rows)
    steps = rows[1 : len(walls)]
    assert abs(sum(r["share"] for r in steps) - 1) < 1e-2 and summary[
        "cumulative_share_sum"
    ] == pytest.approx(1, abs=0.01)
    assert rows[3]["saved_s"] == -2 and rows[3]["share"] < 0
    assert abs(sum(r["cpu_share"] for r in steps) - 1) < 1e-2 and summary["x_tuned_cpu"] == 4.0
    assert summary["x_tuned"] == 4.0 and summary["tuned_over_duckdb"] == 2.0 and summary["duckdb_equal"]
    alone = [r for r in rows if r["kind"] == "alone"]
    assert alone[0]["x_slow"] == pytest.approx(100 / 90, abs=0.01) and alone[0]["share_alone"] == round(
        10 / 75, 3
    )
    assert summary["alone_share_sum"] == pytest.approx(
        sum(10 + i for i in range(len(FIX_NAMES))) / 75, abs=1e-3
    )
    assert alone[0]["equal"] is True and alone[-1]["equal"] is False and rows[-1]["equal"] is True
    text = markdown(META, rows, variants("all"))
    assert "## Dask: the same report" in text and "| naive | 900 |" in text


def test_report_tables_isolate_broadcast_pruning_and_cache() -> None:
    rows = [_run("cumulative", fixes, 100 - 10 * i, files_read=10 - i, files_bytes=(10 - i) * 2**20)
            for i, fixes in enumerate(cumulative())]  # fmt: skip
    rows[0]["joins"] = {"SortMergeJoin": 9}
    rows.append(_run("alone", ("broadcast",), 60.0, shuffle_write_bytes=5 * 2**20))
    rows[-1]["joins"] = {"BroadcastHashJoin": 9}
    rows.append(_run("levels", FIX_NAMES, 21.0))
    rows[-1]["level"] = "DISK_ONLY"
    text = markdown(META, rows, variants("cumulative,alone,levels"))
    assert "| slow | 0 broadcast hash, 9 sort-merge | 100.0 |" in text
    assert "| broadcast alone | 9 broadcast hash, 0 sort-merge | 60.0 |" in text
    assert "| the fixes before broadcast |" in text and "| + broadcast on top of them |" in text
    assert "| the fixes before pruning | 9 | 9.0 | 90.0 |" in text
    assert "| + pruning on top of them | 8 | 8.0 | 80.0 |" in text
    caching = text.split("## Caching")[1]
    assert "| the fixes before cache: none | - | 40.0 |" in caching
    assert "| + cache on top of them | MEMORY_AND_DISK | 30.0 |" in caching
    assert "| tuned | MEMORY_AND_DISK | 20.0 |" in caching and "| tuned | DISK_ONLY | 21.0 |" in caching


def test_a_stopped_lab_marks_what_it_did_not_run_and_the_run_it_cut() -> None:
    planned = variants("cumulative,alone")
    rows = [_run("cumulative", (), 100.0), _run("cumulative", ("parquet",), 60.0)]
    rows.append(_row(planned[2], -signal.SIGINT, 12.0, 0.0, 0.0, {}))
    text = markdown(META, rows, planned)
    assert text.count("| not run |") == len(planned) - 3
    assert "| cumulative | parquet | MEMORY_AND_DISK | ok | 60.0 | 1.67 |" in text
    assert "| cumulative | parquet+pruning | MEMORY_AND_DISK | interrupted (lab stopped" in text
    assert status_of(-9) == "killed (SIGKILL)" and status_of(1) == "failed (1)"
    assert _row(planned[3], 0, 1.0, 1.0, 1.0, {})["status"] == "failed (no result.json)"


def test_a_size_the_machine_cannot_hold_is_refused_before_starting() -> None:
    need, why = memory_needed(10 * 10**9, variants("ends"))
    assert need > 24 * 2**30 and "toPandas" in why and "slow" in why
    with pytest.raises(
        typer.BadParameter, match=r"SIZE=10GB needs about \d+\.\d GiB .*this machine has 24\.0 GiB"
    ):
        refuse_if_too_big("10GB", variants("ends"), total_bytes=24 * 2**30)
    refuse_if_too_big("1GB", variants("ends"), total_bytes=24 * 2**30)
    refuse_if_too_big("10GB", variants("tuned,duckdb"), total_bytes=24 * 2**30)
    refuse_if_too_big("10GB", variants("bound,tuned,duckdb"), total_bytes=24 * 2**30)
    # Without the collect anti-pattern only the driver heap is needed.
    assert memory_needed(10 * 10**9, [Planned("ends", FIX_NAMES, "MEMORY_AND_DISK")])[0] < 16 * 2**30
    # The Dask workers hold the enriched lines at 1GB; at 10GB they could not, so they run out of core, capped.
    machine = 24 * 2**30
    assert dask_worker_memory(10**9, machine) is None
    assert dask_worker_memory(10 * 10**9, machine) == int(0.75 * machine / 2)
    need, why = memory_needed(10 * 10**9, variants("dask"), total_bytes=machine)
    assert need <= machine and "capped, out of core" in why
    refuse_if_too_big("1GB", variants("dask"), total_bytes=machine)
    refuse_if_too_big("10GB", variants("tuned,dask"), total_bytes=machine)
    assert memory_needed(10 * 10**9, variants("duckdb"))[0] == 2**30


def test_the_report_is_written_whole_and_the_chart_only_with_cumulative_steps(tmp_path) -> None:
    stem = tmp_path / "tuning" / "lab-5MB-ends"
    planned = variants("ends")
    rows = [_run("ends", (), 10.0), _run("ends", FIX_NAMES, 5.0)]
    write_report(stem, dict(META), rows, planned)
    assert "| reference | duckdb | - | not run |" in stem.with_suffix(".md").read_text()
    assert not stem.with_suffix(".png").exists() and not list(stem.parent.glob(".tmp-*"))
    write_report(
        stem, dict(META), [_run("cumulative", (), 10.0), _run("cumulative", ("parquet",), 8.0)], planned
    )
    assert stem.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_the_tuned_runs_time_is_split_between_start_outputs_and_driver() -> None:
    tuned = _run("ends", FIX_NAMES, 40.0)
    tuned["job_seconds"] = 30.0
    stage = {"tasks": 2, "shuffle_write_bytes": 2**20, "shuffle_read_bytes": 0, "spilled_bytes": 0}
    tuned["stages"] = [
        stage | {"stage_id": 0, "description": "weekly_sales", "seconds": 12.0},
        stage | {"stage_id": 1, "description": "weekly_sales", "seconds": 4.0},
        stage | {"stage_id": 2, "description": "store_weekly", "seconds": 9.0},
    ]
    lines = time_table([tuned, _run("reference", (), 5.0)])
    assert "| process start and stop (Python, JVM, SparkSession) | | | 10.0 | | |" in lines
    assert "| weekly_sales | 2 | 4 | 16.0 | 2.0 | 12.0 |" in lines
    assert "| store_weekly | 1 | 2 | 9.0 | 1.0 | 9.0 |" in lines
    assert "| driver outside stages (planning, collect, pandas) | | | 5.0 | | |" in lines
    assert "| DuckDB, the whole run (same report) | | | 5.0 | | |" in lines
    assert time_table([_run("ends", (), 40.0)]) == []  # no tuned run, no table


def test_where_the_slow_job_cannot_run_the_slow_job_without_its_collect_bounds_the_speed_up() -> None:
    assert [(p.kind, p.label) for p in variants("bound,tuned")] == [
        ("bound", "no-collect"),
        ("tuned", "tuned"),
    ]
    rows = [_run("bound", ("no-collect",), 90.0), _run("tuned", FIX_NAMES, 30.0)]
    summary = shares(rows)
    assert summary["x_tuned_at_least"] == 3.0 and "x_tuned" not in summary
    assert all(r["equal"] for r in rows)  # compared with the tuned run's checksums when there is no slow run
    assert "Tuned at least 3.0x faster than slow" in markdown(META, rows, variants("bound,tuned"))
    with_slow = [_run("ends", (), 120.0), *rows]
    assert "x_tuned_at_least" not in shares(with_slow) and shares(with_slow)["x_tuned"] == 4.0


def test_where_the_slow_job_cannot_run_the_chain_starts_from_the_bound() -> None:
    planned = variants("bound-cumulative")
    assert [p.label for p in planned[:2]] == ["no-collect", "no-collect+parquet"] and planned[
        -1
    ].label == "tuned"
    assert len(planned) == len(FIX_NAMES) and all(p.fixes[0] == "no-collect" for p in planned)
    refuse_if_too_big("10GB", planned, total_bytes=24 * 2**30)  # no run collects: it fits
    walls = [90, 80, 60, 62, 45, 40, 35, 30]
    rows = [_run(p.kind, p.fixes, wall) for p, wall in zip(planned, walls, strict=True)]
    summary = shares(rows)
    # Shares of the bound's gain over tuned (60 s), adding up to it; the speed-up is a lower bound.
    assert rows[1]["share"] == round(10 / 60, 3) and rows[3]["share"] < 0
    assert summary["cumulative_share_sum"] == pytest.approx(1, abs=0.01)
    assert summary["x_tuned_at_least"] == 3.0 and "x_tuned" not in summary and summary["gain_s"] is None
    assert "Tuned at least 3.0x faster than slow" in markdown(META, rows, planned)
    with pytest.raises(typer.BadParameter, match="two chains from different starts"):
        variants("cumulative,bound-cumulative")
