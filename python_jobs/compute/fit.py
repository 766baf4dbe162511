"""The demand fit: per store x category, the mean and variance of daily units sold over a history window.

Days without a sale count as zero units, so the sums are taken over the window's days, not over the days that
appear in the data. Everything is summed as integers (units, units squared, revenue in cents) and turned into
floats once, at the end, by `params_from_sums`: the pandas reference here and the Dask fit
(python_jobs/compute/dask/fit.py) therefore give the same parameters to the last bit.

Input: Parquet files with columns order_date, store_id, category_id, item_count (units sold that day, e.g. the
batch module's product_daily output, one row per product) and revenue_cents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads

from python_jobs.compute.model import ParameterError

INPUT_COLUMNS = ("order_date", "store_id", "category_id", "item_count", "revenue_cents")
SUM_COLUMNS = ("store_id", "category_id", "sales_days", "units", "units_sq", "revenue_cents")


class HistoryError(ValueError):
    """The history cannot be fitted: no files, no rows in the window, or a bad value (named)."""


@dataclass(frozen=True)
class Window:
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ParameterError(f"history window ends ({self.last}) before it starts ({self.first})")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def check_files(files: list[Path]) -> list[Path]:
    if not files:
        raise HistoryError("no history files to fit: run the batch step first (or give files)")
    missing = [f for f in files if not f.exists()]
    if missing:
        raise HistoryError(f"history file(s) missing: {', '.join(map(str, missing[:3]))}")
    return sorted(files)


def daily_to_sums(daily: pd.DataFrame) -> pd.DataFrame:
    """Daily units per (order_date, store, category) → the integer sums per (store, category)."""
    daily = daily.assign(units_sq=daily["item_count"] * daily["item_count"], sales_days=1)
    sums = daily.groupby(["store_id", "category_id"], as_index=False)[
        ["sales_days", "item_count", "units_sq", "revenue_cents"]
    ].sum()
    return sums.rename(columns={"item_count": "units"})[list(SUM_COLUMNS)]


def check_values(frame: pd.DataFrame) -> None:
    for column in ("item_count", "revenue_cents"):
        bad = frame[column].isna() | (frame[column] < 0)
        if bad.any():
            row = frame[bad].iloc[0]
            raise HistoryError(
                f"{column} must be a count >= 0: store {row['store_id']} x category {row['category_id']} on "
                f"{row['order_date']} has {column}={row[column]!r}"
            )


def fit_pandas(files: list[Path], window: Window) -> pd.DataFrame:
    """The reference: the window's rows read into memory with pyarrow, summed by pandas."""
    dataset = pads.dataset(check_files(files), format="parquet")
    day = pads.field("order_date")
    table = dataset.to_table(columns=list(INPUT_COLUMNS), filter=(day >= window.first) & (day <= window.last))
    frame = table.to_pandas()
    if frame.empty:
        raise HistoryError(f"no sales between {window.first} and {window.last} in {len(files)} file(s)")
    frame["item_count"] = frame["item_count"].astype("int64")
    frame["revenue_cents"] = frame["revenue_cents"].astype("int64")
    check_values(frame)
    daily = frame.groupby(["order_date", "store_id", "category_id"], as_index=False)[
        ["item_count", "revenue_cents"]
    ].sum()
    return params_from_sums(daily_to_sums(daily), window)


def params_from_sums(sums: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Mean and (sample) variance of daily units over all the window's days, zeros included, and the average
    price of a unit. A series sold on one day only still gets a variance from the zeros around it; a one-day
    window has none, and falls back to Poisson (variance = mean)."""
    n = window.days
    sums = sums.sort_values(["store_id", "category_id"], kind="stable").reset_index(drop=True)
    units = sums["units"].to_numpy(np.int64)
    sq = sums["units_sq"].to_numpy(np.int64)
    mean = units / n
    var = (sq - units.astype(np.float64) * units / n) / (n - 1) if n > 1 else mean.copy()
    price = np.where(units > 0, np.rint(sums["revenue_cents"].to_numpy(np.int64) / np.maximum(units, 1)), 0)
    return pd.DataFrame(
        {
            "store_id": sums["store_id"].to_numpy(np.int64),
            "category_id": sums["category_id"].to_numpy(np.int64),
            "history_days": n,
            "sales_days": sums["sales_days"].to_numpy(np.int64),
            "units": units,
            "units_sq": sq,
            "revenue_cents": sums["revenue_cents"].to_numpy(np.int64),
            "mean_daily_units": mean,
            "var_daily_units": np.maximum(var, 0.0),
            "unit_price_cents": price.astype(np.int64),
        }
    )


def rule_of_thumb_policy(fit: pd.DataFrame, lead_days: int) -> pd.DataFrame:
    """The stores' current policy, the one the risk is measured against: start the week with a week of mean
    demand on hand (S), and reorder when what is left would cover only the lead time at the mean (s)."""
    mean = fit["mean_daily_units"].to_numpy()
    order_up_to = np.array([math.ceil(7 * m) for m in mean], np.int64)
    reorder_point = np.minimum(np.array([math.ceil(lead_days * m) for m in mean], np.int64), order_up_to)
    return fit.assign(reorder_point=reorder_point, order_up_to=order_up_to)
