"""One simulated day through the SQL job, as a pipeline step: generate the day's sensor stream, replay it.

    python -m streaming.day --day 2026-01-05 [--day 2026-01-06 ...] --data-dir data [--scale 1 | --sensors 3]

Writes `<data>/streaming/input/<day>/` (events, dimension, truth) and `<data>/outputs/streaming/<day>/sql/`
(windows, anomalies, dead_letters, ...). Loading into `raw` is the next step and runs in the main environment:
`python -m python_jobs.ingest output --table sensor_windows --day <day> --format json <out>/windows`.

The pipeline loads three of the SQL job's outputs (windows, anomalies, dead letters: streaming.files.SENSOR_LOADS),
so by default the day's replay runs only those parts; the materialized view and the latency probe (a changelog
row and a Python UDF call per event) are the streaming lab's to show. `--parts` chooses others.

A finished replay leaves `_REPLAYED.json` beside its outputs: the stream's spec and a digest of the streaming
code. Running the same day again with the same spec and code skips the job (a replay of the same day gives the
same rows: the outputs are already those rows); any other spec or code, or `--force`, replays it. The marker is
written last, by rename, so an interrupted replay never counts as done.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from python_jobs.config import load_settings
from streaming.files import SENSOR_LOADS, DayPaths, sensors_for_scale
from streaming.flink_env import FlinkOptions
from streaming.generator import StreamSpec, generate, write_replay
from streaming.sql_job import SqlJobConfig, run

LOADS = SENSOR_LOADS
MARKER = "_REPLAYED.json"


PIPELINE_PARTS = tuple(SENSOR_LOADS.values())


def replay_key(spec: StreamSpec, parallelism: int, parts: tuple[str, ...] = PIPELINE_PARTS) -> dict:
    """What decides a replay's rows: the stream's spec, the parts run and the code that generates and processes
    it."""
    code = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        code.update(path.name.encode() + b"\0" + path.read_bytes())
    return {"spec": json.loads(json.dumps(asdict(spec), default=str)), "parallelism": parallelism,
            "parts": list(parts), "code_sha256": code.hexdigest()}  # fmt: skip


def run_day(
    data_dir: Path,
    spec: StreamSpec,
    parallelism: int = 1,
    force: bool = False,
    parts: tuple[str, ...] = PIPELINE_PARTS,
) -> dict:
    paths = DayPaths.of(data_dir, spec.day)
    key = replay_key(spec, parallelism, parts)
    marker = paths.sql / MARKER
    if not force and marker.exists():
        done = json.loads(marker.read_text())
        if done.get("key") == key:
            return {**done["result"], "skipped": "already replayed with this spec and code"}
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
            parts=parts,
            options=FlinkOptions(parallelism=parallelism, checkpoint_dir=paths.sql / "_checkpoints"),
        )
    )
    shutil.rmtree(paths.sql / "_checkpoints", ignore_errors=True)
    result = {
        **result,
        "lines": len(stream.lines),
        "events_per_s": round(len(stream.lines) / result["seconds"]),
    }
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "result": result}, indent=2))
    os.replace(tmp, marker)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.day", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--day",
        required=True,
        action="append",
        help="YYYY-MM-DD or a day number (repeat it: one process replays every day)",
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=42)
    sensors = parser.add_mutually_exclusive_group()
    sensors.add_argument("--sensors", type=int, help="sensor count (default: from --scale)")
    sensors.add_argument("--scale", type=float, default=1.0, help="the pipeline's scale factor")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--force", action="store_true", help="replay even if this day is already replayed")
    parser.add_argument(
        "--parts",
        default=",".join(PIPELINE_PARTS),
        help="the SQL job's outputs to compute, comma-separated (default: the ones the pipeline loads; "
        "add state,latency for the materialized view and the latency probe)",
    )
    args = parser.parse_args(argv)
    # The project's one day convention (python_jobs/config.py is stdlib only, so this environment can read it).
    settings = load_settings()
    try:
        days = [settings.parse_day(day) for day in args.day]
    except ValueError as error:
        parser.error(f"--day: {error}")
    for day in days:
        spec = StreamSpec(
            day=day,
            seed=args.seed,
            sensors=args.sensors or sensors_for_scale(args.scale),
            hours=args.hours,
        )
        parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
        print(json.dumps(run_day(args.data_dir.resolve(), spec, force=args.force, parts=parts)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
