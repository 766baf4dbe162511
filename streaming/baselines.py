"""Baseline anomaly detectors for the NAB evaluation (pure NumPy, causal: a row's score reads only its past).

Each maps one series' values (in file order) to an `anomaly_score` in [0, 1] per row, so that NAB's scorer
(`streaming.nab_score`) can sweep a threshold over them like over any detector's output:

- `null`: 0.5 everywhere (NAB's null detector: never above the optimised threshold, the score floor).
- `random`: uniform noise, seeded per (seed, series): what chance scores under NAB's sweep.
- `windowed_gaussian`: the two-sided Gaussian tail probability of each value under the mean and spread of the
  previous `window` values, reported as -log10(p) / 50 (capped at 1), so that it ranks instead of saturating.
- `knn_conformal`: a k-nearest-neighbour distance of the last `dim` values (a lag vector) to the lag vectors of
  the previous `history` rows, turned into a rank among the previous `calibration` distances (a conformal
  p-value, ties broken by how far it exceeds them): the idea of NAB's KNN-CAD, written from scratch.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Detector = Callable[[str, np.ndarray], np.ndarray]  # (series key, values) -> anomaly_score per row


def null(key: str, values: np.ndarray) -> np.ndarray:
    return np.full(len(values), 0.5)


def random(key: str, values: np.ndarray, seed: int = 42) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    return rng.random(len(values))


def _trailing_stats(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, population std and count of the `window` values before each row (not the row itself)."""
    x = np.asarray(values, dtype=float)
    c1 = np.concatenate(([0.0], np.cumsum(x)))
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    i = np.arange(len(x))
    lo = np.maximum(i - window, 0)
    n = (i - lo).astype(float)
    safe = np.maximum(n, 1)
    mean = (c1[i] - c1[lo]) / safe
    var = np.maximum((c2[i] - c2[lo]) / safe - mean * mean, 0.0)
    return mean, np.sqrt(var), n


_erfc = np.frompyfunc(math.erfc, 1, 1)


def windowed_gaussian(key: str, values: np.ndarray, window: int = 1000, min_history: int = 30) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    # Shift by the first value (known from the start): cumulative sums of large values lose the spread.
    x = x - x[0] if len(x) else x
    mean, std, n = _trailing_stats(x, window)
    sigma = np.maximum(std, 1e-9)
    z = np.abs(x - mean) / sigma
    p = np.maximum(_erfc(z / math.sqrt(2)).astype(float), 1e-300)
    score = np.minimum(-np.log10(p) / 50.0, 1.0)
    return np.where(n >= min_history, score, 0.0)


def knn_conformal(
    key: str,
    values: np.ndarray,
    dim: int = 8,
    history: int = 1000,
    k: int = 3,
    calibration: int = 500,
    block: int = 256,
) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < dim + k + 2:
        return np.zeros(n)
    lags = sliding_window_view(x, dim)  # lags[j] = x[j : j + dim], the vector ending at row j + dim - 1
    m = len(lags)
    nc = np.full(m, np.nan)  # nonconformity of the vector ending at each row
    for start in range(0, m, block):
        stop = min(start + block, m)
        lo = max(start - history - dim, 0)
        cand = lags[lo : max(stop - dim, lo)]
        if not len(cand):
            continue
        cur = lags[start:stop]
        d2 = (cur * cur).sum(1)[:, None] + (cand * cand).sum(1)[None, :] - 2.0 * cur @ cand.T
        # Row j may use candidates ending at least `dim` rows earlier (no overlap) and at most `history` back.
        j = np.arange(start, stop)[:, None]
        c = np.arange(lo, lo + len(cand))[None, :]
        d2 = np.where((c <= j - dim) & (c >= j - dim - history), d2, np.inf)
        usable = np.isfinite(d2).sum(1) >= k
        near = np.partition(d2, k - 1, axis=1)[:, :k]
        nc[start:stop] = np.where(usable, np.sqrt(np.maximum(near, 0.0)).mean(1), np.nan)
    score_v = np.zeros(m)
    filled = np.flatnonzero(~np.isnan(nc))
    if len(filled) > calibration:
        vals = nc[filled]
        past = sliding_window_view(vals[:-1], calibration)  # the `calibration` values before each one
        cur = vals[calibration:]
        below = (past < cur[:, None]).sum(1) + 0.5 * (past == cur[:, None]).sum(1)
        top = past.max(1)
        rank = below / (calibration + 1)
        # Beyond every past value: break the tie by how far beyond, so that the score still ranks.
        excess = np.where(cur > top, 1.0 - top / np.maximum(cur, 1e-300), 0.0)
        score_v[filled[calibration:]] = rank + excess / (calibration + 1)
    out = np.zeros(n)
    out[dim - 1 :] = score_v
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class Baseline:
    name: str
    detect: Detector
    what: str


REGISTRY: dict[str, Baseline] = {
    b.name: b
    for b in (
        Baseline("null", null, "0.5 everywhere: no detection at any useful threshold"),
        Baseline("random", random, "uniform noise, seeded per series"),
        Baseline(
            "windowed_gaussian", windowed_gaussian, "Gaussian tail probability vs the previous 1,000 values"
        ),
        Baseline("knn_conformal", knn_conformal, "kNN distance of the last 8 values, ranked conformally"),
    )
}
