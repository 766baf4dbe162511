"""The scenario with a known answer: Poisson demand against a fixed stock, never reordered.

Over the week, demand D ~ Poisson(7 * mean); with K units on hand a stock-out happens when D > K and the lost
units are (D - K)+. Both expectations are exact finite sums of the Poisson probabilities up to K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ClosedForm:
    stockout_probability: float
    expected_lost_units: float


def poisson_fixed_stock(mean_daily: float, stock: int, days: int = 7) -> ClosedForm:
    if mean_daily <= 0 or stock < 0:
        raise ValueError(f"needs mean_daily > 0 and stock >= 0, got {mean_daily}, {stock}")
    lam = mean_daily * days
    cdf = 0.0  # P(D <= K)
    partial_mean = 0.0  # E[D; D <= K]
    for d in range(stock + 1):
        pmf = math.exp(d * math.log(lam) - lam - math.lgamma(d + 1))
        cdf += pmf
        partial_mean += d * pmf
    tail = max(1.0 - cdf, 0.0)
    # E[(D - K)+] = E[D] - E[min(D, K)] = lam - (E[D; D <= K] + K * P(D > K))
    return ClosedForm(tail, lam - partial_mean - stock * tail)
