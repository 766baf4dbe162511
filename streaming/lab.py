"""`make lab-stream`: a generated day of cold-chain sensors through both Flink jobs, judged against the truth.

1. generate the day (seeded, with injected anomalies, late events, duplicates, bad lines, a sensor that moves);
2. bounded replay through the SQL job (windows, CEP, temporal join, view, DLQ) and the DataStream job (late
   side output, silence timers, exactly-once sinks): events/s;
3. live mode: the generator appends files at a rate while the SQL job monitors the folder: latency p50/p99
   (file published → row computed in Flink);
4. report: late and dead-lettered counts, exactly-once check, detector precision/recall/delay, a PNG
   (`<data>/reports/streaming/`), and the outputs loaded into `raw` by the spine's loader (main environment).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from python_jobs.config import REPO_ROOT, load_settings
from streaming.evaluate import evaluate, latency, parse_ts, read_json_rows
from streaming.files import SENSOR_LOADS as LOADS
from streaming.files import DayPaths
from streaming.generator import StreamSpec, generate, write_live, write_replay, write_truth

MAIN_PY = REPO_ROOT / ".venv" / "bin" / "python"


def _run(module: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"{module} failed:\n{proc.stderr[-4000:]}")
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def live_latency(spec: StreamSpec, folder: Path, seconds: float, rate: float) -> dict:
    """Run the SQL job on a monitored folder while the generator appends to it; kill it afterwards."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "input" / "events").mkdir(parents=True)
    stream = generate(spec)
    stream.lines = stream.lines[: int(seconds * rate)]
    # Dimension, calibration and truth exist before the job starts; events arrive while it runs.
    write_truth(stream, folder / "input")
    job = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streaming.sql_job",
            "--input",
            str(folder / "input"),
            "--out",
            str(folder / "out"),
            "--live",
            "--parts",
            "latency,anomalies",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        # Wait until the job is really running (its first checkpoint exists) before the clock starts.
        while not list((folder / "out" / "_checkpoints").glob("*/chk-*")) and time.monotonic() < deadline:
            time.sleep(0.5)
        write_live(stream, folder / "input", rate=rate)
        time.sleep(8)  # a few checkpoints: only committed rows count
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    result = latency(folder / "out")
    # Alerts carry wall-clock columns in live mode only: input file published → alert row computed.
    alerts = sorted(
        (parse_ts(a["emitted_at"]) - parse_ts(a["published_at"])).total_seconds() * 1000
        for a in read_json_rows(folder / "out" / "anomalies")
    )
    if alerts:
        result["alert_p50_ms"] = round(alerts[len(alerts) // 2])
        result["alerts"] = len(alerts)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.lab", description=__doc__.split("\n")[0])
    parser.add_argument("--day", default=None, help="simulated day (default: the first day)")
    parser.add_argument("--sensors", type=int, default=12)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--live-seconds", type=float, default=30.0, help="0 skips the live-mode run")
    parser.add_argument("--live-rate", type=float, default=1000.0, help="lines per second in live mode")
    parser.add_argument("--no-load", action="store_true", help="do not load the outputs into the warehouse")
    args = parser.parse_args(argv)
    settings = load_settings()
    day = date.fromisoformat(args.day) if args.day else settings.start_date
    spec = StreamSpec(day=day, seed=args.seed or settings.seed, sensors=args.sensors, hours=args.hours)
    paths = DayPaths.of(settings.data_dir, day)
    for folder in (paths.input, paths.sql, paths.ds):
        shutil.rmtree(folder, ignore_errors=True)

    print(f"[1/5] generating {spec.sensors} sensors x {spec.hours} h of {day} ...", flush=True)
    stream = generate(spec)
    write_replay(stream, paths.input)
    lines = len(stream.lines)

    print(f"[2/5] bounded replay of {lines:,} lines through the SQL job ...", flush=True)
    par = ["--parallelism", str(args.parallelism)]
    sql = _run("streaming.sql_job", "--input", str(paths.input), "--out", str(paths.sql), *par)
    print(f"      {sql['seconds']} s → {lines / sql['seconds']:,.0f} events/s", flush=True)
    print("[3/5] the same replay through the DataStream job ...", flush=True)
    ds = _run("streaming.datastream_job", "--input", str(paths.input), "--out", str(paths.ds), *par)
    print(f"      {ds['seconds']} s → {lines / ds['seconds']:,.0f} events/s", flush=True)

    live = {}
    if args.live_seconds > 0:
        print(f"[4/5] live mode: {args.live_rate:.0f} lines/s for {args.live_seconds:.0f} s ...", flush=True)
        live = live_latency(
            spec,
            settings.data_dir / "streaming" / "live" / day.isoformat(),
            args.live_seconds,
            args.live_rate,
        )

    report = evaluate(paths.input, paths.sql, paths.ds)
    report["throughput"] = {
        "lines": lines,
        "sql_job_seconds": sql["seconds"],
        "sql_events_per_s": round(lines / sql["seconds"]),
        "datastream_job_seconds": ds["seconds"],
        "datastream_events_per_s": round(lines / ds["seconds"]),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    report["live_latency"] = live

    reports = settings.reports_dir / "streaming"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / f"lab-{day}.json").write_text(json.dumps(report, indent=2))
    png = reports / f"lab-{day}.png"
    print("[5/5] figure and warehouse load (main environment) ...", flush=True)
    subprocess.run(
        [
            str(MAIN_PY),
            "-m",
            "streaming.plot",
            "--input",
            str(paths.input),
            "--sql",
            str(paths.sql),
            "--ds",
            str(paths.ds),
            "--out",
            str(png),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        check=True,
    )
    if not args.no_load:
        for table, folder in LOADS.items():
            subprocess.run(
                [
                    str(MAIN_PY),
                    "-m",
                    "python_jobs.ingest",
                    "output",
                    "--table",
                    table,
                    "--day",
                    day.isoformat(),
                    "--format",
                    "json",
                    "--data-dir",
                    str(settings.data_dir),
                    str(paths.sql / folder),
                ],
                cwd=REPO_ROOT,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                check=True,
            )

    d, t = report["detector"], report["throughput"]
    print()
    print(
        f"events/s          SQL job {t['sql_events_per_s']:,}   DataStream job {t['datastream_events_per_s']:,}"
        f"   (load average {t['load_average_1m']} on {t['cpus']} CPUs)"
    )
    if live.get("samples"):
        print(
            f"live latency      p50 {live['p50_ms']} ms   p99 {live['p99_ms']} ms   ({live['samples']} samples)"
        )
    print(
        f"late events       {report['late']['side_output']} to the side output "
        f"({report['late']['injected_late']} injected)"
    )
    print(
        f"dead letters      {report['dead_letters']['dead_lettered']} "
        f"({report['dead_letters']['injected']} injected) {report['dead_letters']['by_reason']}"
    )
    eo = report["exactly_once"]
    print(f"exactly-once      {eo['rows']:,} clean rows, {eo['duplicates']} duplicates, {eo['lost']} lost")
    print(
        f"detector          precision {d['precision']}  recall {d['recall']}  "
        f"delay median {d['delay_minutes_median']} min (max {d['delay_minutes_max']})  {d['by_kind']}"
    )
    if "alarm_rows" in report:
        a = report["alarm_rows"]
        print(
            f"alarm rows        {a['alarms']} (one per incident: {a['incidents']} incidents "
            f"from {a['anomaly_rows']} anomaly rows of the SQL job)"
        )
    print(f"report            {reports / f'lab-{day}.json'}\nfigure            {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
