"""The pipeline's compute step: as of day D, fit every store x category's demand from the whole order history
up to D (the batch module's published product_daily), simulate next week (D+1..D+7) against the stores' current
policy, search a grid of policies for a cheaper one, and write one row per store x category to
`data/compute/stockout_risk/day=D/` for the spine's loader (`load_day`). The job never opens the warehouse.

The rows do not depend on the engine, the worker count or the chunk size (the kernel's seeds are per block),
so the engine is a setting, not part of the result: the pipeline's default is single-process NumPy, which at
pipeline sizes beats starting a cluster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from python_jobs.batch.published import daily_files_as_of
from python_jobs.compute.engines import Progress, SimulationJob, simulate
from python_jobs.compute.fit import HistoryError, Window, fit_pandas, rule_of_thumb_policy
from python_jobs.compute.kernel import Totals
from python_jobs.compute.model import ParameterError, Series, SimulationSpec
from python_jobs.compute.policy import CostModel, evaluate_policy, grid_search, row_of, space_in_days
from python_jobs.compute.risk import risk_of
from python_jobs.config import ComputeSettings, Settings

RISK_TABLE = "stockout_risk"
OUTPUT_NAME = "stockout_risk.parquet"


@dataclass(frozen=True)
class DayRun:
    day: date
    series: int
    rows: int
    path: Path


def output_dir(settings: Settings, day: date, table: str = RISK_TABLE) -> Path:
    return settings.data_dir / "compute" / table / f"day={day.isoformat()}"


def spec_for(settings: Settings, compute: ComputeSettings) -> SimulationSpec:
    return SimulationSpec(paths=compute.paths, seed=settings.seed)


def history_files(settings: Settings, day: date) -> list[Path]:
    files = daily_files_as_of(settings, "product_daily", day)
    if not files:
        raise HistoryError(
            f"no published batch output up to {day}: run `python -m python_jobs.batch spark-run --day {day}` first"
        )
    return files


def risk_rows(
    day: date, spec: SimulationSpec, fit: pd.DataFrame, series: Series, totals: list[Totals]
) -> pd.DataFrame:
    risks = [risk_of(t, spec.horizon_days) for t in totals]
    price = series.unit_price_cents.astype(np.float64)
    fit = fit.sort_values(["store_id", "category_id"], kind="stable").reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "as_of_date": day,
            "week_start": day + timedelta(days=1),
            "week_end": day + timedelta(days=spec.horizon_days),
            "store_id": series.store_id,
            "category_id": series.category_id,
            "history_days": fit["history_days"].to_numpy(np.int64),
            "sales_days": fit["sales_days"].to_numpy(np.int64),
            "mean_daily_units": series.mean_daily_units,
            "var_daily_units": series.var_daily_units,
            "unit_price_cents": series.unit_price_cents,
            "reorder_point": series.reorder_point,
            "order_up_to": series.order_up_to,
            "lead_days": spec.lead_days,
            "paths": np.array([r.paths for r in risks], np.int64),
            "seed": spec.seed,
            "stockout_probability": [r.stockout_probability for r in risks],
            "stockout_probability_se": [r.stockout_probability_se for r in risks],
            "expected_lost_units": [r.expected_lost_units for r in risks],
            "expected_lost_units_se": [r.expected_lost_units_se for r in risks],
            "expected_lost_revenue_cents": np.array([r.expected_lost_units for r in risks]) * price,
            "lost_revenue_var95_cents": np.array([r.lost_units_var95 for r in risks], np.int64)
            * series.unit_price_cents,
            "lost_revenue_cvar95_cents": np.array([r.lost_units_cvar95 for r in risks]) * price,
            "expected_held_units": [r.expected_held_units for r in risks],
            "expected_orders": [r.expected_orders for r in risks],
        }
    )
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame


def fit_history(files: list[Path], window: Window, compute: ComputeSettings) -> pd.DataFrame:
    """The fit `compute.fit` names: pandas in this process, or Dask on the configured cluster (a LocalCluster
    unless GROCERY_DASK_SCHEDULER points at one). Both give the same parameters."""
    if compute.fit == "pandas":
        return fit_pandas(files, window)
    if compute.fit == "dask":
        from python_jobs.compute.dask.cluster import dask_client
        from python_jobs.compute.dask.fit import fit_dask

        with dask_client(compute) as client:
            return fit_dask(client, files, window)
    raise ParameterError(f"unknown fit {compute.fit!r}; one of pandas, dask")


def recommend_policies(settings: Settings, compute: ComputeSettings, series: Series) -> pd.DataFrame:
    """Per series, the (s, S) of a grid of policies scaled to its demand with the lowest expected weekly cost
    (holding + lost sales + orders, `CostModel`'s defaults), beside the cost of its current policy on the same
    random numbers. A grid, not Ray Tune: the grid's answer is exact over its space and, at these sizes,
    cheaper than starting Ray (docs/compute.md compares the two)."""
    spec = SimulationSpec(
        paths=compute.tune_paths, seed=settings.seed, block_paths=min(1024, compute.tune_paths)
    )
    cost = CostModel()
    rows = []
    for i in range(len(series)):
        row = row_of(series, i)
        best = grid_search(spec, row, space_in_days(row), cost).best
        current = evaluate_policy(spec, row, int(row.reorder_point[0]), int(row.order_up_to[0]), cost)
        rows.append(
            {
                "recommended_reorder_point": best.reorder_point,
                "recommended_order_up_to": best.order_up_to,
                "expected_cost_current_cents": current.expected_cost,
                "expected_cost_recommended_cents": best.expected_cost,
                "policy_search_paths": spec.paths,
            }
        )
    return pd.DataFrame(rows).astype(
        {
            "recommended_reorder_point": "int64",
            "recommended_order_up_to": "int64",
            "policy_search_paths": "int64",
        }
    )


def write_atomically(frame: pd.DataFrame, folder: Path, name: str) -> Path:
    """Temp file, then rename: a crash leaves the previous output, never half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    temp = folder / f".{name}.tmp-{os.getpid()}"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), temp)
    os.replace(temp, target)
    return target


def run_day(
    settings: Settings, compute: ComputeSettings, day: date, progress: Progress | None = None
) -> DayRun:
    window = Window(settings.start_date, day)
    fit = fit_history(history_files(settings, day), window, compute)
    spec = spec_for(settings, compute)
    fit = rule_of_thumb_policy(fit, spec.lead_days)
    series = Series.from_frame(fit)
    job = SimulationJob(
        spec, series, compute.chunk_paths, compute, **({"progress": progress} if progress else {})
    )
    totals = simulate(compute.engine, job)
    frame = risk_rows(day, spec, fit, series, totals)
    frame = pd.concat([frame, recommend_policies(settings, compute, series)], axis=1)
    if len(frame) != len(series):
        raise RuntimeError(f"{len(frame)} risk rows for {len(series)} store x category series")
    path = write_atomically(frame, output_dir(settings, day), OUTPUT_NAME)
    return DayRun(day, len(series), len(frame), path)


def load_day(settings: Settings, day: date) -> int:
    """Hand day D's output to the spine's loader: raw.compute_stockout_risk, replace-by-day on _load_date."""
    from python_jobs.ingest.outputs import load_output

    path = output_dir(settings, day) / OUTPUT_NAME
    if not path.exists():
        raise FileNotFoundError(
            f"no compute output for {day}: run `python -m python_jobs.compute run --day {day}`"
        )
    return load_output(settings, f"compute_{RISK_TABLE}", [path], load_date=day).rows_loaded
