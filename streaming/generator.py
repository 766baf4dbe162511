"""Seeded cold-chain sensor stream: freezers in stores and refrigerated vans, with the faults a real feed has.

`python -m streaming.generator replay --day 2026-01-05 --out DIR` writes one day as a bounded replay;
`python -m streaming.generator live --out DIR --rate 2000` appends the same stream as small files at a rate, for
Flink's monitoring file source. Both write the ground truth first (`truth/`), so every figure can be checked.

Line format (no header, Flink's csv/raw formats read no header):
`event_id,sensor_id,device_id,event_time,temperature,door_open,battery`, event_time `YYYY-MM-DD HH:MM:SS.mmm`
(naive UTC as the sensor's clock reports it). Bad input is always an *extra* line (corrupted copy, duplicate),
never a corrupted genuine event, so "unique genuine events" is the exact expected output of a clean job.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from streaming.progress import Progress

ANOMALY_KINDS = ("compressor_failure", "door_open", "flatline", "silent")
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
MALFORMED_KINDS = ("bad_timestamp", "bad_temperature", "wrong_field_count", "garbage")


@dataclass(frozen=True)
class StreamSpec:
    day: date
    seed: int = 42
    sensors: int = 12
    interval_s: int = 10
    hours: float = 24.0
    stores: int = 4
    max_delay_s: float = 10.0
    late_share: float = 0.002
    duplicate_share: float = 0.005
    malformed_share: float = 0.002
    skewed_sensors: int = 2
    anomalies_per_sensor: float = 0.75
    moves: int = 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, datetime.min.time())


@dataclass(frozen=True)
class Anomaly:
    sensor_id: str
    kind: str
    start: datetime
    end: datetime


@dataclass
class Stream:
    """One generated day: lines in arrival order, plus everything needed to judge a job's output."""

    lines: list[str]
    arrival_s: np.ndarray
    truth_events: list[tuple]
    anomalies: list[Anomaly]
    malformed: list[tuple[str, str]]
    dimension: list[tuple[str, int, str, str]]
    calibration: dict[str, float]
    summary: dict


def fmt_ts(value: datetime) -> str:
    return value.strftime(TS_FORMAT)[:-3]


def _sensor_layout(spec: StreamSpec, rng: np.random.Generator) -> list[dict]:
    sensors = []
    for i in range(spec.sensors):
        kind = "van" if i % 3 == 2 else "freezer"
        sensors.append(
            {
                "sensor_id": f"S{i + 1:02d}",
                "device_id": f"{'VAN' if kind == 'van' else 'FRZ'}-{i + 1:02d}",
                "kind": kind,
                "store_id": int(i % spec.stores) + 1,
                # Each device reads a little high or low: the calibration UDF removes this bias.
                "bias": round(float(rng.uniform(-0.5, 0.5)), 2),
                "skew_s": 0.0,
            }
        )
    for s in rng.choice(len(sensors), size=min(spec.skewed_sensors, len(sensors)), replace=False):
        # Skew stays inside the watermark bound: a sensor whose clock is minutes off is a data-quality
        # incident (all its events late), not something a watermark should hide.
        sensors[int(s)]["skew_s"] = round(float(rng.choice([-1, 1]) * rng.uniform(5, 15)), 1)
    return sensors


def _plan_anomalies(spec: StreamSpec, sensors: list[dict], rng: np.random.Generator) -> list[Anomaly]:
    count = round(spec.anomalies_per_sensor * len(sensors))
    horizon = spec.hours * 3600
    anomalies: list[Anomaly] = []
    busy: dict[str, list[tuple[float, float]]] = {}
    for n in range(count):
        kind = ANOMALY_KINDS[n % len(ANOMALY_KINDS)]
        duration = {
            "compressor_failure": (45, 90),
            "door_open": (15, 30),
            "flatline": (30, 60),
            "silent": (20, 45),
        }[kind]
        for _ in range(50):
            sensor = sensors[int(rng.integers(len(sensors)))]
            length = float(rng.uniform(*duration)) * 60
            # Leave room before (a baseline) and after (recovery) inside the generated horizon.
            if horizon < length + 7200:
                break
            start = float(rng.uniform(1800, horizon - length - 1800))
            spans = busy.setdefault(sensor["sensor_id"], [])
            if all(start > e + 3600 or start + length + 3600 < s for s, e in spans):
                spans.append((start, start + length))
                anomalies.append(
                    Anomaly(
                        sensor["sensor_id"],
                        kind,
                        spec.start + timedelta(seconds=round(start)),
                        spec.start + timedelta(seconds=round(start + length)),
                    )
                )
                break
    return sorted(anomalies, key=lambda a: (a.start, a.sensor_id))


def _signal(
    spec: StreamSpec, sensor: dict, t: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """True temperature and door state at seconds-of-day `t` (before anomalies)."""
    hours = t / 3600
    door = np.zeros(len(t), dtype=np.int8)
    # AR(1) drift plus white noise: neighbouring readings are correlated like a real thermal mass.
    drift = np.zeros(len(t))
    shocks = rng.normal(0, 0.04, len(t))
    for i in range(1, len(t)):
        drift[i] = 0.97 * drift[i - 1] + shocks[i]
    noise = drift + rng.normal(0, 0.05, len(t))
    if sensor["kind"] == "freezer":
        temp = -18.5 + 0.6 * np.sin(2 * np.pi * (hours - 15) / 24)
        # Defrost every 8 hours: a short, expected bump the detector must not flag.
        phase = (t + 3600 * (int(sensor["sensor_id"][1:]) % 8)) % (8 * 3600)
        temp += np.where(phase < 900, 1.2 * (1 - np.abs(phase - 450) / 450), 0.0)
        opens_per_hour, open_s = 4, (10, 60)
    else:
        temp = 3.5 + 1.2 * np.sin(2 * np.pi * (hours - 14) / 24)
        opens_per_hour, open_s = 2, (60, 180)
    open_hours = (hours >= 7) & (hours < 21)
    n_opens = rng.poisson(opens_per_hour * spec.hours * 14 / 24)
    for start in rng.uniform(0, spec.hours * 3600, n_opens):
        if not 7 <= start / 3600 < 21:
            continue
        length = rng.uniform(*open_s)
        inside = (t >= start) & (t < start + length) & open_hours
        door[inside] = 1
        after = t >= start
        # Warm air in while open, then the unit pulls it back down over ~5 minutes.
        bump = np.clip((np.minimum(t, start + length) - start) / 60, 0, None) * 0.3
        decay = np.exp(-np.clip(t - start - length, 0, None) / 300)
        temp += np.where(after, bump * decay, 0.0)
    return temp + noise, door


def generate(spec: StreamSpec) -> Stream:
    rng = np.random.default_rng([spec.seed, spec.day.toordinal()])
    sensors = _sensor_layout(spec, rng)
    anomalies = _plan_anomalies(spec, sensors, rng)
    horizon = spec.hours * 3600
    day_prefix = int(spec.day.strftime("%Y%m%d")) * 10_000_000
    records: list[tuple] = []
    for sensor in sensors:
        t = np.arange(0, horizon, spec.interval_s, dtype=float) + rng.uniform(0, spec.interval_s)
        temp, door = _signal(spec, sensor, t, rng)
        keep = np.ones(len(t), dtype=bool)
        for a in anomalies:
            if a.sensor_id != sensor["sensor_id"]:
                continue
            s0 = (a.start - spec.start).total_seconds()
            s1 = (a.end - spec.start).total_seconds()
            inside = (t >= s0) & (t < s1)
            if a.kind == "compressor_failure":
                temp[inside] += np.minimum((t[inside] - s0) / 60 * 0.35, 15)
            elif a.kind == "door_open":
                door[inside] = 1
                temp[inside] += (t[inside] - s0) / 60 * 0.25
            elif a.kind == "flatline":
                temp[inside] = round(float(temp[np.argmax(inside)]), 2)
            elif a.kind == "silent":
                keep &= ~inside
        battery = 3.6 - t / horizon * 0.02 + rng.normal(0, 0.005, len(t))
        for i in np.flatnonzero(keep):
            records.append((sensor, float(t[i]), round(float(temp[i]), 2), int(door[i]), float(battery[i])))
    records.sort(key=lambda r: (r[1], r[0]["sensor_id"]))

    lines: list[str] = []
    arrivals: list[float] = []
    truth: list[tuple] = []
    malformed: list[tuple[str, str]] = []
    n = len(records)
    delays = np.minimum(rng.exponential(spec.max_delay_s / 4, n), spec.max_delay_s)
    late = rng.random(n) < spec.late_share
    # Late means behind any reasonable watermark: 10-30 minutes, far past window + bound + allowed lateness
    # (and past the few minutes a Python operator's bundle can hold the watermark back).
    delays[late] = rng.uniform(600, 1800, int(late.sum()))
    dup = rng.random(n) < spec.duplicate_share
    bad = rng.random(n) < spec.malformed_share
    bad_kind = rng.integers(0, len(MALFORMED_KINDS), n)
    for i, (sensor, t_true, temp, door_state, battery) in enumerate(records):
        event_id = day_prefix + i + 1
        reported = spec.start + timedelta(seconds=t_true + sensor["skew_s"])
        reading = round(temp + sensor["bias"], 2)
        line = (
            f"{event_id},{sensor['sensor_id']},{sensor['device_id']},{fmt_ts(reported)},"
            f"{reading:.2f},{door_state},{battery:.3f}"
        )
        arrival = t_true + delays[i]
        lines.append(line)
        arrivals.append(arrival)
        truth.append(
            (
                event_id,
                sensor["sensor_id"],
                fmt_ts(reported),
                fmt_ts(spec.start + timedelta(seconds=t_true)),
                temp,
                door_state,
                int(late[i]),
                int(dup[i]),
            )
        )
        if dup[i]:
            lines.append(line)
            arrivals.append(arrival + float(rng.uniform(1, 120)))
        if bad[i]:
            kind = MALFORMED_KINDS[int(bad_kind[i])]
            fields = line.split(",")
            if kind == "bad_timestamp":
                fields[3] = fields[3].replace("-", "/", 1)[:-4] + "Z"
            elif kind == "bad_temperature":
                fields[4] = "err"
            elif kind == "wrong_field_count":
                fields = fields[:5]
            else:
                fields = ["#" + "".join(rng.choice(list("abcdef0123456789"), 24))]
            bad_line = ",".join(fields)
            lines.append(bad_line)
            arrivals.append(arrival + float(rng.uniform(0, 5)))
            malformed.append((bad_line, kind))

    order = np.argsort(np.asarray(arrivals), kind="stable")
    lines = [lines[i] for i in order]
    arrival_s = np.asarray(arrivals)[order]

    dimension = [
        (s["sensor_id"], s["store_id"], s["kind"], fmt_ts(spec.start - timedelta(days=1))) for s in sensors
    ]
    movable = [s for s in sensors if s["kind"] == "van"] or sensors
    for m in range(spec.moves):
        sensor = movable[m % len(movable)]
        when = spec.start + timedelta(seconds=round(float(rng.uniform(0.3, 0.7)) * horizon))
        new_store = sensor["store_id"] % spec.stores + 1
        dimension.append((sensor["sensor_id"], new_store, sensor["kind"], fmt_ts(when)))
    summary = {
        "day": spec.day.isoformat(),
        "spec": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(spec).items()},
        "lines": len(lines),
        "genuine_events": n,
        "duplicates": int(dup.sum()),
        "late_events": int(late.sum()),
        "malformed": len(malformed),
        "anomalies": len(anomalies),
        "skew_s": {s["sensor_id"]: s["skew_s"] for s in sensors if s["skew_s"]},
    }
    return Stream(
        lines,
        arrival_s,
        truth,
        anomalies,
        malformed,
        dimension,
        {s["device_id"]: s["bias"] for s in sensors},
        summary,
    )


def write_truth(stream: Stream, out: Path) -> None:
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    with (truth / "events.csv").open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(
            ["event_id", "sensor_id", "event_time", "true_time", "temperature", "door_open", "late", "dup"]
        )
        w.writerows(stream.truth_events)
    with (truth / "anomalies.csv").open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["sensor_id", "kind", "start", "end"])
        w.writerows((a.sensor_id, a.kind, fmt_ts(a.start), fmt_ts(a.end)) for a in stream.anomalies)
    with (truth / "malformed.csv").open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["raw_line", "kind"])
        w.writerows(stream.malformed)
    (truth / "summary.json").write_text(json.dumps(stream.summary, indent=2))
    dim = out / "dim"
    dim.mkdir(parents=True, exist_ok=True)
    (dim / "sensor_dim.csv").write_text("".join(f"{s},{st},{k},{v}\n" for s, st, k, v in stream.dimension))
    (out / "calibration.json").write_text(json.dumps(stream.calibration, indent=2, sort_keys=True))


def write_replay(stream: Stream, out: Path) -> Path:
    """Bounded replay: one file, so read order is arrival order (a directory of files has no order)."""
    write_truth(stream, out)
    events = out / "events"
    events.mkdir(parents=True, exist_ok=True)
    target = events / "events-000000.csv"
    tmp = events / ".events-000000.csv.tmp"
    tmp.write_text("\n".join(stream.lines) + "\n")
    os.replace(tmp, target)
    return target


def write_live(stream: Stream, out: Path, rate: float, files_per_second: float = 4.0) -> dict[str, float]:
    """Append the stream as small files at `rate` lines/s; returns each file's publish wall-clock time."""
    write_truth(stream, out)
    events = out / "events"
    events.mkdir(parents=True, exist_ok=True)
    chunk = max(1, round(rate / files_per_second))
    published: dict[str, float] = {}
    bar = Progress(len(stream.lines), "live")
    started = time.perf_counter()
    for n, first in enumerate(range(0, len(stream.lines), chunk)):
        part = stream.lines[first : first + chunk]
        due = started + first / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        name = f"events-{n:06d}.csv"
        # Write hidden, then rename: Flink's file source skips names starting with '.', so it never reads
        # a half-written file.
        tmp = events / f".{name}.tmp"
        tmp.write_text("\n".join(part) + "\n")
        os.replace(tmp, events / name)
        published[name] = time.time()
        bar.advance(len(part))
    bar.close()
    (out / "truth" / "published.json").write_text(json.dumps(published))
    return published


def _spec_from_args(args: argparse.Namespace) -> StreamSpec:
    return StreamSpec(
        day=date.fromisoformat(args.day),
        seed=args.seed,
        sensors=args.sensors,
        interval_s=args.interval,
        hours=args.hours,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.generator", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("replay", "live"):
        p = sub.add_parser(mode, help=f"{mode} mode")
        p.add_argument("--day", default="2026-01-05", help="simulated day (YYYY-MM-DD)")
        p.add_argument("--seed", type=int, default=42)
        p.add_argument("--sensors", type=int, default=12)
        p.add_argument("--interval", type=int, default=10, help="seconds between readings per sensor")
        p.add_argument("--hours", type=float, default=24.0, help="hours of the day to generate")
        p.add_argument("--out", type=Path, required=True, help="output folder")
        if mode == "live":
            p.add_argument("--rate", type=float, default=2000.0, help="lines per second")
    args = parser.parse_args(argv)
    stream = generate(_spec_from_args(args))
    if args.mode == "replay":
        path = write_replay(stream, args.out)
        print(json.dumps({"events_file": str(path), **stream.summary}))
    else:
        write_live(stream, args.out, args.rate)
        print(json.dumps(stream.summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
