"""Throughput of the SQL path and the cost of each Python UDF, on one generated day (a benchmark, not a test).

    python -m streaming.benchmark --sensors 12 --hours 24 [--parallelism 2]

Each variant is a fresh process (JVM start excluded: the figure is job time, submit to finish). The machine's
load average is printed with every row: on a shared machine the figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from python_jobs.config import REPO_ROOT
from streaming.generator import StreamSpec, generate, write_replay

VARIANTS = {
    "full job (windows + CEP + join + DLQ + view + UDFs)": [],
    "full job without the pandas UDF": ["--no-pandas-udf"],
    "full job without the scalar UDF": ["--no-scalar-udf"],
    "full job without Python UDFs": ["--no-scalar-udf", "--no-pandas-udf"],
    "full job, periodic watermarks (200 ms)": ["--watermark-interval-ms", "200"],
    "windows only, no Python UDF": ["--parts", "windows", "--no-scalar-udf", "--no-pandas-udf"],
    "windows only, scalar UDF": ["--parts", "windows", "--no-pandas-udf"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--sensors", type=int, default=12)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--out", type=Path, help="JSON results (default: print only)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="stream-bench-"))
    try:
        stream = generate(StreamSpec(day=date(2026, 1, 5), sensors=args.sensors, hours=args.hours))
        write_replay(stream, work / "input")
        lines = len(stream.lines)
        results = []
        for i, (name, flags) in enumerate(VARIANTS.items(), 1):
            print(f"[{i}/{len(VARIANTS)}] {name} ...", file=sys.stderr, flush=True)
            out = work / f"out-{i}"
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "streaming.sql_job",
                    "--input",
                    str(work / "input"),
                    "--out",
                    str(out),
                    "--parallelism",
                    str(args.parallelism),
                    *flags,
                ],
                cwd=REPO_ROOT,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise SystemExit(proc.stderr[-3000:])
            seconds = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
            results.append(
                {
                    "variant": name,
                    "lines": lines,
                    "seconds": seconds,
                    "events_per_s": round(lines / seconds),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                }
            )
            print(json.dumps(results[-1]), flush=True)
            shutil.rmtree(out, ignore_errors=True)
        base = {r["variant"]: r["seconds"] for r in results}
        ratios = {
            "scalar UDF (windows only)": round(
                base["windows only, scalar UDF"] / base["windows only, no Python UDF"], 2
            ),
            "both UDFs (full job)": round(
                base["full job (windows + CEP + join + DLQ + view + UDFs)"]
                / base["full job without Python UDFs"],
                2,
            ),
            "pandas UDF (full job)": round(
                base["full job (windows + CEP + join + DLQ + view + UDFs)"]
                / base["full job without the pandas UDF"],
                2,
            ),
        }
        print(json.dumps({"time_ratio_with_udf": ratios, "cpus": os.cpu_count()}))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"results": results, "time_ratio_with_udf": ratios}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
