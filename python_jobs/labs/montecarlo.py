"""`make lab-montecarlo SIZE=1e7 FIT_SIZE=1GB`: the stock-out Monte Carlo on every engine, side by side.

One run measures, on pools and clusters opened once (start-up timed apart): paths/s of NumPy, processes, Ray
tasks, Ray actors and Dask at growing N (1e5 .. SIZE paths) and two chunk sizes, their speedup over NumPy and
parallel efficiency, results compared bit for bit; each engine's empty-task overhead and the chunk size below
which parallelism loses, with Amdahl's law through the measured speedups; NumPy's generator alone drawing the
kernel's variates (the physical limit); the peak RSS of each engine's process tree; the estimate ± standard
error against the closed form as N grows; and the demand fit out of core: Dask under a worker memory limit
smaller than the data (FIT_SIZE), beside pandas and DuckDB. Report: data/reports/montecarlo/ (Markdown, JSON,
PNGs, Dask's performance report and task graph), replaced only when the lab finishes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from python_jobs.cli_support import progress_bar
from python_jobs.compute.engines import ENGINES, SimulationJob
from python_jobs.config import ComputeSettings, load_settings
from python_jobs.labs import montecarlo_bench as bench
from python_jobs.labs import montecarlo_fit as fitlab

app = typer.Typer(help=__doc__, add_completion=False)
# A log file (nohup) gets wide tables, not the 80 columns rich assumes off a terminal.
console = Console(width=None if sys.stdout.isatty() else 150)

_COUNT = re.compile(r"^(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmM]?)$")
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*(MB|GB|MIB|GIB)$", re.IGNORECASE)
TARGETS = {"best_speedup": 1.8, "efficiency": 0.9, "ray_dask_speedup": 1.6, "rng_share": 0.5, "fit_gib": 3.0}


def parse_count(text: str) -> int:
    match = _COUNT.match(text.strip())
    if not match:
        raise typer.BadParameter(f"a number of paths like 1e7, 3M or 250k, got {text!r}")
    return int(float(match.group(1)) * {"": 1, "k": 10**3, "m": 10**6}[match.group(2).lower()])


def parse_bytes(text: str) -> int:
    match = _BYTES.match(text.strip())
    if not match:
        raise typer.BadParameter(f"a size like 4MB, 1GB or 700MiB, got {text!r}")
    unit = {"mb": 10**6, "gb": 10**9, "mib": 2**20, "gib": 2**30}[match.group(2).lower()]
    return int(float(match.group(1)) * unit)


def growing_sizes(largest: int) -> list[int]:
    sizes, n = [], 100_000
    while n < largest:
        sizes.append(n)
        n *= 10
    return [*sizes, largest]


def fit_memory_limit(data_bytes: int, workers: int) -> str:
    """Per worker: below the data in total (so it cannot all be held), at most 700 MiB, at least 400 MiB (a
    worker's own pandas + pyarrow + distributed take ~150 MiB before any data)."""
    per_worker = int(0.8 * data_bytes / workers / 2**20)
    return f"{min(700, max(400, per_worker))}MiB"


@app.command()
def main(
    size: Annotated[
        str, typer.Option(help="The largest N (paths, all series together): 1e5 .. 1e8.")
    ] = "1e7",
    workers: Annotated[
        int, typer.Option(help="Workers of every parallel engine (default: this machine's cores).")
    ] = 0,
    engines: Annotated[str, typer.Option(help="Comma-separated engines (NumPy always runs).")] = ",".join(
        ENGINES
    ),
    chunks: Annotated[
        str, typer.Option(help="Chunk sizes (paths per task; multiples of 4096).")
    ] = "16384,131072",
    fit_size: Annotated[
        str, typer.Option(help="Order history for the out-of-core fit (Arrow bytes): 4MB .. 10GB.")
    ] = "1GB",
    fit_memory: Annotated[
        str, typer.Option(help="Memory limit of each Dask worker in the fit (default: auto).")
    ] = "",
    pandas_memory_gib: Annotated[
        float, typer.Option(help="Address-space cap of the pandas fit's process.")
    ] = 4.0,
    repeats: Annotated[int, typer.Option(help="Runs of each measurement; the best counts.")] = 2,
    fit: Annotated[bool, typer.Option(help="Run the out-of-core fit.")] = True,
    dashboards: Annotated[
        bool, typer.Option(help="Start Ray's and Dask's dashboards and print their URLs.")
    ] = True,
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default: data/reports/montecarlo).")
    ] = None,
) -> None:
    """Run every measurement, print the tables, write the report (replacing the previous one only at the end)."""
    settings = load_settings()
    workers = workers or os.cpu_count() or 2
    largest = parse_count(size)
    chunk_sizes = [parse_count(c) for c in chunks.split(",") if c.strip()]
    chosen = [e.strip() for e in engines.split(",") if e.strip()]
    compute = ComputeSettings(workers=workers, dashboards=dashboards)
    reports = out or settings.reports_dir / "montecarlo"
    staging = reports.parent / f".{reports.name}-staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    load_before = os.getloadavg()
    command = f"make lab-montecarlo SIZE={size} FIT_SIZE={fit_size}"
    if chosen != list(ENGINES) or workers != (os.cpu_count() or 2) or not fit:
        command = (
            f"python -m python_jobs.labs.montecarlo --size {size} --workers {workers} --engines {engines}"
        )
        command += f" --fit-size {fit_size}" if fit else " --no-fit"
    console.print(
        f"[bold]Monte Carlo lab[/]: N up to {largest:,} paths, {workers} workers, engines {', '.join(chosen)}"
    )

    with progress_bar(console) as progress:

        def run_with_bar(engine: str, job: SimulationJob, backend: bench.Backend) -> list:
            n = len(job.tasks())
            label = f"{engine:<10} N={job.spec.paths * len(job.series):>11,} chunk={job.chunk_paths:>7,}"
            task = progress.add_task(label, total=n)
            results = backend(dataclasses.replace(job, progress=lambda k: progress.advance(task, k)))
            progress.update(task, completed=n)
            return results

        results = bench.run_engines(
            chosen,
            growing_sizes(largest),
            chunk_sizes,
            compute,
            run_with_bar,
            progress.console.print,
            crossover_paths=min(largest, 2**17),
            crossover_chunks=[c for c in (256, 1024, 4096, 16384) if c * 8 <= min(largest, 2**17)],
            repeats=repeats,
        )
        progress.console.print("random generator alone, one core ...")
        limit = bench.rng_limit(min(largest, 2_000_000), repeats)
        conv = bench.convergence(min(largest, 1_000_000))
        fits: list[fitlab.FitRun] = []
        history = None
        if fit:
            history = fitlab.ensure_history(
                settings.data_dir / "labs" / "montecarlo", fit_size.upper(), parse_bytes(fit_size), 42
            )
            run_dir = settings.data_dir / "labs" / "montecarlo" / "runs"
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
            limit_each = fit_memory or fit_memory_limit(history.memory_bytes, workers)
            progress.console.print(
                f"fit: {history.memory_bytes / 2**30:.2f} GiB in memory ({history.disk_bytes / 2**30:.2f} GiB "
                f"Parquet, {history.rows:,} rows); Dask workers {workers} x {limit_each}"
            )
            fits.append(
                fitlab.fit_with_dask(history, run_dir, staging, compute, limit_each, progress.console.print)
            )
            total_limit_gib = workers * parse_bytes(limit_each) / 2**30
            for engine in ("pandas", "duckdb"):
                progress.console.print(f"fit: {engine} ...")
                cap = pandas_memory_gib if engine == "pandas" else round(total_limit_gib, 2)
                fits.append(fitlab.fit_in_child(engine, history, run_dir, cap, workers))
            fitlab.compare_params(run_dir, fits)
            shutil.rmtree(run_dir, ignore_errors=True)

    meta = {
        "command": command,
        "when": datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "workers": workers,
        "repeats": repeats,
        "largest": largest,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    summary = summarise(results, limit, conv, fits, history, meta)
    write_report(staging, results, limit, conv, fits, summary)
    publish(staging, reports)
    print_tables(summary)
    console.print(f"report: {reports / 'report.md'}")


def summarise(
    results: bench.EngineResults,
    limit: bench.RngLimit,
    conv: bench.Convergence,
    fits: list[fitlab.FitRun],
    history: fitlab.History | None,
    meta: dict,
) -> dict:
    """Every figure the report and the console print, from the raw measurements (also written as JSON)."""
    w = results.workers
    largest = max(r.paths for r in results.runs)
    # The baseline: NumPy's best at the largest N, whatever its chunk (one core does not care about chunks; the
    # best of its runs is the least disturbed by the machine's other work).
    numpy_best = min(r.seconds for r in results.runs if r.engine == "numpy" and r.paths == largest)
    engines = []
    for name in dict.fromkeys(r.engine for r in results.runs):
        at_largest = [r for r in results.runs if r.engine == name and r.paths == largest]
        best = min(at_largest, key=lambda r: r.seconds)
        speedup = numpy_best / best.seconds
        over = next((o for o in results.overheads if o.engine == name), None)
        cross = [r for r in results.crossover_runs if r.engine == name]
        numpy_cross = {r.chunk_paths: r for r in results.crossover_runs if r.engine == "numpy"}
        cross_points = [(r.chunk_paths, numpy_cross[r.chunk_paths].seconds / r.seconds) for r in cross]
        numpy_rate = min(numpy_cross.values(), key=lambda r: r.seconds).paths_per_s if numpy_cross else 0.0
        engines.append(
            {
                "engine": name,
                "memory": ENGINES[name].memory,
                "startup_s": round(results.startup_s.get(name, 0.0), 2),
                "paths_per_s": round(best.paths_per_s),
                "best_chunk": best.chunk_paths,
                "speedup": round(speedup, 2),
                "efficiency": round(speedup / w, 2) if name != "numpy" else 1.0,
                "serial_fraction": None
                if name == "numpy"
                else bench.amdahl_serial_fraction([(1, 1.0), (w, speedup)]),
                "round_trip_ms": round(over.round_trip_s * 1e3, 3) if over else None,
                "per_task_ms": round(over.per_task_s * 1e3, 3) if over else None,
                "crossover_measured": None if name == "numpy" else bench.measured_crossover(cross_points),
                "crossover_model": None
                if name == "numpy" or not over
                else bench.model_crossover_chunk(over.per_task_s, numpy_rate, w),
                "crossover_points": cross_points,
                "peak_rss_mib": round(results.peak_rss_mib.get(name, 0.0)),
                "by_size": {
                    f"{r.paths}/{r.chunk_paths}": round(r.paths_per_s)
                    for r in results.runs
                    if r.engine == name
                },
            }
        )
    by_name = {e["engine"]: e for e in engines}
    parallel = [e for e in engines if e["engine"] != "numpy"]
    best_parallel = max(parallel, key=lambda e: e["speedup"], default=None)
    numpy_rate = by_name["numpy"]["paths_per_s"]
    share = numpy_rate / limit.demand_paths_per_s
    dask_fit = next((f for f in fits if f.engine == "dask"), None)
    targets = []
    if best_parallel:
        targets.append(
            (
                f"best parallel engine ≥ {TARGETS['best_speedup']}x NumPy at N={largest:,} "
                f"(efficiency ≥ {TARGETS['efficiency']})",
                f"{best_parallel['engine']} {best_parallel['speedup']}x, efficiency {best_parallel['efficiency']}",
                best_parallel["speedup"] >= TARGETS["best_speedup"],
            )
        )
    for name in ("ray-tasks", "dask"):
        if name in by_name:
            s = by_name[name]["speedup"]
            targets.append(
                (f"{name} ≥ {TARGETS['ray_dask_speedup']}x NumPy", f"{s}x", s >= TARGETS["ray_dask_speedup"])
            )
    targets.append(
        (
            f"simulation ≥ {TARGETS['rng_share']:.0%} of the generator's throughput per core",
            f"{share:.0%}",
            share >= TARGETS["rng_share"],
        )
    )
    if dask_fit and history:
        total = meta["workers"] * fitlab_limit_bytes(dask_fit.memory_limit)
        targets.append(
            (
                f"Dask fit of 10 GB with total worker memory ≤ {TARGETS['fit_gib']:g} GiB",
                f"{history.memory_bytes / 1e9:.2f} GB with {total / 2**30:.2f} GiB: {dask_fit.status}",
                dask_fit.status == "ok"
                and total <= TARGETS["fit_gib"] * 2**30
                and history.memory_bytes >= 0.99 * 10e9,  # FIT_SIZE=10GB, in whole chunks of rows
            )
        )
    return {
        "meta": meta,
        "largest": largest,
        "identical": results.identical(),
        "engines": engines,
        "rng": dataclasses.asdict(limit) | {"simulation_share": round(share, 3)},
        "convergence": dataclasses.asdict(conv) | {"worst_z": round(conv.worst_z(), 2)},
        "fit": {
            "history": None
            if history is None
            else {
                "rows": history.rows,
                "memory_bytes": history.memory_bytes,
                "disk_bytes": history.disk_bytes,
                "files": len(history.files),
                "window": [history.window.first.isoformat(), history.window.last.isoformat()],
            },
            "runs": [f.row() for f in fits],
        },
        "targets": targets,
    }


def fitlab_limit_bytes(limit: str) -> int:
    """`2 x 700MiB` → bytes of one worker's limit."""
    return parse_bytes(limit.split("x")[-1].strip())


def write_report(
    staging: Path,
    results: bench.EngineResults,
    limit: bench.RngLimit,
    conv: bench.Convergence,
    fits: list[fitlab.FitRun],
    summary: dict,
) -> None:
    from python_jobs.labs import montecarlo_charts as charts

    charts.throughput(results, staging / "throughput.png")
    charts.amdahl_crossover(summary, results.workers, staging / "amdahl.png")
    charts.convergence(conv, staging / "convergence.png")
    (staging / "report.json").write_text(json.dumps(summary, indent=2, default=str))
    (staging / "report.md").write_text(markdown(summary))


def publish(staging: Path, reports: Path) -> None:
    """Move every file of the finished report into place, each by an atomic rename (report.md last); a lab
    killed before this point leaves the previous report whole."""
    reports.mkdir(parents=True, exist_ok=True)
    for path in sorted(staging.iterdir(), key=lambda p: p.name == "report.md"):
        os.replace(path, reports / path.name)
    staging.rmdir()


def _fmt(x: float | None, spec: str = ",.0f") -> str:
    return "-" if x is None else format(x, spec)


def _crossover(e: dict) -> str:
    """The measured crossover, or "> largest chunk" when parallelism lost at every chunk size measured."""
    if e["crossover_measured"] is None and e["engine"] != "numpy" and e["crossover_points"]:
        return f"> {max(c for c, _ in e['crossover_points']):,}"
    return _fmt(e["crossover_measured"])


def markdown(s: dict) -> str:
    m = s["meta"]
    lines = [
        f"# Monte Carlo lab, N up to {s['largest']:,} paths",
        "",
        f"`{m['command']}` — {m['when']}, {m['cpus']} CPUs, {m['workers']} workers, best of {m['repeats']} runs; "
        "load average before/after "
        f"{m['load_before'][0]} / {m['load_after'][0]} (other work on the machine distorts the figures).",
        "",
        f"**Bit-identical across engines: {'yes' if s['identical'] else 'NO'}** — every run's exact integer totals "
        "(paths, stock-outs, lost units and their squares, unit-days held, orders, the lost-units histogram) "
        "equal NumPy's at the same N, at every chunk size.",
        "",
        "## Engines at the largest N",
        "",
        "| engine | memory model | start-up s | paths/s | best chunk | speedup vs NumPy | efficiency | serial "
        "fraction (Amdahl) | empty task round trip ms | per task in bulk ms | crossover chunk measured / model "
        "| peak RSS of the tree MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in s["engines"]:
        lines.append(
            f"| {e['engine']} | {e['memory']} | {e['startup_s']:.2f} | {e['paths_per_s']:,} | {e['best_chunk']:,} | "
            f"{e['speedup']:.2f} | {e['efficiency']:.2f} | {_fmt(e['serial_fraction'], '.3f')} | "
            f"{_fmt(e['round_trip_ms'], '.3f')} | {_fmt(e['per_task_ms'], '.3f')} | "
            f"{_crossover(e)} / {_fmt(e['crossover_model'])} | {e['peak_rss_mib']:,} |"
        )
    sizes = sorted(
        {k for e in s["engines"] for k in e["by_size"]}, key=lambda k: tuple(map(int, k.split("/")))
    )
    lines += [
        "",
        "## paths/s by N and chunk size",
        "",
        "| N / chunk | " + " | ".join(e["engine"] for e in s["engines"]) + " |",
    ]
    lines.append("|---|" + "---:|" * len(s["engines"]))
    for k in sizes:
        n, c = map(int, k.split("/"))
        lines.append(
            f"| {n:,} / {c:,} | " + " | ".join(_fmt(e["by_size"].get(k)) for e in s["engines"]) + " |"
        )
    r = s["rng"]
    lines += [
        "",
        "## The physical limit: NumPy's generator on one core",
        "",
        f"Drawing the kernel's variates alone (the same gamma + Poisson draws, same seeds and block shapes, "
        f"{r['paths']:,} paths): {r['demand_paths_per_s']:,.0f} paths/s, {r['variates_per_s']:,.0f} variates/s; "
        f"uniform doubles: {r['uniform_per_s']:,.0f}/s. The whole simulation on one core (NumPy engine) reaches "
        f"**{r['simulation_share']:.0%}** of the generator's path rate; the rest is the (s, S) policy's own "
        "arithmetic. The two are measured minutes apart: on a busy machine the share can even read 100 %.",
        "",
        "## Convergence against the closed form",
        "",
        f"Poisson demand {s['convergence']['mean_daily']}/day against a fixed stock of {s['convergence']['stock']} "
        f"units (never reordered): exact stock-out probability {s['convergence']['exact_stockout']:.6f}, expected "
        f"lost units {s['convergence']['exact_lost']:.6f}. Largest |error| / SE: {s['convergence']['worst_z']}.",
        "",
        "| N | stock-out p ± SE | lost units ± SE |",
        "|---:|---|---|",
    ]
    for p in s["convergence"]["points"]:
        lines.append(
            f"| {p['paths']:,} | {p['stockout']:.5f} ± {p['stockout_se']:.5f} | {p['lost']:.4f} ± {p['lost_se']:.4f} |"
        )
    h = s["fit"]["history"]
    if h:
        lines += [
            "",
            "## The demand fit out of core",
            "",
            f"Order history: {h['rows']:,} rows, {h['memory_bytes'] / 2**30:.2f} GiB in memory (Arrow), "
            f"{h['disk_bytes'] / 2**30:.2f} GiB of Parquet in {h['files']} files; window {h['window'][0]} .. "
            f"{h['window'][1]}. Dask's performance report: `dask-fit-report.html`; its graph on two files: "
            "`dask-fit-graph.png`.",
            "",
            "| engine | status | wall s | peak RSS MiB | memory limit | spilled to disk | same parameters | note |",
            "|---|---|---:|---:|---|---:|---|---|",
        ]
        for f in s["fit"]["runs"]:
            spilled = "-" if f["spilled_bytes"] is None else f"{f['spilled_bytes'] / 2**20:,.1f} MiB"
            same = {True: "yes", False: "NO", None: "-"}[f["same_params"]]
            lines.append(
                f"| {f['engine']} | {f['status']} | {f['wall_s']:.1f} | {f['peak_rss_mib']:,.0f} | {f['memory_limit']} | "
                f"{spilled} | {same} | {f['note']} |"
            )
    lines += [
        "",
        "## Against the issue's targets (reported, not asserted)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for target, measured, met in s["targets"]:
        lines.append(f"| {target} | {measured} | {'yes' if met else 'no'} |")
    lines += ["", "Charts: `throughput.png`, `amdahl.png`, `convergence.png`.", ""]
    return "\n".join(lines)


def print_tables(s: dict) -> None:
    table = Table(title=f"engines at N={s['largest']:,} (bit-identical: {s['identical']})")
    for col in ("engine", "start s", "paths/s", "x NumPy", "eff.", "round trip ms", "crossover", "peak MiB"):
        table.add_column(col)
    for e in s["engines"]:
        table.add_row(
            e["engine"],
            f"{e['startup_s']:.1f}",
            f"{e['paths_per_s']:,}",
            f"{e['speedup']:.2f}",
            f"{e['efficiency']:.2f}",
            _fmt(e["round_trip_ms"], ".3f"),
            f"{_crossover(e)} / {_fmt(e['crossover_model'])}",
            f"{e['peak_rss_mib']:,}",
        )
    console.print(table)
    r = s["rng"]
    console.print(
        f"generator alone: {r['demand_paths_per_s']:,.0f} paths/s ({r['variates_per_s']:,.0f} variates/s; uniform "
        f"{r['uniform_per_s']:,.0f}/s); simulation share {r['simulation_share']:.0%}"
    )
    console.print(f"convergence: worst |error|/SE = {s['convergence']['worst_z']}")
    if s["fit"]["runs"]:
        fit_table = Table(title="fit out of core")
        for col in ("engine", "status", "wall s", "peak MiB", "limit", "spilled MiB", "same params"):
            fit_table.add_column(col)
        for f in s["fit"]["runs"]:
            spilled = "-" if f["spilled_bytes"] is None else f"{f['spilled_bytes'] / 2**20:,.1f}"
            fit_table.add_row(
                f["engine"],
                f["status"],
                f"{f['wall_s']:.1f}",
                f"{f['peak_rss_mib']:,.0f}",
                f["memory_limit"],
                spilled,
                str(f["same_params"]),
            )
        console.print(fit_table)
    for target, measured, met in s["targets"]:
        console.print(f"target {'met' if met else 'NOT met'}: {target}: {measured}")


if __name__ == "__main__":
    app()
