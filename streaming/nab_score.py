"""The Numenta Anomaly Benchmark's scoring, written from NAB's published method (pure NumPy: no Flink needed).

What NAB scores, per series (Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms - the Numenta
Anomaly Benchmark", 2015, and NAB's documentation):

- **Rows, not incidents.** A detector emits an `anomaly_score` per row; at a threshold every row whose score is
  at or above it is a detection. Every detection outside a labelled window is a false positive of its own, so a
  run of ten alarm rows costs ten times one alarm.
- **Probationary period**: the first 15 % of the rows (at most 15 % of 5,000 = 750) are for learning; nothing
  there is scored or counted.
- **Windows**: each labelled anomaly is a window of rows (NAB makes them 10 % of the series long divided by the
  number of anomalies, centred on the anomaly; this module reads them from `combined_windows.json`).
- **True positive**: only the *earliest* detection in a window counts, rewarded by a scaled sigmoid of its
  position: sigma(y) = 2 / (1 + e^(5y)) - 1, with y = -(rows from it to the window's end, inclusive) / width, so
  y runs from -1 at the window's first row (sigma = 0.987) to about 0 at its last (sigma = 0); scaled by
  sigma(-1) the first row earns exactly A_TP. Later detections in the same window change nothing. A window
  without a detection costs -A_FN.
- **False positive**: a detection outside every window costs A_FP times sigma(y) with y = (rows since the end of
  the previous window) / (that window's width - 1), i.e. almost nothing right after a window and the full
  -A_FP from three window widths after it; before the first window, the full -A_FP.
- **Profiles** weigh TP, FP and FN: standard (1, 0.11, 1), reward low FP rate (1, 0.22, 1), reward low FN rate
  (1, 0.11, 2). A TN is worth nothing.
- **Threshold**: per detector and profile, the one threshold that maximises the summed raw score over the whole
  corpus (every distinct anomaly score is tried: the sum only changes there).
- **Normalisation**: 100 * (S - S_null) / (S_perfect - S_null), where the null detector (no detection) scores
  -A_FN per window and the perfect one (a detection at every window's first row) A_TP per window.

The counts (TP/TN/FP/FN) are rows after the probationary period, as in NAB's score files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROBATION_PERCENT = 0.15
PROBATION_CAP_ROWS = 5000  # the probationary period is at most PROBATION_PERCENT of this many rows
NOTHING = 1.1  # a threshold above every anomaly score: no detection (NAB's sweep starts there too)


@dataclass(frozen=True)
class Profile:
    """An application profile: the weights of a true positive, a false positive and a missed window."""

    name: str
    tp: float
    fp: float
    fn: float
    tn: float = 1.0  # NAB lists it; a true negative scores nothing in any profile

    @classmethod
    def from_cost_matrix(cls, name: str, matrix: dict) -> Profile:
        return cls(name, matrix["tpWeight"], matrix["fpWeight"], matrix["fnWeight"], matrix["tnWeight"])


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0),
}


def load_profiles(path: Path) -> dict[str, Profile]:
    """Profiles from a file in NAB's profiles.json layout (`{name: {"CostMatrix": {...}}}`)."""
    raw = json.loads(path.read_text())
    return {name: Profile.from_cost_matrix(name, body["CostMatrix"]) for name, body in raw.items()}


def scaled_sigmoid(y: np.ndarray | float) -> np.ndarray:
    """2 / (1 + e^(5y)) - 1, and -1 beyond y = 3 (a false positive far from any window)."""
    y = np.asarray(y, dtype=float)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y > 3.0, -1.0, value)


TP_FULL = float(scaled_sigmoid(-1.0))  # a detection at a window's first row earns exactly A_TP


def probation_rows(
    n: int, percent: float = PROBATION_PERCENT, cap_rows: int | None = PROBATION_CAP_ROWS
) -> int:
    """Rows at the start that are neither scored nor counted. `cap_rows=None`: no cap (older NAB releases)."""
    rows = math.floor(percent * n)
    return int(rows if cap_rows is None else min(rows, percent * cap_rows))


@dataclass(frozen=True)
class Prepared:
    """Everything about a series that depends on its labels but not on a detector or a profile."""

    key: str
    timestamps: np.ndarray  # datetime64[s], in row order
    window: np.ndarray  # window number per row, -1 outside every window
    windows: int  # number of labelled windows (a window may lie wholly in the probationary period)
    tp_value: np.ndarray  # unweighted sigmoid of a detection here if in a window (else 0)
    fp_value: np.ndarray  # unweighted sigmoid (<= 0) of a detection here if outside (else 0)
    counted: np.ndarray  # bool: past the probationary period
    window_start: np.ndarray  # datetime64 of each window's first row

    @property
    def rows(self) -> int:
        return len(self.timestamps)


def _first_row(ts: np.ndarray, bound: np.datetime64, *, at_or_after: bool) -> int:
    exact = np.flatnonzero(ts == bound)
    if len(exact):
        return int(exact[0])
    near = np.flatnonzero(ts >= bound) if at_or_after else np.flatnonzero(ts <= bound)
    if not len(near):
        return len(ts) if at_or_after else -1
    return int(near[0] if at_or_after else near[-1])


def to_datetimes(values: Iterable[str]) -> np.ndarray:
    return np.array([str(v)[:19] for v in values], dtype="datetime64[s]")


def prepare(
    key: str,
    timestamps: Sequence[str] | np.ndarray,
    windows: Sequence[Sequence[str]],
    probation_percent: float = PROBATION_PERCENT,
    probation_cap_rows: int | None = PROBATION_CAP_ROWS,
) -> Prepared:
    """Windows are [start, end] timestamps, both inclusive (as in combined_windows.json).

    Rows are taken in file order, as NAB does: a window runs from the first row stamped with its start to the
    first row stamped with its end (real series hold a few repeated or backward timestamps). A bound that no
    row carries falls back to the first row at or after the start and the last row at or before the end.
    """
    ts = timestamps if isinstance(timestamps, np.ndarray) else to_datetimes(timestamps)
    n = len(ts)
    window = np.full(n, -1, dtype=np.int64)
    tp_value = np.zeros(n)
    fp_value = np.full(n, -1.0)  # before any window: the full penalty
    bounds = sorted((to_datetimes([a])[0], to_datetimes([b])[0]) for a, b in windows)
    spans = [(_first_row(ts, a, at_or_after=True), _first_row(ts, b, at_or_after=False)) for a, b in bounds]
    starts = []
    for k, (left, right) in enumerate(spans):
        if right < left:
            raise ValueError(f"{key}: window {bounds[k][0]}..{bounds[k][1]} holds no row")
        starts.append(ts[left])
        width = right - left + 1
        idx = np.arange(left, right + 1)
        window[idx] = k
        tp_value[idx] = scaled_sigmoid(-(right - idx + 1) / width)
        # Rows after this window (up to the next one) are judged by their distance from its end.
        stop = spans[k + 1][0] if k + 1 < len(spans) else n
        after = np.arange(right + 1, stop)
        fp_value[after] = scaled_sigmoid((after - right) / max(width - 1, 1))
    fp_value[window >= 0] = 0.0
    counted = np.arange(n) >= probation_rows(n, probation_percent, probation_cap_rows)
    return Prepared(
        key, ts, window, len(bounds), tp_value, fp_value, counted, np.array(starts, dtype="datetime64[s]")
    )


@dataclass(frozen=True)
class SeriesScore:
    key: str
    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    total: int
    windows: int
    windows_detected: int
    first_detection: tuple[int, ...]  # row of the earliest detection per detected window
    detected: np.ndarray  # bool per row: counted and at or above the threshold


def detections(prepared: Prepared, scores: np.ndarray, threshold: float) -> np.ndarray:
    return prepared.counted & (np.asarray(scores, dtype=float) >= threshold)


def score_series(prepared: Prepared, scores: np.ndarray, threshold: float, profile: Profile) -> SeriesScore:
    """NAB's raw score of one series at one threshold, and its row counts."""
    if len(scores) != prepared.rows:
        raise ValueError(f"{prepared.key}: {len(scores)} scores for {prepared.rows} rows")
    hit = detections(prepared, scores, threshold)
    inside = prepared.window >= 0
    total = profile.fp * float(prepared.fp_value[hit & ~inside].sum())
    firsts = []
    for k in range(prepared.windows):
        rows = np.flatnonzero(hit & (prepared.window == k))
        if len(rows):
            firsts.append(int(rows[0]))
            total += profile.tp * float(prepared.tp_value[rows[0]]) / TP_FULL
        else:
            total -= profile.fn
    return SeriesScore(
        key=prepared.key,
        threshold=threshold,
        score=total,
        tp=int((hit & inside).sum()),
        tn=int((prepared.counted & ~inside & ~hit).sum()),
        fp=int((hit & ~inside).sum()),
        fn=int((prepared.counted & inside & ~hit).sum()),
        total=prepared.rows,
        windows=prepared.windows,
        windows_detected=len(firsts),
        first_detection=tuple(firsts),
        detected=hit,
    )


def sweep(series: Sequence[tuple[Prepared, np.ndarray]], profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """The corpus' summed raw score at every distinct threshold, highest threshold first.

    Lowering the threshold past a score value detects every counted row holding it: an outside row adds its
    weighted penalty, an inside row can only raise its window's value to its own (the earliest detection is
    the one with the largest sigmoid). Returns (thresholds, scores), the first entry being NOTHING.
    """
    values, fp, window_gain = [], [], []
    base = 0.0
    offset = 0
    for prepared, scores in series:
        base -= profile.fn * prepared.windows
        keep = prepared.counted
        values.append(np.asarray(scores, dtype=float)[keep])
        fp.append(profile.fp * prepared.fp_value[keep])
        w = prepared.window[keep]
        window_gain.append((np.where(w >= 0, w + offset, -1), profile.tp * prepared.tp_value[keep] / TP_FULL))
        offset += prepared.windows
    v = np.concatenate(values) if values else np.zeros(0)
    delta = np.concatenate(fp) if fp else np.zeros(0)
    wid = np.concatenate([w for w, _ in window_gain]) if window_gain else np.zeros(0, dtype=np.int64)
    gain = np.concatenate([g for _, g in window_gain]) if window_gain else np.zeros(0)
    order = np.argsort(-v, kind="stable")
    v, delta, wid, gain = v[order], delta[order].copy(), wid[order], gain[order]
    # A window's value is the running maximum of its detected rows' gains, starting from -A_FN; each row
    # contributes by how much it raises that maximum.
    for k in np.unique(wid[wid >= 0]):
        at = np.flatnonzero(wid == k)
        best = np.maximum.accumulate(np.concatenate(([-profile.fn], gain[at])))
        delta[at] += np.diff(best)
    running = base + np.cumsum(delta)
    if len(v) == 0:
        return np.array([NOTHING]), np.array([base])
    last_of_value = np.flatnonzero(np.r_[v[1:] != v[:-1], True])
    return np.r_[NOTHING, v[last_of_value]], np.r_[base, running[last_of_value]]


def optimize_threshold(
    series: Sequence[tuple[Prepared, np.ndarray]], profile: Profile
) -> tuple[float, float]:
    """The threshold that maximises the corpus' summed raw score (the highest such threshold on a tie)."""
    thresholds, scores = sweep(series, profile)
    best = int(np.argmax(scores))
    return float(thresholds[best]), float(scores[best])


def null_score(windows: int, profile: Profile) -> float:
    return -profile.fn * windows


def perfect_score(windows: int, profile: Profile) -> float:
    return profile.tp * windows


def normalize(score: float, windows: int, profile: Profile) -> float | None:
    """100 for the perfect detector, 0 for the null one; None for series without any window."""
    null, perfect = null_score(windows, profile), perfect_score(windows, profile)
    if perfect == null:
        return None
    return 100.0 * (score - null) / (perfect - null)
