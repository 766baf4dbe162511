"""Score detectors side by side on series in NAB layout with NAB's scoring (`streaming.nab_score`).

    python -m streaming.nab_eval --nab-dir <NAB folder> [--results <streaming.nab's results/>]

In one table, per category and overall: the project's Flink detector (its result files from `streaming.nab`,
at the threshold NAB's sweep picks and at its own alarm threshold, `streaming.detector.ALARM`), the baselines of `streaming.baselines`,
and, when the folder has them (`reference/results/<detector>/`), the published outputs of NAB's reference
detectors re-scored by this scorer. Columns: normalised score for the three profiles (each detector's threshold
optimised per profile over all the series), and at the standard profile's threshold the labelled windows
detected, false-positive rows, false-positive incidents per day (rows less than 2 h apart are one incident) and
the median delay from a window's start to its first detection. Pure Python and NumPy: no Flink needed.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from streaming.baselines import REGISTRY
from streaming.detector import ALARM
from streaming.nab_score import (
    PROFILES,
    Prepared,
    normalize,
    optimize_threshold,
    prepare,
    score_series,
    to_datetimes,
)

INCIDENT_GAP = np.timedelta64(2, "h")
HOUR = np.timedelta64(1, "h")
PROJECT = "flink_detector"
PROJECT_ALARM = ALARM  # streaming.nab's alarm level (streaming.detector)
REFERENCES = ("numenta", "knncad", "windowedGaussian", "random", "null")


@dataclass(frozen=True)
class Series:
    key: str  # "<category>/<name>.csv", as in combined_windows.json
    timestamps: list[str]  # as in the file, in file order
    values: np.ndarray
    prepared: Prepared

    @property
    def category(self) -> str:
        return self.key.split("/", 1)[0]


def read_csv_columns(path: Path, *columns: str) -> list[list[str]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [[r[c] for r in rows] for c in columns]


def load_corpus(nab_dir: Path) -> list[Series]:
    """Every data/<category>/<name>.csv with its windows, rows in file order (NAB scores rows as they come)."""
    labels_path = nab_dir / "labels" / "combined_windows.json"
    labels = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    corpus = []
    for path in sorted((nab_dir / "data").glob("*/*.csv")):
        key = f"{path.parent.name}/{path.name}"
        stamps, values = read_csv_columns(path, "timestamp", "value")
        ts = to_datetimes(stamps)
        corpus.append(
            Series(key, stamps, np.array(values, dtype=float), prepare(key, ts, labels.get(key, [])))
        )
    return corpus


def results_by_timestamp(results_dir: Path, corpus: list[Series]) -> dict[str, np.ndarray] | None:
    """Scores from result files in NAB's format (results/<key>), matched to the data rows by timestamp.

    `streaming.nab` writes its rows sorted by time; a timestamp the file lacks scores 0. None when any series has
    no result file."""
    out = {}
    for s in corpus:
        path = results_dir / s.key
        if not path.exists():
            return None
        stamps, scores = read_csv_columns(path, "timestamp", "anomaly_score")
        by_ts = dict(zip((t[:19] for t in stamps), (float(v) for v in scores), strict=True))
        out[s.key] = np.array([by_ts.get(t[:19], 0.0) for t in s.timestamps])
    return out


def reference_scores(nab_dir: Path, corpus: list[Series], detector: str) -> dict[str, np.ndarray] | None:
    """A reference detector's published output (reference/results/<det>/<category>/<det>_<name>), in row order."""
    root = nab_dir / "reference" / "results" / detector
    out = {}
    for s in corpus:
        category, name = s.key.split("/", 1)
        path = root / category / f"{detector}_{name}"
        if not path.exists():
            return None
        stamps, scores = read_csv_columns(path, "timestamp", "anomaly_score")
        if [t[:19] for t in stamps] != [t[:19] for t in s.timestamps]:
            raise ValueError(f"{path}: rows differ from the data file's")
        out[s.key] = np.array(scores, dtype=float)
    return out


@dataclass(frozen=True)
class Detector:
    name: str
    source: str  # "project", "baseline" or "published"
    scores: dict[str, np.ndarray]
    fixed_threshold: float | None = None  # None: NAB's sweep picks it per profile


@dataclass
class Row:
    detector: str
    source: str
    group: str  # a category or "overall"
    series: int
    windows: int
    normalized: dict[str, float | None]
    thresholds: dict[str, float]
    windows_detected: int
    fp_rows: int
    fp_incidents: int
    days: float
    delays_h: list[float] = field(default_factory=list)

    @property
    def incidents_per_day(self) -> float:
        return self.fp_incidents / self.days if self.days else 0.0

    @property
    def median_delay_h(self) -> float | None:
        return statistics.median(self.delays_h) if self.delays_h else None


def _incidents(prepared: Prepared, detected: np.ndarray) -> int:
    fp = np.flatnonzero(detected & (prepared.window < 0))
    if not len(fp):
        return 0
    t = np.sort(prepared.timestamps[fp])
    return 1 + int((np.diff(t) >= INCIDENT_GAP).sum())


def _scored_days(prepared: Prepared) -> float:
    t = prepared.timestamps[prepared.counted]
    return float((t.max() - t.min()) / np.timedelta64(1, "D")) if len(t) > 1 else 0.0


def evaluate(corpus: list[Series], detectors: list[Detector]) -> list[Row]:
    groups = ["overall", *sorted({s.category for s in corpus})]
    rows: list[Row] = []
    for det in detectors:
        paired = [(s.prepared, det.scores[s.key]) for s in corpus]
        thresholds = {
            name: det.fixed_threshold
            if det.fixed_threshold is not None
            else optimize_threshold(paired, profile)[0]
            for name, profile in PROFILES.items()
        }
        for group in groups:
            members = [s for s in corpus if group in ("overall", s.category)]
            windows = sum(s.prepared.windows for s in members)
            normalized = {}
            for name, profile in PROFILES.items():
                raw = sum(
                    score_series(s.prepared, det.scores[s.key], thresholds[name], profile).score
                    for s in members
                )
                normalized[name] = normalize(raw, windows, profile)
            row = Row(
                det.name, det.source, group, len(members), windows, normalized, thresholds, 0, 0, 0, 0.0
            )
            for s in members:
                result = score_series(
                    s.prepared, det.scores[s.key], thresholds["standard"], PROFILES["standard"]
                )
                row.windows_detected += result.windows_detected
                row.fp_rows += result.fp
                row.fp_incidents += _incidents(s.prepared, result.detected)
                row.days += _scored_days(s.prepared)
                row.delays_h += [
                    float((s.prepared.timestamps[i] - s.prepared.window_start[s.prepared.window[i]]) / HOUR)
                    for i in result.first_detection
                ]
            rows.append(row)
    # One block per group (overall first), detectors in the order given.
    return sorted(rows, key=lambda r: groups.index(r.group))


def detectors_for(nab_dir: Path, corpus: list[Series], results_dir: Path | None) -> list[Detector]:
    found = []
    project = results_by_timestamp(results_dir, corpus) if results_dir else None
    if project is not None:
        found.append(Detector(PROJECT, "project", project))
        found.append(
            Detector(f"{PROJECT} @{PROJECT_ALARM}", "project", project, fixed_threshold=PROJECT_ALARM)
        )
    for name, baseline in REGISTRY.items():
        found.append(Detector(name, "baseline", {s.key: baseline.detect(s.key, s.values) for s in corpus}))
    for name in REFERENCES:
        scores = reference_scores(nab_dir, corpus, name)
        if scores is not None:
            found.append(Detector(f"{name} (NAB)", "published", scores))
    return found


HEADER = (
    "detector",
    "source",
    "group",
    "windows",
    "standard",
    "low FP",
    "low FN",
    "thr (std)",
    "detected",
    "FP rows",
    "FP inc/day",
    "delay h",
)


def _cells(row: Row) -> list[str]:
    def norm(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1f}"

    delay = row.median_delay_h
    return [
        row.detector,
        row.source,
        row.group,
        str(row.windows),
        *(norm(row.normalized[p]) for p in PROFILES),
        f"{row.thresholds['standard']:.4g}",
        f"{row.windows_detected}/{row.windows}",
        f"{row.fp_rows:,}",
        f"{row.incidents_per_day:.3f}",
        "-" if delay is None else f"{delay:.2f}",
    ]


def render_text(rows: list[Row]) -> str:
    table = [list(HEADER), *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    out = []
    for n, line in enumerate(table):
        out.append(
            "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def render_markdown(rows: list[Row], *, title: str, notes: list[str]) -> str:
    lines = [f"# {title}", "", *notes, "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def run(
    nab_dir: Path,
    results_dir: Path | None,
    report: Path | None,
    group: str = "all",
    *,
    print_json: bool = True,
) -> dict:
    started = time.perf_counter()
    corpus = load_corpus(nab_dir)
    if not corpus:
        raise SystemExit(f"no series under {nab_dir / 'data'}")
    detectors = detectors_for(nab_dir, corpus, results_dir)
    scoring_started = time.perf_counter()
    rows = evaluate(corpus, detectors)
    done = time.perf_counter()
    seconds, scoring = done - started, done - scoring_started
    points = sum(s.prepared.rows for s in corpus)
    scored = points * len(detectors)
    shown = rows if group == "all" else [r for r in rows if r.group == "overall"]
    throughput = (
        f"evaluation: {len(detectors)} detectors x {points:,} points ({len(corpus)} series) in {seconds:.1f} s "
        f"= {scored / seconds:,.0f} points/s (reading, baselines, scoring); the NAB scoring alone "
        f"(3 threshold sweeps + per-group scores per detector) {scoring:.1f} s = {scored / scoring:,.0f} points/s"
    )
    print(render_text(shown))
    print(throughput)
    overall = {r.detector: r for r in rows if r.group == "overall"}
    summary = {
        "series": len(corpus),
        "points": points,
        "windows": overall[detectors[0].name].windows,
        "seconds": round(seconds, 2),
        "points_per_second": round(scored / seconds),
        "scoring_points_per_second": round(scored / scoring),
        "standard": {
            k: None if r.normalized["standard"] is None else round(r.normalized["standard"], 2)
            for k, r in overall.items()
        },
    }
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        notes = [
            f"Scored on {date.today():%Y-%m-%d}: {len(corpus)} series, {points:,} points, "
            f"{summary['windows']} labelled windows, from `{nab_dir}`.",
            "Normalised NAB scores (100 = perfect, 0 = null detector), each detector's threshold optimised per "
            "profile over all these series; detected, FP rows, FP incidents/day and delay at the standard "
            "profile's threshold. `published`: the reference detectors' published outputs re-scored here.",
            "",
            throughput,
        ]
        report.write_text(render_markdown(rows, title="NAB evaluation", notes=notes))
        report.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    if print_json:
        print(json.dumps(summary))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.nab_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--nab-dir", type=Path, required=True, help="NAB layout: data/, labels/, reference/")
    parser.add_argument("--results", type=Path, help="the project detector's results/ (from streaming.nab)")
    parser.add_argument("--report", type=Path, help="default: <data_dir>/reports/nab/nab_eval.md")
    parser.add_argument("--group", choices=("all", "overall"), default="all", help="rows to print")
    args = parser.parse_args(argv)
    from python_jobs.config import load_settings

    report = args.report or load_settings().data_dir / "reports" / "nab" / "nab_eval.md"
    run(args.nab_dir, args.results, report, args.group)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
