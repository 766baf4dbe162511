"""Small inputs for the compute module's tests: a series table and a published batch history on disk."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from python_jobs.compute.model import Series


def small_series() -> Series:
    """Three series: the closed-form scenario (Poisson, fixed stock), an overdispersed one with a reorder
    policy, and one that never sold (mean 0)."""
    return Series.from_frame(
        pd.DataFrame(
            {
                "store_id": [1, 1, 2],
                "category_id": [1, 2, 1],
                "mean_daily_units": [5.0, 5.0, 0.0],
                "var_daily_units": [5.0, 12.0, 0.0],
                "unit_price_cents": [250, 300, 100],
                "reorder_point": [-1, 10, 0],
                "order_up_to": [38, 40, 0],
            }
        )
    )


def write_history(data_dir: Path, first: date, days: int, *, seed: int = 1, stores: int = 3) -> list[Path]:
    """A published product_daily history as the batch job leaves it: runs/<D>/product_daily/day=<d>/ for
    every run day D and its order days D-3..D (each run rewrites them), seeded."""
    rng = np.random.default_rng(seed)
    files = []
    for run in range(days):
        run_day = first + timedelta(days=run)
        for back in range(min(run, 3) + 1):
            order_day = run_day - timedelta(days=back)
            rows = [
                (order_day, store, product, 1 + product % 3, int(rng.integers(1, 40)))
                for store in range(1, stores + 1)
                for product in range(1, 7)
                if rng.random() < 0.8
            ]
            frame = pd.DataFrame(
                rows, columns=["order_date", "store_id", "product_id", "category_id", "item_count"]
            )
            frame["revenue_cents"] = frame["item_count"] * (150 + 10 * frame["product_id"])
            folder = data_dir / "batch" / "spark" / "runs" / run_day.isoformat() / "product_daily"
            folder = folder / f"day={order_day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "part-00000.parquet"
            frame.to_parquet(path, index=False)
            files.append(path)
    return files
