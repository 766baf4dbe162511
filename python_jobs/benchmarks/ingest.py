"""`make bench-ingest`: ingest throughput and peak RSS as the landing files grow.

For each scale it generates simulated day 1 once (cached under data/bench/ingest/), then loads it into a fresh
warehouse in a fresh process and reports wall time, rows/s, MB/s and the peak RSS of that process. Peak RSS
should stay flat while the files grow: that is the point of the chunked pattern.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from python_jobs.benchmarks.measure import measure
from python_jobs.config import REPO_ROOT, load_settings

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()


def _landing_bytes(data_dir: Path) -> tuple[int, int]:
    files = list((data_dir / "landing").rglob("*.csv"))
    biggest = max((f.stat().st_size for f in files), default=0)
    return sum(f.stat().st_size for f in files), biggest


@app.command()
def main(
    scales: Annotated[str, typer.Option(help="Comma-separated scale factors.")] = "10,300,1000,6000",
    chunk_rows: Annotated[int, typer.Option(help="Ingest chunk size.")] = 100_000,
) -> None:
    """Generate day 1 at each scale (cached) and measure its ingest."""
    settings = load_settings()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    rows = []
    for scale in [float(s) for s in scales.split(",")]:
        data_dir = settings.data_dir / "bench" / "ingest" / f"scale-{scale:g}"
        summary = data_dir / "truth" / settings.day_date(1).isoformat() / "summary.json"
        if not summary.exists():
            console.print(f"generating day 1 at scale {scale:g} …")
            gen = measure(
                [
                    sys.executable,
                    "-m",
                    "python_jobs.generate",
                    "day",
                    "--day",
                    "1",
                    "--scale",
                    str(scale),
                    "--data-dir",
                    str(data_dir),
                ],
                cwd=REPO_ROOT,
                env=env,
            )
            if gen.returncode != 0:
                raise SystemExit(gen.output)
        warehouse = data_dir / "warehouse.duckdb"
        warehouse.unlink(missing_ok=True)
        shutil.rmtree(data_dir / "tmp", ignore_errors=True)
        console.print(f"ingesting scale {scale:g} …")
        run = measure(
            [
                sys.executable,
                "-m",
                "python_jobs.ingest",
                "day",
                "--day",
                "1",
                "--data-dir",
                str(data_dir),
                "--chunk-rows",
                str(chunk_rows),
            ],
            cwd=REPO_ROOT,
            env=env,
        )
        if run.returncode != 0:
            raise SystemExit(run.output)
        con = duckdb.connect(str(warehouse), read_only=True)
        (rows_read,) = con.execute("SELECT sum(rows_read) FROM ingest.load_manifest").fetchone()
        con.close()
        total, biggest = _landing_bytes(data_dir)
        rows.append(
            {
                "scale": scale,
                "landing_mb": total / 1e6,
                "largest_file_mb": biggest / 1e6,
                "rows": int(rows_read),
                "seconds": run.wall_seconds,
                "rows_per_s": rows_read / run.wall_seconds,
                "mb_per_s": total / 1e6 / run.wall_seconds,
                "peak_rss_mib": run.peak_rss_mib,
            }
        )

    table = Table(title=f"ingest benchmark (chunk_rows={chunk_rows:,}, {os.cpu_count()} cores)")
    for col in (
        "scale",
        "landing MB",
        "largest file MB",
        "rows",
        "seconds",
        "rows/s",
        "MB/s",
        "peak RSS MiB",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            f"{r['scale']:g}",
            f"{r['landing_mb']:,.0f}",
            f"{r['largest_file_mb']:,.0f}",
            f"{r['rows']:,}",
            f"{r['seconds']:.1f}",
            f"{r['rows_per_s']:,.0f}",
            f"{r['mb_per_s']:.1f}",
            f"{r['peak_rss_mib']:,.0f}",
        )
    console.print(table)
    report = settings.reports_dir / "bench-ingest.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(rows, indent=2))
    console.print(f"figures: {report}")


if __name__ == "__main__":
    app()
