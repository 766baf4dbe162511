"""The NAB evaluation (`streaming.nab_eval`) and its baselines on generated series: no Flink, no NAB sample."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from streaming import baselines, nab_eval

START = datetime(2016, 5, 1)


def _values(n: int, seed: int, spike_at: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = 50 + 10 * np.sin(2 * math.pi * np.arange(n) / 288) + rng.normal(0, 1, n)
    if spike_at is not None:
        v[spike_at] += 40
    return v


def _write(path: Path, values: np.ndarray, scores: np.ndarray | None = None) -> list[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = [f"{START + timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S}" for i in range(len(values))]
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(
            ["timestamp", "value"] if scores is None else ["timestamp", "value", "anomaly_score", "label"]
        )
        for i, (t, v) in enumerate(zip(stamps, values, strict=True)):
            w.writerow([t, round(float(v), 3)] if scores is None else [t, round(float(v), 3), scores[i], 0])
    return stamps


@pytest.mark.parametrize("name", list(baselines.REGISTRY))
def test_baselines_score_in_0_1_and_read_only_the_past(name: str) -> None:
    detect = baselines.REGISTRY[name].detect
    v = _values(2000, 1)
    scores = detect("a/b.csv", v)
    assert scores.shape == v.shape and np.all((scores >= 0) & (scores <= 1))
    changed = v.copy()
    changed[1500:] += 100  # the future changes: the past's scores must not
    assert np.array_equal(detect("a/b.csv", changed)[:1500], scores[:1500])
    assert np.array_equal(detect("a/b.csv", v), scores)  # deterministic (random is seeded)


@pytest.mark.parametrize("name", ["windowed_gaussian", "knn_conformal"])
def test_non_trivial_baselines_rank_a_spike_first(name: str) -> None:
    v = _values(3000, 2, spike_at=2500)
    scores = baselines.REGISTRY[name].detect("a/b.csv", v)
    assert int(np.argmax(scores[600:])) + 600 == 2500


def test_evaluation_table_report_and_project_results(tmp_path: Path) -> None:
    nab = tmp_path / "nab"
    n = 2000
    stamps = _write(nab / "data/synthetic/spike.csv", _values(n, 3, spike_at=1400))
    _write(nab / "data/quiet/noise.csv", _values(n, 4))
    window = [f"{stamps[1300]}.000000", f"{stamps[1499]}.000000"]
    (nab / "labels").mkdir()
    (nab / "labels/combined_windows.json").write_text(
        json.dumps({"synthetic/spike.csv": [window], "quiet/noise.csv": []})
    )
    # A "project" result that alarms at the window's first row and once on the quiet series.
    spike_scores, quiet_scores = np.zeros(n), np.zeros(n)
    spike_scores[1300], quiet_scores[1000] = 0.9, 0.6
    _write(tmp_path / "results/synthetic/spike.csv", _values(n, 3), spike_scores)
    _write(tmp_path / "results/quiet/noise.csv", _values(n, 4), quiet_scores)
    report = tmp_path / "report/nab_eval.md"
    summary = nab_eval.run(nab, tmp_path / "results", report)
    assert summary["series"] == 2 and summary["windows"] == 1 and summary["points"] == 2 * n
    # Swept: the threshold 0.9 catches the window at its first row and not the false alarm (100 = perfect).
    assert summary["standard"]["flink_detector"] == pytest.approx(100.0)
    # At its alarm level (0.375 <= 0.6) the quiet series' alarm costs A_FP = 0.11 of a normalised range of 2.
    assert summary["standard"][f"flink_detector @{nab_eval.PROJECT_ALARM}"] == pytest.approx(94.5)
    assert summary["standard"]["null"] == 0.0
    assert not any(name.endswith("(NAB)") for name in summary["standard"])  # no reference/ folder here
    text = report.read_text()
    assert "| flink_detector | project | overall | 1 | 100.0 |" in text
    alarm = nab_eval.PROJECT_ALARM
    assert (
        f"| flink_detector @{alarm} | project | quiet | 0 | n/a | n/a | n/a | {alarm:.4g} | 0/0 | 1 |" in text
    )
    assert json.loads(report.with_suffix(".json").read_text())["points"] == 2 * n
