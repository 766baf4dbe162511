"""The streaming anomaly detector for series in NAB layout: one pass, bounded state per series, pure NumPy.

`SeriesDetector.update(value)` is called once per reading of one series, in event-time order, and returns the
row's `anomaly_score` in [0, 1]; the Flink job (`streaming.nab`) holds one `SeriesDetector` per series in keyed
state and calls the very same method, so the prototype scored here and the job's output are the same numbers
(`tests/streaming/test_detector.py` checks it row for row). Three layers:

1. **Raw score: how unlike its past is the current shape.** The last `DIM` values form a lag vector; its raw
   score is the mean distance to its `K` nearest lag vectors among those ending in the previous `HISTORY` rows
   (and at least `DIM` rows back, so it never overlaps itself). A daily or weekly cycle, a level that became the
   new normal or a flat line that has lasted finds close neighbours in its own past; a spike, a new level, a
   flat line in a series that used to move, a changed rhythm do not. (The idea of NAB's KNN-CAD.)
   A flat line among noisy values is the one change that comes *closer* to its past (a constant vector is
   nearer to noisy ones than they are to each other), so a second raw score reads flatness: minus the log of
   the spread (standard deviation) of the last `DIM` values, with a floor at `FLAT_FLOOR` of their usual spread.
2. **Calibration: the tail probability of each raw score under the series' own recent raw scores.** A Gaussian
   of the previous `LONG` raw scores (mean, standard deviation); the row's score is -log10 of the upper tail
   probability of its raw score, L, mapped to L / (L + `SCALE`) (the larger of the two channels): 0.375 = a
   one-in-a-million raw score for this series, 0.5 = one in 10^10, and the score keeps ranking where a
   probability would round to 1.0 (the idea of HTM's anomaly likelihood).
3. **One alarm per incident**: a row at or above `ALARM` is an alarm; the `SUPPRESS` rows after it score 0
   (their raw scores still enter the history), so a disturbance raises one alarm row at its onset, not one per
   row while it lasts.

State per series is bounded: a ring of the last `HISTORY + 2 * DIM` values and two of the last `LONG` raw scores
and spreads (about 24 KB), plus three counters. Parameters are few and round; they were chosen on generated series and on the
NAB sample's realKnownCause and artificial categories (docs/streaming.md gives the sweep and per-category
figures), never on other NAB categories.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

DIM = 8  # lag vector length (rows)
HISTORY = 1000  # lag vectors compared against: those ending in the last HISTORY rows
K = 3  # nearest neighbours averaged
LONG = 1000  # raw scores the calibration Gaussian is fitted to
MIN_CALIBRATION = 100  # raw scores needed before a row may score above 0
SCALE = 10.0  # score = L / (L + SCALE), L = -log10(tail probability): 0.5 at p = 1e-10, never saturates
ALARM = 0.375  # L = 6: tail probability 1e-6
SUPPRESS = 100  # rows held back after an alarm
SIGMA_FLOOR = 1e-6
FLAT_FLOOR = (
    0.01  # spreads below 1 % of the usual spread count as 1 %: a flat line is flat, whatever its noise
)


def neglog10_tail(z: float) -> float:
    """-log10 of the standard normal's upper tail probability P(Z >= z); asymptotic beyond z = 8 (no underflow)."""
    if z <= 8.0:
        return -math.log10(max(0.5 * math.erfc(z / math.sqrt(2.0)), 1e-300))
    return (z * z / 2.0 + math.log(z * math.sqrt(2.0 * math.pi))) / math.log(10.0)


class SeriesDetector:
    """Scores one series, one reading at a time. Picklable: the Flink job keeps it in keyed state."""

    def __init__(self) -> None:
        self.values = np.zeros(HISTORY + 2 * DIM)  # ring, oldest first once full
        self.n_values = 0
        self.raw = np.zeros(LONG)  # ring of raw kNN scores
        self.spreads = np.zeros(LONG)  # ring of the spreads of the last DIM values, row by row
        self.n_raw = 0
        self.suppressed = 0  # rows still held back after the last alarm

    def _push_value(self, value: float) -> np.ndarray:
        cap = len(self.values)
        if self.n_values < cap:
            self.values[self.n_values] = value
            self.n_values += 1
        else:
            self.values[:-1] = self.values[1:]
            self.values[-1] = value
        return self.values[: self.n_values]

    def raw_score(self, window: np.ndarray) -> float | None:
        """Mean distance of the last DIM values to their K nearest lag vectors ending >= DIM rows earlier."""
        past = window[:-DIM]
        if len(past) < DIM + K - 1:
            return None
        candidates = sliding_window_view(past, DIM)[-(HISTORY + 1) :]
        d = np.sqrt(((candidates - window[-DIM:]) ** 2).sum(axis=1))
        return float(np.partition(d, K - 1)[:K].mean())

    @staticmethod
    def _flat_score(spread: float, spreads: np.ndarray) -> float:
        """Flatness: -log of the current spread against the same of the past spreads, floored alike."""
        floor = FLAT_FLOOR * float(spreads.mean()) + 1e-12
        return _tail_score(-math.log(spread + floor), -np.log(spreads + floor))

    def update(self, value: float) -> float:
        window = self._push_value(float(value))
        raw = self.raw_score(window)
        if raw is None:
            return 0.0
        spread = float(window[-DIM:].std())
        score = 0.0
        if self.n_raw >= MIN_CALIBRATION:
            filled = min(self.n_raw, LONG)
            score = max(
                _tail_score(raw, self.raw[:filled]),
                self._flat_score(spread, self.spreads[:filled]),
            )
        self.raw[self.n_raw % LONG] = raw
        self.spreads[self.n_raw % LONG] = spread
        self.n_raw += 1
        if self.suppressed > 0:
            self.suppressed -= 1
            return 0.0
        if score >= ALARM:
            self.suppressed = SUPPRESS
        return score


def _tail_score(raw: float, history: np.ndarray) -> float:
    z = (raw - float(history.mean())) / max(float(history.std()), SIGMA_FLOOR)
    surprise = neglog10_tail(z)
    return surprise / (surprise + SCALE)


def score_series(values: np.ndarray) -> np.ndarray:
    """The detector over one whole series (the prototype, and the reference the Flink job must equal)."""
    detector = SeriesDetector()
    return np.array([detector.update(v) for v in np.asarray(values, dtype=float)])
