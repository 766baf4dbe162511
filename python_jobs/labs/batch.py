"""`make lab-batch SIZE=1GB`: every batch engine on the same orders data, one after another, each measured.

The dataset (orders + order lines, clean: bad_share 0, 3 days, scale = SIZE / 1 MB) is generated once per size
and cached under data/lab-batch/<SIZE>/. Each engine runs in a fresh process (`python -m python_jobs.batch engine
NAME`); wall time, CPU time and peak RSS are of its whole process tree (a Spark JVM or Ray workers count).
Outputs are checked against DuckDB's by checksum. Report: data/reports/batch/lab-<SIZE>.{md,json,png}.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from python_jobs.batch.canonical import summarise_all
from python_jobs.benchmarks.measure import Measurement, measure
from python_jobs.config import REPO_ROOT, TELEMETRY_OFF, load_settings

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()

DEFAULT_ENGINES = (
    "spark-df",
    "spark-sql",
    "spark-rdd",
    "pandas",
    "pandas-chunked",
    "duckdb",
    "polars",
    "modin",
)
DAYS = 3
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(MB|GB)$", re.IGNORECASE)


def parse_size(size: str) -> int:
    match = _SIZE.match(size.strip())
    if not match:
        raise typer.BadParameter(f"SIZE like 100MB, 1GB or 10GB, got {size!r}")
    return int(float(match.group(1)) * (10**6 if match.group(2).upper() == "MB" else 10**9))


def dataset(size: str, data_root: Path) -> Path:
    """Generate (once) the clean landing data of `size`; returns its data folder."""
    scale = (
        parse_size(size) / 1e6
    )  # ~330 kB of orders + lines per day at scale 1, 3 days: ~1 MB per scale unit
    folder = data_root / size.upper()
    last = folder / "truth" / load_settings({}).day_date(DAYS).isoformat() / "summary.json"
    if last.exists():
        summary = json.loads(last.read_text())
        if summary.get("scale") == scale and summary.get("bad_share") == 0:
            return folder
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    console.print(f"generating {size} (scale {scale:g}, {DAYS} days, no bad lines) into {folder}")
    result = measure(
        [
            sys.executable,
            "-m",
            "python_jobs.generate",
            "days",
            "--days",
            str(DAYS),
            "--scale",
            f"{scale:g}",
            "--bad-share",
            "0",
            "--data-dir",
            str(folder),
        ],
        cwd=REPO_ROOT,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(result.output[-3000:])
    return folder


_COMPRESSED = {"zstd", "lz4", "lzf", "snappy"}


def spilled_bytes(event_log_dir: Path, app_id: str | None) -> int | None:
    """Memory spilled to disk by Spark's tasks, from the event log (the engine reports it per task)."""
    if not app_id:
        return None
    # Spark 4 writes rolling event logs: a folder eventlog_v2_<app id>/ holding events_<n>_<app id> files.
    # Compressed logs (Spark's default before the session turned it off) are not read: spill unknown.
    logs = [p for p in event_log_dir.rglob(f"*{app_id}*") if p.is_file() and p.suffix[1:] not in _COMPRESSED]
    total = 0
    for log in logs:
        with log.open() as handle:
            for line in handle:
                if '"SparkListenerTaskEnd"' in line:
                    metrics = json.loads(line).get("Task Metrics") or {}
                    total += int(metrics.get("Disk Bytes Spilled", 0))
    return total if logs else None


def spark_env(input_bytes: int) -> dict[str, str]:
    """Spark settings sized to the input (a user's GROCERY_SPARK_* variables win).

    Local mode runs the executors inside the driver JVM, so the driver's heap is the whole engine's memory: 2 GiB
    (the pipeline's default, for a few MB a day) would spill most of a 10 GB aggregation. Shuffle partitions: one
    per ~64 MiB of CSV, so a task's share of a shuffle fits in memory; AQE coalesces the ones left small.
    """
    return {
        "GROCERY_SPARK_DRIVER_MEMORY": "12g",
        "GROCERY_SPARK_SHUFFLE_PARTITIONS": str(max(8, round(input_bytes / (64 * 2**20)))),
    }


def _run_engine(
    name: str,
    data_dir: Path,
    out: Path,
    event_logs: Path,
    max_memory_gib: float,
    input_bytes: int,
    timeout_seconds: float | None,
) -> Measurement:
    command = [
        sys.executable,
        "-m",
        "python_jobs.batch",
        "engine",
        name,
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
    ]
    if name in ("pandas", "pandas-chunked"):
        command += ["--max-memory-gib", str(max_memory_gib)]
    env = {
        **spark_env(input_bytes),
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "GROCERY_SPARK_EVENT_LOG_DIR": str(event_logs),
        **TELEMETRY_OFF,
    }
    return measure(command, cwd=REPO_ROOT, env=env, poll_seconds=0.2, timeout_seconds=timeout_seconds)


def engine_status(m: Measurement, result: dict) -> str:
    """What became of one engine's run, in the report's words."""
    if m.timed_out:
        return f"stopped at the {m.wall_seconds:.0f} s limit"
    if m.returncode == 0:
        return "ok"
    if result.get("error") == "out of memory" or m.returncode in (-9, 137):
        return "out of memory"
    return f"failed ({m.returncode})"


@app.command()
def main(
    size: Annotated[
        str, typer.Option(help="Input size: 100MB .. 10GB (orders + order lines CSV).")
    ] = "100MB",
    engines: Annotated[str, typer.Option(help="Comma-separated engines, in run order.")] = ",".join(
        DEFAULT_ENGINES
    ),
    max_memory_gib: Annotated[
        float,
        typer.Option(
            help="Address-space cap of the pandas engines (a clean MemoryError instead of the OOM killer)."
        ),
    ] = 20.0,
    engine_timeout_s: Annotated[
        float,
        typer.Option(
            help="Stop an engine after this many seconds (0: never); its time is then recorded as a lower bound."
        ),
    ] = 0.0,
) -> None:
    """Generate (once) and run every engine at SIZE; write the Markdown report and the PNG chart."""
    settings = load_settings()
    data_dir = dataset(size, settings.data_dir / "lab-batch")
    reports = settings.reports_dir / "batch"
    runs = settings.data_dir / "lab-batch" / "runs" / size.upper()
    event_logs = settings.data_dir / "spark-events"
    shutil.rmtree(runs, ignore_errors=True)
    from python_jobs.batch.semantics import input_bytes, landing_days

    total = input_bytes(data_dir / "landing", landing_days(data_dir / "landing"))
    rows: list[dict] = []
    load = os.getloadavg()
    if engines == ",".join(DEFAULT_ENGINES):
        command = f"make lab-batch SIZE={size}"
        command += f" ENGINE_TIMEOUT_S={engine_timeout_s:g}" if engine_timeout_s else ""
    else:
        command = f"python -m python_jobs.labs.batch --size {size} --engines {engines}"
        command += f" --engine-timeout-s {engine_timeout_s:g}" if engine_timeout_s else ""
    stem = reports / f"lab-{size.upper()}"

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        for name in [e.strip() for e in engines.split(",") if e.strip()]:
            task = progress.add_task(f"{name} on {size}", total=None)
            box: dict[str, Measurement] = {}
            worker = threading.Thread(
                target=lambda n=name, b=box: b.setdefault(
                    "m",
                    _run_engine(
                        n, data_dir, runs / n, event_logs, max_memory_gib, total, engine_timeout_s or None
                    ),
                )
            )
            worker.start()
            while worker.is_alive():
                progress.refresh()
                time.sleep(0.5)
            m = box["m"]
            result = _engine_result(m.output)
            status = engine_status(m, result)
            row = {
                "engine": name,
                "ok": status == "ok",
                "status": status,
                "timed_out": m.timed_out,
                "wall_s": round(m.wall_seconds, 2),
                "cpu_s": round(m.cpu_seconds, 2),
                "peak_rss_mib": round(m.peak_rss_mib, 1),
                "spilled_bytes": result.get(
                    "spilled_bytes", spilled_bytes(event_logs, result.get("spark_app_id"))
                ),
            }
            if row["ok"]:
                summaries = summarise_all(runs / name)
                row["rows"] = sum(s.rows for s in summaries.values())
                row["checksum"] = "-".join(s.checksum[-8:] for s in summaries.values())
            else:
                (reports).mkdir(parents=True, exist_ok=True)
                _with_ext(stem, f"-{name}.log").write_text(m.output[-20000:])
            rows.append(row)
            # After every engine, not only at the end: a lab stopped hours in keeps what it measured.
            write_report(rows, size, total, load, stem, command)
            progress.update(
                task,
                description=f"{name}: {row['status']} in {row['wall_s']:.1f}s, peak {row['peak_rss_mib']:.0f} MiB",
            )
            progress.stop_task(task)
            shutil.rmtree(runs / name, ignore_errors=True) if name != "duckdb" else None
    shutil.rmtree(runs, ignore_errors=True)
    table = Table(title=f"batch lab, {size} ({total / 1e9:.2f} GB of CSV)")
    for col in (
        "engine",
        "status",
        "wall s",
        "x DuckDB",
        "CPU s",
        "peak RSS MiB",
        "spilled",
        "rows",
        "equal",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["engine"],
            r["status"],
            f"{_at_least(r)}{r['wall_s']:.1f}",
            f"{_at_least(r)}{r['x_duckdb']}",
            f"{r['cpu_s']:.1f}",
            f"{r['peak_rss_mib']:.0f}",
            _bytes(r["spilled_bytes"]),
            str(r.get("rows", "")),
            str(r["equal"]),
        )
    console.print(table)
    console.print(f"report: {_with_ext(stem, '.md')}  chart: {_with_ext(stem, '.png')}")


def _with_ext(stem: Path, ext: str) -> Path:
    """`stem` + `ext`. Not Path.with_suffix: for a size like 0.5GB the stem `lab-0.5GB` has a "suffix" (.5GB),
    which with_suffix would replace, writing lab-0.md."""
    return stem.with_name(stem.name + ext)


def write_report(
    rows: list[dict], size: str, total: int, load: tuple[float, ...], stem: Path, command: str
) -> None:
    """Ratios to DuckDB, then the report of the rows so far: `stem`.json, .md and .png."""
    reference = next((r for r in rows if r["engine"] == "duckdb" and r["ok"]), None)
    for r in rows:
        # A stopped engine took at least its limit: its ratio is a lower bound (the report prints it as ≥).
        measured = r["ok"] or r.get("timed_out")
        r["x_duckdb"] = round(r["wall_s"] / reference["wall_s"], 2) if reference and measured else None
        r["equal"] = (r.get("checksum") == reference.get("checksum")) if reference and r["ok"] else None
    meta = {
        "size": size.upper(),
        "input_bytes": total,
        "command": command,
        "when": datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "spark": {k: os.environ.get(k, v) for k, v in spark_env(total).items()},
    }
    stem.parent.mkdir(parents=True, exist_ok=True)
    _with_ext(stem, ".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    _with_ext(stem, ".md").write_text(markdown(meta, rows))
    chart(rows, _with_ext(stem, ".png"), meta)


def _engine_result(output: str) -> dict:
    for line in reversed(output.splitlines()):
        if line.startswith("ENGINE_RESULT "):
            return json.loads(line.removeprefix("ENGINE_RESULT "))
    return {}


def _bytes(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:,.0f} MiB"


def _at_least(row: dict) -> str:
    return "≥ " if row.get("timed_out") else ""


def markdown(meta: dict, rows: list[dict]) -> str:
    lines = [
        f"### {meta['size']} ({meta['input_bytes'] / 1e9:.2f} GB of orders + order-lines CSV, {DAYS} days)",
        "",
        f"`{meta['command']}` — {meta['when']}, {meta['cpus']} CPUs, load average before/after: "
        f"{meta['load_before'][0]} / {meta['load_after'][0]}; Spark: "
        + ", ".join(f"{k}={v}" for k, v in meta.get("spark", {}).items()),
        "",
        "| engine | status | wall s | x DuckDB | CPU s | peak RSS MiB | spilled | output rows | same as DuckDB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['engine']} | {r['status']} | {_at_least(r)}{r['wall_s']:.1f} | "
            f"{(_at_least(r) + str(r['x_duckdb'])) if r['x_duckdb'] is not None else '-'} | "
            f"{r['cpu_s']:.1f} | {r['peak_rss_mib']:,.0f} | {_bytes(r['spilled_bytes'])} | {r.get('rows', '-')} | "
            f"{'yes' if r['equal'] else ('-' if r['equal'] is None else 'NO')} |"
        )
    return "\n".join(lines) + "\n"


def chart(rows: list[dict], path: Path, meta: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["engine"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.barh(names, [r["wall_s"] for r in rows], color=["tab:blue" if r["ok"] else "tab:red" for r in rows])
    left.set_xlabel("wall time, s")
    right.barh(names, [r["peak_rss_mib"] / 1024 for r in rows], color="tab:orange")
    right.set_xlabel("peak RSS of the process tree, GiB")
    for ax in (left, right):
        ax.invert_yaxis()
    fig.suptitle(f"batch lab {meta['size']} ({meta['input_bytes'] / 1e9:.2f} GB CSV), {meta['cpus']} CPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    app()
