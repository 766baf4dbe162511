"""The demand fit on Dask DataFrame, out of core: the Parquet files are read partition by partition on the
cluster's workers, whose memory limit may be far below the data; what does not fit is spilled to disk.
The sums are the same integers the pandas reference (python_jobs/compute/fit.py) computes, so the parameters
are identical."""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import pandas as pd
from distributed import Client

from python_jobs.compute.fit import INPUT_COLUMNS, HistoryError, Window, check_files, params_from_sums


def fit_graph(
    files: list[Path], window: Window, *, split_out: int | None = None
) -> tuple[dd.Scalar, dd.DataFrame]:
    """The fit as lazy Dask collections (the count of bad rows, the integer sums): `fit_dask` computes them,
    the Monte Carlo lab also draws them."""
    frame = dd.read_parquet(
        [str(f) for f in check_files(files)],
        columns=list(INPUT_COLUMNS),
        filters=[("order_date", ">=", window.first), ("order_date", "<=", window.last)],
    )
    frame = frame.astype({"item_count": "int64", "revenue_cents": "int64"})
    bad = ((frame["item_count"] < 0) | (frame["revenue_cents"] < 0)).sum()
    daily = frame.groupby(["order_date", "store_id", "category_id"]).agg(
        {"item_count": "sum", "revenue_cents": "sum"}, split_out=split_out or max(1, frame.npartitions // 16)
    )
    daily = daily.reset_index()
    daily["units_sq"] = daily["item_count"] * daily["item_count"]
    daily["sales_days"] = 1
    sums = (
        daily.groupby(["store_id", "category_id"])[["sales_days", "item_count", "units_sq", "revenue_cents"]]
        .sum()
        .reset_index()
        .rename(columns={"item_count": "units"})
    )
    return bad, sums


def fit_dask(
    client: Client, files: list[Path], window: Window, *, split_out: int | None = None
) -> pd.DataFrame:
    bad, sums = fit_graph(files, window, split_out=split_out)
    bad, sums = client.compute([bad, sums], sync=True)
    if bad:
        raise HistoryError(f"{bad} row(s) with a negative item_count or revenue_cents in the history")
    if sums.empty:
        raise HistoryError(f"no sales between {window.first} and {window.last} in {len(files)} file(s)")
    return params_from_sums(sums, window)
