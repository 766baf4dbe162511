"""Run the streaming anomaly detector over series in the Numenta Anomaly Benchmark layout.

    python -m streaming.nab --nab-dir <folder with data/<category>/<name>.csv and labels/combined_windows.json>

The detector is one Flink job over all series: SQL parses the replay and sorts it by event time, then a
`KeyedProcessFunction` keyed by series holds a `streaming.detector.SeriesDetector` in keyed state and calls its
`update` once per reading (the NumPy prototype itself, so the job's scores equal the prototype's row for row):
a kNN distance of the last 8 values to their past and a flatness score, each calibrated as its tail probability
under the series' own recent raw scores, one alarm row per incident (`streaming.detector` explains the three
layers). Every point gets `anomaly_score` in [0, 1); an alarm is a score >= `detector.ALARM` (0.375, a tail
probability of 1e-6). Nothing here reads the labels before
scoring: they are used only to write the `label` column and the summary. Then `streaming.nab_eval` scores the
result files with NAB's scoring (`streaming.nab_score`) beside the baselines and, when the folder has them,
NAB's reference detectors.

NAB series start in different years: a watermark shared by all of them would make every series but the
latest-starting one late. The driver therefore replays them on a common clock (each series shifted to start
at 2000-01-01) and keeps the original timestamp in every row.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from streaming import nab_eval
from streaming.detector import ALARM, SeriesDetector
from streaming.evaluate import parse_ts, read_json_rows
from streaming.flink_env import FlinkOptions, stream_env
from streaming.progress import track

ORIGIN = datetime(2000, 1, 1)
INCIDENT_GAP = timedelta(hours=2)


@dataclass
class Series:
    key: str  # "<category>/<name>.csv", as in combined_windows.json
    rows: list[tuple[datetime, float]]


def load_series(nab_dir: Path) -> list[Series]:
    found = []
    for path in sorted((nab_dir / "data").glob("*/*.csv")):
        with path.open() as handle:
            rows = [(parse_ts(r["timestamp"]), float(r["value"])) for r in csv.DictReader(handle)]
        found.append(Series(f"{path.parent.name}/{path.name}", sorted(rows)))
    return found


def write_replay(series: list[Series], target: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for s in series:
        start = s.rows[0][0]
        for ts, value in s.rows:
            lines.append((ORIGIN + (ts - start), s.key, ts, value))
    lines.sort(key=lambda r: (r[0], r[1]))
    with target.open("w") as handle:
        for clock, key, ts, value in lines:
            handle.write(f"{key},{clock:%Y-%m-%d %H:%M:%S},{ts:%Y-%m-%d %H:%M:%S},{value!r}\n")
    return len(lines)


class ScoreSeries(KeyedProcessFunction):
    """Per series (the key): a `streaming.detector.SeriesDetector` in keyed state, one `update` per reading.

    The detector is a small picklable object (three fixed-length rings, about 24 KB, and three counters), so its
    state per series is bounded; it is checkpointed with the job like any keyed state. Rows reach it in event-time
    order (the SQL sort above it); rows with the same timestamp in arrival order."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(
            ValueStateDescriptor("series_detector", Types.PICKLED_BYTE_ARRAY())
        )

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        detector = self.state.value() or SeriesDetector()
        score = detector.update(value[2])
        self.state.update(detector)
        yield Row(value[0], value[1], value[2], score)


def run_detector(replay_dir: Path, out: Path, options: FlinkOptions) -> None:
    _env, t_env = stream_env(options)
    t_env.execute_sql(f"""
        CREATE TABLE points (
            line STRING,
            series AS SPLIT_INDEX(line, ',', 0),
            event_time AS TO_TIMESTAMP(SPLIT_INDEX(line, ',', 1)),
            original_ts AS SPLIT_INDEX(line, ',', 2),
            v AS CAST(SPLIT_INDEX(line, ',', 3) AS DOUBLE),
            -- The replay is in order, but series share timestamps: a watermark equal to the last row time
            -- would make the next series' row at that same instant late (dropped by the sort below).
            WATERMARK FOR event_time AS event_time - INTERVAL '1' SECOND
        ) WITH ('connector' = 'filesystem', 'path' = '{replay_dir.resolve().as_uri()}', 'format' = 'raw')
    """)
    # Event-time order per series whatever the arrival order: a sort on the row time releases rows as the
    # watermark passes them (state: only the rows not yet behind the watermark).
    ordered = t_env.sql_query("SELECT series, original_ts, v FROM points ORDER BY event_time")
    row_type = Types.ROW_NAMED(
        ["series", "original_ts", "v", "score"],
        [Types.STRING(), Types.STRING(), Types.DOUBLE(), Types.DOUBLE()],
    )
    scored = (
        t_env.to_data_stream(ordered)
        .key_by(lambda r: r[0], key_type=Types.STRING())
        .process(ScoreSeries(), output_type=row_type)
        .name("series detector")
    )
    t_env.create_temporary_view("scored", t_env.from_data_stream(scored))
    t_env.execute_sql(f"""
        CREATE TABLE scores (series STRING, original_ts STRING, v DOUBLE, score DOUBLE)
        WITH ('connector' = 'filesystem', 'path' = '{(out / "scores").resolve().as_uri()}', 'format' = 'json')
    """)
    t_env.execute_sql("INSERT INTO scores SELECT series, original_ts, v, score FROM scored").wait()


def _windows(labels: dict, key: str) -> list[tuple[datetime, datetime]]:
    return [(parse_ts(a), parse_ts(b)) for a, b in labels.get(key, [])]


def summarize(series: list[Series], out: Path, labels: dict) -> dict:
    scores: dict[str, dict[str, float]] = {}
    for r in read_json_rows(out / "scores"):
        scores.setdefault(r["series"], {})[r["original_ts"]] = r["score"]
    per_series = []
    for s in track(series, len(series), "nab results"):
        windows = _windows(labels, s.key)
        target = out / "results" / s.key
        target.parent.mkdir(parents=True, exist_ok=True)
        alarms = []
        with target.open("w", newline="") as handle:
            w = csv.writer(handle)
            w.writerow(["timestamp", "value", "anomaly_score", "label"])
            for ts, value in s.rows:
                score = scores.get(s.key, {}).get(f"{ts:%Y-%m-%d %H:%M:%S}", 0.0)
                label = int(any(a <= ts <= b for a, b in windows))
                # Full precision: a rounded score ties rows the detector ranks apart.
                w.writerow([f"{ts:%Y-%m-%d %H:%M:%S}", value, repr(float(score)), label])
                if score >= ALARM:
                    alarms.append(ts)
        detected, delays = 0, []
        for a, b in windows:
            hits = [t for t in alarms if a <= t <= b]
            if hits:
                detected += 1
                delays.append((hits[0] - a).total_seconds() / 3600)
        outside = sorted(t for t in alarms if not any(a <= t <= b for a, b in windows))
        incidents = sum(1 for i, t in enumerate(outside) if i == 0 or t - outside[i - 1] > INCIDENT_GAP)
        days = max((s.rows[-1][0] - s.rows[0][0]).total_seconds() / 86400, 1e-9)
        per_series.append(
            {
                "series": s.key,
                "points": len(s.rows),
                # Rows the job scored: fewer than points would mean rows dropped (e.g. as late).
                "scored": sum(1 for ts, _ in s.rows if f"{ts:%Y-%m-%d %H:%M:%S}" in scores.get(s.key, {})),
                "windows": len(windows),
                "windows_detected": detected,
                "false_positive_incidents": incidents,
                "false_positives_per_day": round(incidents / days, 3),
                "delay_hours": [round(d, 2) for d in delays],
            }
        )
    total_windows = sum(p["windows"] for p in per_series)
    total_days = sum(
        (s.rows[-1][0] - s.rows[0][0]).total_seconds() / 86400 for s in series if len(s.rows) > 1
    )
    delays = [d for p in per_series for d in p["delay_hours"]]
    summary = {
        "series": len(series),
        "windows": total_windows,
        "windows_detected": sum(p["windows_detected"] for p in per_series),
        "window_recall": round(sum(p["windows_detected"] for p in per_series) / total_windows, 3)
        if total_windows
        else None,
        "false_positives_per_day": round(
            sum(p["false_positive_incidents"] for p in per_series) / total_days, 3
        ),
        "median_delay_hours": round(statistics.median(delays), 2) if delays else None,
        "per_series": per_series,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.nab", description=__doc__.split("\n")[0])
    parser.add_argument("--nab-dir", type=Path, required=True, help="NAB layout: data/ and labels/")
    parser.add_argument("--out", type=Path, help="default: <data_dir>/outputs/streaming/nab")
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument(
        "--report", type=Path, help="NAB-scored table (Markdown); default: <data_dir>/reports/nab/nab_eval.md"
    )
    args = parser.parse_args(argv)
    from python_jobs.config import load_settings

    settings = load_settings()
    out = (args.out or settings.data_dir / "outputs" / "streaming" / "nab").resolve()
    report = args.report or (
        out / "nab_eval.md" if args.out else settings.data_dir / "reports" / "nab" / "nab_eval.md"
    )
    labels_path = args.nab_dir / "labels" / "combined_windows.json"
    labels = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    series = load_series(args.nab_dir)
    if not series:
        parser.error(f"no series under {args.nab_dir / 'data'}")
    for name in ("scores", "alerts", "replay", "results"):  # alerts/: written by the former CEP job
        _clear(out / name)
    points = write_replay(series, out / "replay" / "points.csv")
    started = time.perf_counter()
    run_detector(
        out / "replay",
        out,
        FlinkOptions(
            parallelism=args.parallelism, checkpoint_dir=out / "_checkpoints", checkpoint_interval_ms=2000
        ),
    )
    seconds = time.perf_counter() - started
    summary = summarize(series, out, labels)
    print(
        f"{summary['series']} series, {points:,} points in {seconds:.1f}s ({points / seconds:,.0f} points/s): "
        f"{summary['windows_detected']}/{summary['windows']} labelled windows detected, "
        f"{summary['false_positives_per_day']} false positives/day, median delay {summary['median_delay_hours']} h"
    )
    # NAB's own scoring of the same result files, beside the baselines and the published reference detectors.
    scored = nab_eval.run(args.nab_dir, out / "results", report, print_json=False)
    print(f"NAB-scored table: {report}")
    print(json.dumps({**{k: v for k, v in summary.items() if k != "per_series"}, "nab_score": scored}))
    return 0


def _clear(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
