"""`streaming.nab` on generated series in the NAB layout (never the real sample: that is for development only).

The Flink job's scores must equal `streaming.detector.score_series` (the NumPy prototype) row for row."""

from __future__ import annotations

import csv
import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from helpers import run_module

from streaming.detector import ALARM, score_series

START = datetime(2014, 3, 1)


def _series(path: Path, n: int, anomaly_at: int | None, kind: str, seed: int, start: datetime) -> list[str]:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["timestamp", "value"])
        for i in range(n):
            value = 50 + 10 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 1)
            if anomaly_at is not None and kind == "spike" and i == anomaly_at:
                value += 40
            if anomaly_at is not None and kind == "shift" and i >= anomaly_at:
                value += 15
            w.writerow([(start + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S"), round(value, 3)])
    if anomaly_at is None:
        return []
    # NAB windows are centred on the anomaly; here 10% of the series wide.
    half = timedelta(minutes=5 * n // 20)
    centre = start + timedelta(minutes=5 * anomaly_at)
    return [
        f"{(centre - half):%Y-%m-%d %H:%M:%S}.000000",
        f"{(centre + half):%Y-%m-%d %H:%M:%S}.000000",
    ]


def test_nab_layout_in_results_and_summary_out(tmp_path: Path) -> None:
    nab = tmp_path / "nab"
    labels = {
        # Different start years on purpose: the driver must replay them on a common clock.
        "synthetic/spike.csv": [_series(nab / "data/synthetic/spike.csv", 2000, 1400, "spike", 1, START)],
        "synthetic/shift.csv": [
            _series(nab / "data/synthetic/shift.csv", 2000, 1200, "shift", 2, START.replace(year=2015))
        ],
        "quiet/noise.csv": [],
    }
    _series(nab / "data/quiet/noise.csv", 2000, None, "none", 3, START.replace(year=2013))
    (nab / "labels").mkdir()
    (nab / "labels/combined_windows.json").write_text(json.dumps(labels))
    out = tmp_path / "out"
    summary_line = run_module("streaming.nab", "--nab-dir", str(nab), "--out", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary_line["series"] == summary["series"] == 3
    assert all(p["scored"] == p["points"] == 2000 for p in summary["per_series"])
    assert summary["windows"] == 2 and summary["windows_detected"] == 2
    quiet = next(p for p in summary["per_series"] if p["series"] == "quiet/noise.csv")
    assert quiet["false_positives_per_day"] <= 1.0
    with (out / "results/synthetic/spike.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "label"]
    assert len(rows) == 2000
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)
    spike = rows[1400]
    assert spike["label"] == "1" and float(spike["anomaly_score"]) >= ALARM
    # The Flink job (keyed state, event-time order) scores every row exactly as the NumPy prototype does.
    for key in labels:
        with (nab / "data" / key).open() as handle:
            values = np.array([float(r["value"]) for r in csv.DictReader(handle)])
        with (out / "results" / key).open() as handle:
            flink = np.array([float(r["anomaly_score"]) for r in csv.DictReader(handle)])
        assert np.array_equal(flink, score_series(values)), key
