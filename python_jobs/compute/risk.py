"""From a series' exact totals to the figures the warehouse keeps: stock-out probability, expected lost sales,
95 % VaR and CVaR of lost revenue, each with what it needs to be read (paths, standard errors)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from python_jobs.compute.kernel import Totals

TAIL = 0.05  # VaR and CVaR at 95 %


@dataclass(frozen=True)
class Risk:
    paths: int
    stockout_probability: float
    stockout_probability_se: float
    expected_lost_units: float
    expected_lost_units_se: float
    lost_units_var95: int  # the 95th percentile of lost units (smallest x with P(lost <= x) >= 0.95)
    lost_units_cvar95: float  # mean of the worst 5 % of paths
    expected_held_units: float  # mean units on hand at the end of a day, over the week's days
    expected_orders: float


def lost_units_quantile(hist: np.ndarray, paths: int, level: float = 1 - TAIL) -> int:
    cumulative = np.cumsum(hist)
    return int(np.searchsorted(cumulative, level * paths - 1e-9))  # first x with F(x) >= level


def lost_units_tail_mean(hist: np.ndarray, paths: int, tail: float = TAIL) -> float:
    """Mean of the worst `tail` share of paths, taking a fraction of the boundary value's paths if needed."""
    want = tail * paths
    taken, total = 0.0, 0.0
    for value in range(len(hist) - 1, -1, -1):
        count = int(hist[value])
        if not count:
            continue
        take = min(count, want - taken)
        total += take * value
        taken += take
        if taken >= want:
            break
    return total / want


def risk_of(totals: Totals, horizon_days: int) -> Risk:
    n = totals["paths"]
    if n < 1:
        raise ValueError("no paths simulated")
    p = totals["stockout_paths"] / n
    mean = totals["lost_units"] / n
    var = max(totals["lost_units_sq"] / n - mean * mean, 0.0)
    return Risk(
        paths=n,
        stockout_probability=p,
        stockout_probability_se=math.sqrt(p * (1 - p) / n),
        expected_lost_units=mean,
        expected_lost_units_se=math.sqrt(var / n),
        lost_units_var95=lost_units_quantile(totals.lost_hist, n),
        lost_units_cvar95=lost_units_tail_mean(totals.lost_hist, n),
        expected_held_units=totals["held_unit_days"] / n / horizon_days,
        expected_orders=totals["orders"] / n,
    )
