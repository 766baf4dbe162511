"""Judge the jobs' committed output against the generator's ground truth (pure Python: no Flink needed).

- exactly-once: the clean-event output against the unique genuine events (duplicates, losses, strangers);
- late events: the side output against the events the generator delayed behind any watermark;
- dead letters: count and reason per malformed line;
- detector: alerts grouped into incidents per sensor; an incident is a true positive when it falls inside an
  injected anomaly (with a grace period after its end: silence is only certain once it is over);
  precision = true incidents / incidents, recall = anomalies hit / anomalies, delay = first hit - start.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from streaming.files import committed_files

GRACE = timedelta(minutes=15)
INCIDENT_GAP = timedelta(minutes=30)
# Flink's csv/json writers print TIMESTAMP(3) without trailing zero millis; both spellings occur.
_TS_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S")
MALFORMED_REASON = {
    "bad_timestamp": "bad_timestamp",
    "bad_temperature": "bad_temperature",
    "wrong_field_count": "wrong_field_count",
    "garbage": "wrong_field_count",
}


def parse_ts(value: str) -> datetime:
    for fmt in _TS_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ValueError(f"not a timestamp: {value!r}")


def read_lines(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return [line for f in committed_files(folder) for line in f.read_text().splitlines() if line]


def read_json_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in read_lines(folder)]


def read_truth(input_dir: Path, name: str) -> list[dict]:
    with (input_dir / "truth" / name).open() as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class Alert:
    sensor_id: str
    kind: str
    start: datetime
    detected_at: datetime


def alerts_from_outputs(out: Path) -> list[Alert]:
    alerts = [
        Alert(r["sensor_id"], r["kind"], parse_ts(r["start_time"]), parse_ts(r["detected_at"]))
        for r in read_json_rows(out / "anomalies")
    ]
    for line in read_lines(out / "silent"):
        sensor, since, detected = line.split(",")
        alerts.append(Alert(sensor, "silent_timer", parse_ts(since), parse_ts(detected)))
    return alerts


def incidents(alerts: list[Alert]) -> list[list[Alert]]:
    """Consecutive alerts of one sensor less than INCIDENT_GAP apart are one incident (one page to on-call)."""
    grouped: list[list[Alert]] = []
    for alert in sorted(alerts, key=lambda a: (a.sensor_id, a.detected_at)):
        last = grouped[-1] if grouped else None
        if (
            last
            and last[-1].sensor_id == alert.sensor_id
            and alert.detected_at - last[-1].detected_at < INCIDENT_GAP
        ):
            last.append(alert)
        else:
            grouped.append([alert])
    return grouped


def detector_scores(truth: list[dict], alerts: list[Alert]) -> dict:
    anomalies = [(r["sensor_id"], r["kind"], parse_ts(r["start"]), parse_ts(r["end"])) for r in truth]

    def hits(alert: Alert) -> list[int]:
        return [
            i
            for i, (sensor, _, start, end) in enumerate(anomalies)
            if sensor == alert.sensor_id and start <= alert.detected_at <= end + GRACE
        ]

    groups = incidents(alerts)
    true_incidents = sum(1 for g in groups if any(hits(a) for a in g))
    first_hit: dict[int, datetime] = {}
    for alert in alerts:
        for i in hits(alert):
            first_hit[i] = min(first_hit.get(i, alert.detected_at), alert.detected_at)
    delays = {i: (t - anomalies[i][2]).total_seconds() / 60 for i, t in first_hit.items()}
    by_kind: dict[str, dict[str, int]] = {}
    for i, (_, kind, _, _) in enumerate(anomalies):
        entry = by_kind.setdefault(kind, {"injected": 0, "detected": 0})
        entry["injected"] += 1
        entry["detected"] += int(i in first_hit)
    return {
        "anomalies": len(anomalies),
        "detected": len(first_hit),
        "incidents": len(groups),
        "true_incidents": true_incidents,
        "precision": round(true_incidents / len(groups), 3) if groups else None,
        "recall": round(len(first_hit) / len(anomalies), 3) if anomalies else None,
        "delay_minutes_median": round(statistics.median(delays.values()), 1) if delays else None,
        "delay_minutes_max": round(max(delays.values()), 1) if delays else None,
        "by_kind": by_kind,
    }


def exactly_once(input_dir: Path, out: Path) -> dict:
    expected = {int(r["event_id"]) for r in read_truth(input_dir, "events.csv")}
    seen = Counter(int(line.split(",", 1)[0]) for line in read_lines(out / "clean"))
    return {
        "expected": len(expected),
        "rows": sum(seen.values()),
        "duplicates": sum(n - 1 for n in seen.values() if n > 1),
        "lost": len(expected - seen.keys()),
        "unexpected": len(seen.keys() - expected),
    }


def late_events(input_dir: Path, out: Path) -> dict:
    expected = {int(r["event_id"]) for r in read_truth(input_dir, "events.csv") if r["late"] == "1"}
    routed = Counter(int(line.split(",", 1)[0]) for line in read_lines(out / "late"))
    return {
        "injected_late": len(expected),
        "side_output": sum(routed.values()),
        "injected_and_routed": len(expected & routed.keys()),
        "routed_but_not_injected": len(routed.keys() - expected),
    }


def dead_letters(input_dir: Path, out: Path) -> dict:
    expected = Counter(
        (r["raw_line"], MALFORMED_REASON[r["kind"]]) for r in read_truth(input_dir, "malformed.csv")
    )
    got = Counter((r["raw_payload"], r["reason"]) for r in read_json_rows(out / "dead_letters"))
    return {
        "injected": sum(expected.values()),
        "dead_lettered": sum(got.values()),
        "matching_payload_and_reason": sum((expected & got).values()),
        "by_reason": dict(Counter(reason for _, reason in got.elements())),
    }


def latency(out: Path) -> dict:
    rows = [line.split(",") for line in read_lines(out / "latency")]
    values = sorted(
        (parse_ts(done.strip('"')) - parse_ts(published.strip('"'))).total_seconds() * 1000
        for _, published, done in rows
    )
    if not values:
        return {"samples": 0}
    return {
        "samples": len(values),
        "p50_ms": round(values[len(values) // 2]),
        "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))]),
    }


def evaluate(input_dir: Path, out: Path, ds_out: Path | None = None) -> dict:
    ds_out = ds_out or out
    report = {
        "detector": detector_scores(
            read_truth(input_dir, "anomalies.csv"), alerts_from_outputs(out) + _silent_only(ds_out, out)
        ),
        "dead_letters": dead_letters(input_dir, out),
    }
    if (out / "alarms").exists():
        # One alarm row per incident of the SQL job's alerts: the row-level output agrees with the count.
        report["alarm_rows"] = {
            "alarms": len(read_lines(out / "alarms")),
            "anomaly_rows": len(read_lines(out / "anomalies")),
            "incidents": len(incidents(alerts_from_outputs(out))),
        }
    if (ds_out / "clean").exists():
        report["exactly_once"] = exactly_once(input_dir, ds_out)
        report["late"] = late_events(input_dir, ds_out)
    return report


def _silent_only(ds_out: Path, out: Path) -> list[Alert]:
    if ds_out == out:
        return []
    return (
        [a for a in alerts_from_outputs(ds_out) if a.kind == "silent_timer"]
        if (ds_out / "silent").exists()
        else []
    )
