"""Throughput of the SQL path and the cost of each Python UDF, on generated days (a benchmark, not a test).

    python -m streaming.benchmark --sensors 48 --hours 24 [--variants full,goal,...] [--out results.json]

Every variant runs twice, each time in a fresh process: on the first half of the day and on the whole day.
A job's time (submit to finish) includes a fixed cost (JVM already up, but planning, Python workers, the final
checkpoint) that a short replay would mistake for slowness, so the figure that counts is the marginal rate:
(events of the whole day - events of the half) / (time of the whole day - time of the half). The machine's
load average is printed with every row: on a busy machine figures are only comparable within one run. The CPU
seconds of each job's processes (JVM and Python workers, `sql_job.tree_cpu_seconds`) are printed too: they
depend far less on what else runs, and their half-to-whole difference is the CPU cost of an event.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from python_jobs.config import REPO_ROOT
from streaming.generator import StreamSpec, generate, write_replay

NO_UDF = ["--no-scalar-udf", "--no-pandas-udf"]
GOAL_PARTS = ["--parts", "windows,anomalies,dead_letters"]
# The goal path as it was before issue 20 part 5: SPLIT_INDEX/TRY_CAST parse, no object reuse, patterns over
# every reading. Each later step is the previous variant with one change.
BEFORE = ["--parse", "sql", "--no-object-reuse", "--patterns-on", "events", "--hop-from", "events"]
FAST_30S = [*GOAL_PARTS, "--udfs", "sql", "--join-on", "minutes", "--checkpoint-interval-ms", "30000"]
# name → (description, sql_job flags)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "full": ("full job: windows + CEP + join + DLQ + view + latency probe, both UDFs", []),
    "goal": (
        "windows + CEP + join + DLQ (the goal's SQL path), both UDFs: fast parse, object reuse, CEP on minutes, "
        "hop from the minutes",
        GOAL_PARTS,
    ),
    "goal-hop-events": (
        "goal path as after the first part-5 steps: the hop over every reading",
        [*GOAL_PARTS, "--hop-from", "events"],
    ),
    "goal-sql-udfs": (
        "goal path, calibration (a join with the device offsets) and z-score in SQL (same outputs, no Python worker)",
        [*GOAL_PARTS, "--udfs", "sql"],
    ),
    "goal-fast": (
        "goal-sql-udfs + the store joined to the window rows, not to every reading (differs at a move)",
        [*GOAL_PARTS, "--udfs", "sql", "--join-on", "minutes"],
    ),
    "goal-fast-checkpoint-30s": (
        "goal-fast with a checkpoint every 30 s instead of 2 s (the replay's dedup state is snapshotted whole)",
        FAST_30S,
    ),
    "goal-fast-event-time-dedup": (
        "goal-fast-checkpoint-30s with the dedup per minute (keys dropped when the minute closes; same rows)",
        [*FAST_30S, "--dedup", "event-time"],
    ),
    "goal-no-udf": ("windows + CEP + join + DLQ, no Python UDF", [*GOAL_PARTS, *NO_UDF]),
    "goal-before": (
        "goal path before part 5: sql parse, no object reuse, CEP on readings",
        [*GOAL_PARTS, *BEFORE],
    ),
    "goal-object-reuse": (
        "goal-before + object reuse",
        [*GOAL_PARTS, "--parse", "sql", "--patterns-on", "events", "--hop-from", "events"],
    ),
    "goal-fast-parse": (
        "goal-before + object reuse + fast parse",
        [*GOAL_PARTS, "--patterns-on", "events", "--hop-from", "events"],
    ),
    "no-pandas-udf": ("full job without the pandas UDF", ["--no-pandas-udf"]),
    "no-scalar-udf": ("full job without the scalar UDF", ["--no-scalar-udf"]),
    "no-udf": ("full job without Python UDFs", NO_UDF),
    "udf-per-event": ("full job, calibration UDF on every reading", ["--calibrate-on", "events"]),
    "periodic-watermarks": ("full job, periodic watermarks (200 ms)", ["--watermark-interval-ms", "200"]),
    "watermark-step": ("full job, watermark in 10 s event-time steps", ["--watermark-step-s", "10"]),
    "goal-watermark-step": (
        "windows + CEP + join + DLQ, both UDFs, watermark in 10 s steps",
        [*GOAL_PARTS, "--watermark-step-s", "10"],
    ),
    "windows-no-udf": ("windows only, no Python UDF", ["--parts", "windows", *NO_UDF]),
    "windows-scalar-udf": (
        "windows only, scalar UDF on the windows",
        ["--parts", "windows", "--no-pandas-udf"],
    ),
    "windows-udf-per-event": (
        "windows only, scalar UDF on every reading",
        ["--parts", "windows", "--no-pandas-udf", "--calibrate-on", "events"],
    ),
}
# (ratio name, variant with the UDF, variant without it)
RATIOS = [
    ("scalar UDF on windows (windows only)", "windows-scalar-udf", "windows-no-udf"),
    ("scalar UDF on every reading (windows only)", "windows-udf-per-event", "windows-no-udf"),
    ("scalar UDF (full job)", "full", "no-scalar-udf"),
    ("pandas UDF (full job)", "full", "no-pandas-udf"),
    ("both UDFs (full job)", "full", "no-udf"),
    ("UDF on every reading vs on windows (full job)", "udf-per-event", "full"),
]


def _run_job(input_dir: Path, out: Path, parallelism: int, flags: list[str]) -> dict:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "streaming.sql_job", "--input", str(input_dir), "--out", str(out)),
            *("--parallelism", str(parallelism), *flags),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--sensors", type=int, default=48)
    parser.add_argument("--hours", type=float, default=24.0, help="the whole day; the half is hours / 2")
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated: {', '.join(VARIANTS)}"
    )
    parser.add_argument("--out", type=Path, help="JSON results (default: print only)")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    work = Path(tempfile.mkdtemp(prefix="stream-bench-"))
    try:
        spec = StreamSpec(day=date(2026, 1, 5), sensors=args.sensors, hours=args.hours)
        inputs = {}
        for label, hours in (("half", args.hours / 2), ("whole", args.hours)):
            stream = generate(replace(spec, hours=hours))
            write_replay(stream, work / label)
            inputs[label] = (work / label, len(stream.lines))
        (_, half_lines), (_, whole_lines) = inputs["half"], inputs["whole"]
        print(f"input: {half_lines:,} and {whole_lines:,} lines, {args.sensors} sensors", file=sys.stderr)
        results = []
        for i, name in enumerate(names, 1):
            description, flags = VARIANTS[name]
            print(f"[{i}/{len(names)}] {description} ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            jobs = {
                label: _run_job(folder, work / f"out-{name}-{label}", args.parallelism, flags)
                for label, (folder, _) in inputs.items()
            }
            seconds = {label: float(job["seconds"]) for label, job in jobs.items()}
            cpu = {label: job.get("cpu_seconds") for label, job in jobs.items()}
            marginal = (whole_lines - half_lines) / max(seconds["whole"] - seconds["half"], 1e-3)
            results.append(
                {
                    "variant": name,
                    "description": description,
                    "lines": whole_lines,
                    "job_seconds": seconds["whole"],
                    "job_seconds_half": seconds["half"],
                    "events_per_s_whole_job": round(whole_lines / seconds["whole"]),
                    "events_per_s_marginal": round(marginal),
                    # CPU of the job's processes (JVM, Python workers): what the job costs, whatever else runs.
                    "cpu_seconds": cpu["whole"],
                    "cpu_seconds_half": cpu["half"],
                    "cpu_us_per_event_marginal": (
                        round((cpu["whole"] - cpu["half"]) / (whole_lines - half_lines) * 1e6, 1)
                        if None not in cpu.values()
                        else None
                    ),
                    "submit_seconds": jobs["whole"].get("submit_seconds"),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "wall_seconds_both_runs": round(time.monotonic() - started, 1),
                }
            )
            print(json.dumps(results[-1]), flush=True)
        by_name = {r["variant"]: r for r in results}
        ratios = {
            label: round(
                by_name[with_udf]["events_per_s_marginal"] / by_name[without]["events_per_s_marginal"], 2
            )
            for label, with_udf, without in RATIOS
            if with_udf in by_name and without in by_name
        }
        summary = {"throughput_ratio_with_vs_without": ratios, "cpus": os.cpu_count()}
        print(json.dumps(summary))
        print(_markdown(results, ratios), file=sys.stderr)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"results": results, **summary}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _markdown(results: list[dict], ratios: dict[str, float]) -> str:
    lines = [
        "| variant | job s (half / whole day) | events/s whole job | events/s marginal | CPU s (half / whole) "
        "| CPU µs/event marginal | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['description']} | {r['job_seconds_half']:.1f} / {r['job_seconds']:.1f} | "
        f"{r['events_per_s_whole_job']:,} | {r['events_per_s_marginal']:,} | "
        f"{r['cpu_seconds_half']} / {r['cpu_seconds']} | {r['cpu_us_per_event_marginal']} | {r['load_average_1m']} |"
        for r in results
    ]
    lines += ["", "| UDF | throughput with / without |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in ratios.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
