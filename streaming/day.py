"""One simulated day through the SQL job, as a pipeline step: generate the day's sensor stream, replay it.

    python -m streaming.day --day 2026-01-05 --data-dir data [--sensors 3]

Writes `<data>/streaming/input/<day>/` (events, dimension, truth) and `<data>/outputs/streaming/<day>/sql/`
(windows, anomalies, dead_letters, ...). Loading into `raw` is the next step and runs in the main environment:
`python -m python_jobs.ingest output --table sensor_windows --date <day> --format json <out>/windows`.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from streaming.flink_env import FlinkOptions
from streaming.generator import StreamSpec, generate, write_replay
from streaming.sql_job import SqlJobConfig, run

# raw table ← output folder of the SQL job (all json lines)
LOADS = {"sensor_windows": "windows", "sensor_anomalies": "anomalies", "sensor_dead_letters": "dead_letters"}


@dataclass(frozen=True)
class DayPaths:
    input: Path
    sql: Path
    ds: Path

    @classmethod
    def of(cls, data_dir: Path, day: date) -> DayPaths:
        out = data_dir / "outputs" / "streaming" / day.isoformat()
        return cls(data_dir / "streaming" / "input" / day.isoformat(), out / "sql", out / "ds")


def run_day(data_dir: Path, spec: StreamSpec, parallelism: int = 1) -> dict:
    paths = DayPaths.of(data_dir, spec.day)
    # A re-run replaces the day: stale part files would otherwise be loaded a second time.
    for folder in (paths.input, paths.sql):
        shutil.rmtree(folder, ignore_errors=True)
    stream = generate(spec)
    write_replay(stream, paths.input)
    result = run(
        SqlJobConfig(
            events=paths.input / "events",
            dim=paths.input / "dim",
            calibration=paths.input / "calibration.json",
            out=paths.sql,
            options=FlinkOptions(parallelism=parallelism, checkpoint_dir=paths.sql / "_checkpoints"),
        )
    )
    shutil.rmtree(paths.sql / "_checkpoints", ignore_errors=True)
    return {
        **result,
        "lines": len(stream.lines),
        "events_per_s": round(len(stream.lines) / result["seconds"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.day", description=__doc__.split("\n")[0])
    parser.add_argument("--day", required=True, help="YYYY-MM-DD")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sensors", type=int, default=3)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args(argv)
    spec = StreamSpec(
        day=date.fromisoformat(args.day), seed=args.seed, sensors=args.sensors, hours=args.hours
    )
    print(json.dumps(run_day(args.data_dir.resolve(), spec)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
