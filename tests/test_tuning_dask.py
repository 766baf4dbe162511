"""The tuning module's Dask part: the naive and simplified Dask reports give the Spark job's checksums, the
simplified graph is smaller, its picture is drawn, an adaptive cluster really grows and shrinks, and workers
with a memory limit below the data spill to disk and still give the same report."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from python_jobs.compute.dask.cluster import dask_client
from python_jobs.tuning import dask_job, dask_lab, dask_scaling
from python_jobs.tuning.dask_job import DaskRun, draw_graph, run_variant
from python_jobs.tuning.dask_lab import markdown
from python_jobs.tuning.dask_scaling import lab_client, local_settings, run_memory, run_scaling
from python_jobs.tuning.fixes import FIX_NAMES
from tests.tuning_support import inputs, run

# Eight partitions stand in for the naive job's 64: the same anti-patterns on kilobytes, an eighth of the partitions.
NAIVE_PARTITIONS = 8


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, DaskRun]]:
    with dask_client(local_settings(2)):
        yield {
            variant: run_variant(inputs(), variant, naive_partitions=NAIVE_PARTITIONS)
            for variant in dask_job.VARIANTS
        }


def test_naive_and_simplified_give_the_spark_jobs_report(runs: dict[str, DaskRun]) -> None:
    spark = run(*FIX_NAMES).checksums
    assert runs["naive"].checksums == runs["simplified"].checksums == spark
    weekly = runs["simplified"].outputs["weekly_sales"]
    assert len(weekly) > 100 and weekly["revenue_cents"].sum() > 0


def test_simplified_graph_has_at_least_half_the_tasks(runs: dict[str, DaskRun]) -> None:
    naive, simplified = runs["naive"], runs["simplified"]
    assert naive.graph_tasks >= 2 * simplified.graph_tasks
    # What the workers ran agrees: the count is of the graphs as executed, not of an unoptimised drawing.
    assert naive.tasks_run is not None and simplified.tasks_run is not None
    assert naive.tasks_run >= 2 * simplified.tasks_run
    assert naive.fact_partitions == NAIVE_PARTITIONS > simplified.fact_partitions
    # Naive: the raw fact persisted, then one compute per output; simplified: the lines persisted, one compute.
    assert naive.calls[0]["call"] == "persist fact" and len(naive.calls) == 4
    assert [c["call"] for c in simplified.calls] == ["persist enriched", "compute all outputs"]


def test_distinct_counts_spread_past_one_partition_keep_the_report(
    runs: dict[str, DaskRun], monkeypatch
) -> None:
    # One output partition per 64 MiB of the window: one on kilobytes, 11 on the 10 GB dataset's 717 MB window.
    assert dask_job.distinct_split_out(inputs()) == 1
    assert dask_job.distinct_split_out(dataclasses.replace(inputs(), window_parquet_bytes=717_285_724)) == 11
    monkeypatch.setattr(dask_job, "distinct_split_out", lambda _inputs: 3)
    with dask_client(local_settings(2)):
        spread = run_variant(inputs(), "simplified")
    assert spread.checksums == runs["simplified"].checksums
    assert spread.graph_tasks > runs["simplified"].graph_tasks  # the deduplicated pairs were shuffled


def test_graph_pictures_are_drawn(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    for variant in dask_job.VARIANTS:
        record = draw_graph(inputs(), variant, tmp_path / f"{variant}.png", naive_partitions=NAIVE_PARTITIONS)
        assert record["path"] == str(tmp_path / f"{variant}.png")
        assert (tmp_path / f"{variant}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert record["kind"] == "tasks"  # the simplified graph is small enough to draw task by task


def test_graph_picture_without_dot_is_skipped_with_a_note(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(dask_job.shutil, "which", lambda name: None)
    record = draw_graph(inputs(), "simplified", tmp_path / "g.png")
    assert record["path"] is None and "dot" in str(record["note"]) and not (tmp_path / "g.png").exists()


def test_adaptive_cluster_adds_and_removes_workers(tmp_path: Path, runs: dict[str, DaskRun]) -> None:
    (row,) = run_scaling(inputs(), tmp_path, modes=("adaptive",))
    assert row["added"] >= 1 and row["removed"] >= 1, row["timeline"]
    assert row["timeline"][0][1] == 0 and row["timeline"][-1][1] == 0 and row["settled"]
    assert row["checksums"] == runs["simplified"].checksums
    assert (tmp_path / "dask-report-adaptive.html").stat().st_size > 0


def test_limited_worker_memory_spills_and_keeps_the_report(tmp_path: Path, runs: dict[str, DaskRun]) -> None:
    unlimited, limited = run_memory(inputs(), tmp_path)
    assert unlimited["spilled_bytes"] == 0 and limited["spilled_bytes"] > 0
    assert unlimited["checksums"] == limited["checksums"] == runs["simplified"].checksums
    assert unlimited["persisted_mib"] > 0 and limited["peak_worker_rss_mib"] > 0
    assert (tmp_path / "dask-report-memory-limited.html").stat().st_size > 0
    table = markdown(
        {
            "graph": [{**r.row(), "picture": {"note": "-"}, "same_checksums": True} for r in runs.values()],
            "scaling": [],
            "memory": [{**unlimited, "same_checksums": True}, {**limited, "same_checksums": True}],
            "meta": {"dataset": "d", "fact_rows": 1, "window": "w", "workers": 2, "date": "t",
                     "load_average_1m": 0, "cpus": 2, "checked_against": "spark"},
        }
    )  # fmt: skip
    assert "| limited |" in table and "fewer tasks" in table


def test_out_of_core_workers_are_capped_and_keep_the_report(tmp_path: Path, runs: dict[str, DaskRun]) -> None:
    capped, limited = run_memory(inputs(), tmp_path, worker_memory=2**30)
    # The limit the workers hold: Dask's default ("auto") would have split the machine's memory between them.
    assert capped["mode"] == "capped" and capped["memory_limit"] == "1024.00 MiB"
    assert capped["spilled_bytes"] == 0 and limited["spilled_bytes"] > 0  # kilobytes stay under the cap
    assert capped["checksums"] == limited["checksums"] == runs["simplified"].checksums
    meta = {"dataset": "d", "fact_rows": 1, "window": "w", "workers": 2, "date": "t", "load_average_1m": 0,
            "cpus": 2, "checked_against": "spark", "worker_memory": 9 * 2**30}  # fmt: skip
    graph = [{**r.row(), "picture": {"note": "-"}, "same_checksums": True} for r in runs.values()]
    memory = [{**capped, "same_checksums": True}]
    table = markdown({"graph": graph, "scaling": [], "memory": memory, "meta": meta})
    assert "out of core: every worker capped at 9.0 GiB" in table and "| capped | 1024.00 MiB |" in table


def _memory_settings() -> tuple[object, str | None]:
    import dask

    return dask.config.get("distributed.worker.memory.spill"), os.environ.get("MALLOC_TRIM_THRESHOLD_")


@pytest.mark.parametrize(
    ("worker_memory", "target_only", "expected"),
    [
        # Out of core: spill on the RSS too, and glibc gives freed heap back (the kernel kills on the RSS).
        (2**30, False, (dask_scaling.SPILL, "65536")),
        # Limited below the process's own baseline: managed memory only, freed heap given back all the same.
        (2**30, True, (False, "65536")),
        (None, False, (0.7, None)),  # Dask's defaults
    ],
)
def test_lab_client_memory_settings_reach_the_workers(
    tmp_path: Path, worker_memory, target_only, expected
) -> None:
    with lab_client(1, tmp_path, worker_memory, target_only=target_only) as client:
        (held,) = client.run(_memory_settings).values()
    assert tuple(held) == expected


def test_cli_help() -> None:
    result = CliRunner().invoke(dask_lab.app, ["--help"])
    assert result.exit_code == 0 and "--dataset" in result.output and "--naive-partitions" in result.output
    assert "--worker-memory" in result.output
