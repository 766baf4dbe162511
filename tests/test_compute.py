"""The Monte Carlo kernel on every engine: bit-identical results, the closed-form answer, bad input, the demand
fit (pandas = Dask), and the pipeline job's output through the one loader."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from python_jobs.compute.closed_form import poisson_fixed_stock
from python_jobs.compute.engines import ENGINES, SimulationJob, simulate
from python_jobs.compute.fit import HistoryError, Window, fit_pandas
from python_jobs.compute.kernel import Totals, plan_tasks
from python_jobs.compute.model import ParameterError, Series, SimulationSpec
from python_jobs.compute.risk import risk_of
from python_jobs.config import ComputeSettings, Settings
from tests.compute_support import small_series, write_history

SPEC = SimulationSpec(paths=20_000, seed=11, block_paths=1024)
LOCAL = ComputeSettings(workers=2)


def _run(engine: str, spec: SimulationSpec = SPEC, chunk: int = 4096, workers: int = 2) -> list[Totals]:
    settings = dataclasses.replace(LOCAL, workers=workers)
    return simulate(engine, SimulationJob(spec, small_series(), chunk, settings))


@pytest.fixture(scope="module", autouse=True)
def _stop_ray_after_this_module():
    # The Ray engines start a runtime inside this test process; the next test module must not inherit it.
    yield
    import ray

    from python_jobs.compute.ray.actors import close_actor_pool

    if ray.is_initialized():
        close_actor_pool()
        ray.shutdown()


@pytest.fixture(scope="module")
def reference() -> list[Totals]:
    return _run("numpy", chunk=1024)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "numpy"])
def test_every_engine_gives_the_same_bits(engine: str, reference: list[Totals]) -> None:
    # Another chunk size and worker count than the reference: the seeds are per block, not per chunk or worker.
    for chunk, workers in ((3 * 1024, 2), (8 * 1024, 1)):
        totals = _run(engine, chunk=chunk, workers=workers)
        assert all(a.same_as(b) for a, b in zip(reference, totals, strict=True)), (engine, chunk, workers)
        assert [t["paths"] for t in totals] == [SPEC.paths] * 3


def test_chunk_size_and_task_order_do_not_change_the_result(reference: list[Totals]) -> None:
    assert all(a.same_as(b) for a, b in zip(reference, _run("numpy", chunk=20 * 1024), strict=True))
    other_seed = _run("numpy", dataclasses.replace(SPEC, seed=12))
    assert not reference[1].same_as(other_seed[1])  # the seed does matter


def test_every_engine_agrees_with_the_closed_form(reference: list[Totals]) -> None:
    # Series 0: Poisson demand of 5 a day against 38 units, never reordered: exact sums.
    exact = poisson_fixed_stock(5.0, 38)
    risk = risk_of(reference[0], SPEC.horizon_days)
    assert abs(risk.stockout_probability - exact.stockout_probability) < 4 * risk.stockout_probability_se
    assert abs(risk.expected_lost_units - exact.expected_lost_units) < 4 * risk.expected_lost_units_se
    assert 0.2 < exact.stockout_probability < 0.4  # a scenario where the estimate can be wrong


def test_standard_error_falls_as_one_over_root_n() -> None:
    ses = []
    for paths in (4_096, 65_536):  # 16 times the paths: a quarter of the error
        totals = _run("numpy", dataclasses.replace(SPEC, paths=paths), chunk=4096)
        ses.append(risk_of(totals[0], 7).stockout_probability_se)
    assert ses[0] / ses[1] == pytest.approx(4.0, rel=0.1)


def test_a_series_that_never_sold_has_no_risk_and_says_so(reference: list[Totals]) -> None:
    # Documented outcome (docs/compute.md): a fitted mean of 0 means no demand on any path, so no stock-out.
    never_sold = risk_of(reference[2], 7)
    assert never_sold.paths == SPEC.paths and never_sold.stockout_probability == 0.0
    assert never_sold.expected_lost_units == 0.0 and never_sold.lost_units_var95 == 0


def test_reordering_lowers_the_risk(reference: list[Totals]) -> None:
    with_policy = risk_of(reference[1], 7)
    assert reference[1]["orders"] > 0 and 0 < with_policy.stockout_probability < 1
    assert with_policy.lost_units_var95 <= with_policy.lost_units_cvar95


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mean_daily_units": [-1.0, 5.0, 0.0]}, "mean_daily_units must be >= 0: store 1 x category 1"),
        ({"order_up_to": [38, 5, 0]}, "order_up_to must be >= reorder_point"),
        ({"reorder_point": [-2, 10, 0]}, "reorder_point must be >= -1"),
        ({"var_daily_units": [np.nan, 12.0, 0.0]}, "var_daily_units"),
        ({"store_id": [1, 1, 1], "category_id": [1, 1, 2]}, "repeat a (store_id, category_id)"),
    ],
)
def test_bad_parameters_are_named(change: dict[str, list], message: str) -> None:
    frame = small_series().to_frame().assign(**change)
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Series.from_frame(frame)


def test_bad_spec_and_chunks_are_named() -> None:
    with pytest.raises(ParameterError, match="paths must be a positive integer, got 0"):
        SimulationSpec(paths=0, seed=1)
    with pytest.raises(ParameterError, match="chunk_paths must be a positive integer, got 0"):
        plan_tasks(3, SPEC, 0)
    with pytest.raises(ParameterError, match="not a multiple of block_paths=1024"):
        plan_tasks(3, SPEC, 1000)
    with pytest.raises(ParameterError, match="empty"):
        Series.from_frame(small_series().to_frame().iloc[0:0])
    with pytest.raises(ValueError, match="unknown engine 'spark'"):
        _run("spark")


@pytest.mark.timeout(180)
def test_dask_fit_out_of_core_equals_the_pandas_fit(settings: Settings) -> None:
    from python_jobs.compute.dask.cluster import dask_client
    from python_jobs.compute.dask.fit import fit_dask

    first = settings.start_date
    files = write_history(settings.data_dir, first, 6)
    window = Window(first, first + timedelta(days=5))
    expected = fit_pandas(files, window)
    # Tiny worker memory: the fit still completes (spilling if it must) and agrees to the last bit.
    with dask_client(ComputeSettings(workers=2), memory_limit="400MiB") as client:
        actual = fit_dask(client, files, window, split_out=2)
    pd.testing.assert_frame_equal(expected, actual, check_exact=True)
    assert len(expected) == 3 * 3 and (expected["history_days"] == 6).all()
    # Zero days count: a series sold on fewer days than the window has a mean below its mean per sales day.
    assert (expected["units"] / expected["sales_days"] >= expected["mean_daily_units"]).all()


def test_bad_history_is_named(settings: Settings, tmp_path) -> None:
    first = settings.start_date
    with pytest.raises(HistoryError, match="no history files"):
        fit_pandas([], Window(first, first))
    files = write_history(settings.data_dir, first, 2)
    with pytest.raises(HistoryError, match="no sales between"):
        fit_pandas(files, Window(first + timedelta(days=30), first + timedelta(days=31)))
    with pytest.raises(ParameterError, match=r"ends .* before it starts"):
        Window(first, first - timedelta(days=1))
    bad = pd.read_parquet(files[0]).assign(item_count=lambda f: f["item_count"] - 100)
    bad.to_parquet(tmp_path / "bad.parquet", index=False)
    with pytest.raises(HistoryError, match="item_count must be a count >= 0: store 1"):
        fit_pandas([tmp_path / "bad.parquet"], Window(first, first))


def test_the_job_writes_one_row_per_series_and_the_loader_keeps_them_all(settings: Settings) -> None:
    from python_jobs.compute.job import load_day, output_dir, run_day

    write_history(settings.data_dir, settings.start_date, 4)
    compute = ComputeSettings(paths=5_000, chunk_paths=4096)
    days = [settings.start_date + timedelta(days=n) for n in range(2)]
    runs = [run_day(settings, compute, day) for day in days]
    assert [r.rows for r in runs] == [9, 9]  # 3 stores x 3 categories, every week
    loaded = [load_day(settings, day) for day in days]
    assert loaded == [9, 9]
    first_bytes = (output_dir(settings, days[0]) / "stockout_risk.parquet").read_bytes()
    # Idempotent and engine-independent: day 1 again on other engines (fit and simulation) gives the same rows.
    run_day(settings, dataclasses.replace(compute, engine="processes", fit="dask"), days[0])
    again = pd.read_parquet(output_dir(settings, days[0]) / "stockout_risk.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(__import__("io").BytesIO(first_bytes)), again)
    load_day(settings, days[0])
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        rows = con.execute(
            "select _load_date, count(*), count(distinct (store_id, category_id)), min(as_of_date = _load_date), "
            "min(week_start = as_of_date + 1) from raw.compute_stockout_risk group by 1 order by 1"
        ).fetchall()
    finally:
        con.close()
    assert rows == [(days[0], 9, 9, True, True), (days[1], 9, 9, True, True)]


def test_a_crash_while_writing_leaves_the_previous_output(settings: Settings, monkeypatch) -> None:
    from python_jobs.compute import job

    write_history(settings.data_dir, settings.start_date, 2)
    compute = ComputeSettings(paths=2_000, chunk_paths=4096)
    day = settings.start_date + timedelta(days=1)
    first = job.run_day(settings, compute, day)
    before = first.path.read_bytes()

    def half_written(table, where, **_):
        where.write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(job.pq, "write_table", half_written)
    with pytest.raises(OSError, match="disk full"):
        job.run_day(settings, dataclasses.replace(compute, paths=3_000), day)
    assert first.path.read_bytes() == before


def test_the_job_without_batch_output_says_what_to_run(settings: Settings) -> None:
    from python_jobs.compute.job import run_day

    with pytest.raises(HistoryError, match="spark-run --day 2026-01-05"):
        run_day(settings, ComputeSettings(), date(2026, 1, 5))
