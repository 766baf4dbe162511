"""`make lab-tuning SIZE=100MB`: the slow weekly report made faster fix by fix, each step measured.

The dataset: DAYS landing days from the generator (clean), scale chosen so the orders and lines CSV are about SIZE,
then the job's inputs prepared (python_jobs/tuning/inputs.py); both cached under data/labs/tuning/<SIZE>/. Every
variant runs in a fresh process (`python -m python_jobs.tuning run`), so each is its own Spark application with
its own event log; wall, CPU and peak RSS are of the whole process tree (python_jobs/benchmarks/measure.py).

Variants, in this order: the fixes added one at a time in the registry's order (slow first, tuned last: what each
fix adds on top), then each fix alone (what it is worth by itself), then the tuned job with each other storage
level of the cache fix, then the same report in DuckDB (the reference). A SIZE whose runs would not fit in this
machine's memory is refused before anything is generated. Report: data/reports/tuning/lab-<SIZE>[-<PLAN>].{md,json,png}
(tuning_report.py), replaced whole after every run, so a lab stopped part-way (Ctrl-C, SIGTERM, a killed run)
keeps what it measured and marks the rest.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import psutil
import typer
from rich.console import Console

from python_jobs.batch.atomic import write_atomic
from python_jobs.benchmarks.measure import Measurement, measure
from python_jobs.cli_support import progress_bar
from python_jobs.config import REPO_ROOT, TELEMETRY_OFF, load_settings
from python_jobs.labs.batch import parse_size, spark_env
from python_jobs.labs.tuning_report import NOT_SPARK, Planned, chart, markdown, shares
from python_jobs.tuning.fixes import FIX_NAMES, STORAGE_LEVELS, cumulative

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()

DAYS = 28  # four weeks: the report window is the last two
BYTES_PER_SCALE_DAY = 330e3  # orders + lines CSV per day at scale 1 (the batch lab's figure)
DEFAULT_LEVEL = "MEMORY_AND_DISK"
# Bytes of enriched window lines the slow job's toPandas() receives per byte of SIZE (the result bytes of its
# runs: 115.6 MiB at 100MB), and what a Python process holds before any data.
TO_DRIVER_PER_INPUT_BYTE = 1.25
PYTHON_BASE_BYTES = 2**30
# The Dask part's LocalCluster (dask_lab's default), and a worker's peak RSS in its unlimited-memory runs: a bare
# worker plus 2.3 bytes per byte of SIZE (2,423 MiB at 1GB, 210 MiB on the tests' kilobytes).
DASK_WORKERS = 2
DASK_WORKER_PER_INPUT_BYTE = 2.3
DASK_WORKER_BASE_BYTES = 200 * 2**20
# Out of core, the workers' share of the machine: the rest is the scheduler's, the lab's and the OS page cache's.
DASK_SHARE_OF_MEMORY = 0.75


def _python_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), **TELEMETRY_OFF}


def dataset(size: str, root: Path) -> Path:
    """Generate (once) DAYS clean landing days of about `size`, and prepare the job's inputs (once)."""
    folder = root / size.upper()
    scale = parse_size(size) / (DAYS * BYTES_PER_SCALE_DAY)
    last = folder / "truth" / load_settings({}).day_date(DAYS).isoformat() / "summary.json"
    fresh = last.exists() and json.loads(last.read_text()).get("scale") == round(scale, 4)
    steps = []
    if not fresh:
        steps.append(
            ["python_jobs.generate", "days", "--days", str(DAYS), "--scale", f"{scale:.4f}", "--bad-share", "0",
             "--data-dir", str(folder)]
        )  # fmt: skip
    if not fresh or not (folder / "tuning" / "inputs.json").exists():
        steps.append(["python_jobs.tuning", "prepare", "--dataset", str(folder)])
    for step in steps:
        console.print(f"{step[0]} {step[1]} ({size}, scale {scale:.4f}, {DAYS} days) -> {folder}")
        result = measure(
            [sys.executable, "-m", *step], cwd=REPO_ROOT, env={**_python_env(), **spark_env(parse_size(size))}
        )
        if result.returncode != 0:
            raise RuntimeError(result.output[-3000:])
    return folder


def variants(plan: str) -> list[Planned]:
    """The runs of a plan: `cumulative`, `alone`, `levels`, `duckdb` (the reference), or `all` of them; `ends`
    (slow, tuned and DuckDB) for a quick look; `bound` and `bound-cumulative` where the slow job cannot run."""
    runs: list[Planned] = []
    kinds = ("cumulative", "alone", "levels", "duckdb", "dask") if plan == "all" else tuple(plan.split(","))
    if {"cumulative", "bound-cumulative"} <= set(kinds):
        # One report holds one chain: its shares are of one start's gain over tuned, never of two starts'.
        raise typer.BadParameter(
            "cumulative and bound-cumulative are two chains from different starts (slow, and slow without its "
            "collect); run them as two plans, each gets its own report",
            param_hint="--plan",
        )
    for kind in kinds:
        if kind == "ends":
            runs += [Planned("ends", (), DEFAULT_LEVEL), Planned("ends", FIX_NAMES, DEFAULT_LEVEL)]
            runs += [Planned("reference", (), "-")]
        elif kind == "tuned":  # the tuned job alone: at a size the slow job's collect cannot hold
            runs += [Planned("tuned", FIX_NAMES, DEFAULT_LEVEL)]
        elif kind == "bound":  # the slow job without its collect: a lower bound on the slow job's time
            runs += [Planned("bound", ("no-collect",), DEFAULT_LEVEL)]
        elif kind == "cumulative":
            runs += [Planned("cumulative", fixes, DEFAULT_LEVEL) for fixes in cumulative()]
        elif kind == "bound-cumulative":
            # The same chain from the slow job without its collect, at a size where the collect does not fit:
            # each fix's share of the bound's gain over tuned.
            rest = [name for name in FIX_NAMES if name != "no-collect"]
            runs += [
                Planned("cumulative", ("no-collect", *rest[:i]), DEFAULT_LEVEL) for i in range(len(rest) + 1)
            ]
        elif kind == "alone":
            runs += [Planned("alone", (name,), DEFAULT_LEVEL) for name in FIX_NAMES]
        elif kind == "levels":
            runs += [
                Planned("levels", FIX_NAMES, level) for level in STORAGE_LEVELS if level != DEFAULT_LEVEL
            ]
        elif kind == "duckdb":
            runs += [Planned("reference", (), "-")]
        elif kind == "dask":
            runs += [Planned("dask", (), "-")]
        else:
            raise typer.BadParameter(
                f"unknown plan part {kind!r}; use all or a comma list of ends, tuned, bound, cumulative, "
                "bound-cumulative, alone, levels, duckdb, dask",
                param_hint="--plan",
            )
    return runs


def _dask_worker_peak(size_bytes: int) -> int:
    return int(DASK_WORKER_PER_INPUT_BYTE * size_bytes) + DASK_WORKER_BASE_BYTES


def dask_worker_memory(size_bytes: int, total_bytes: int) -> int | None:
    """None when the Dask part's workers can hold the enriched lines at this size (their measured peak), else
    the cap a worker gets to run out of core: the machine's share split between them, the rest spilled."""
    if DASK_WORKERS * _dask_worker_peak(size_bytes) + PYTHON_BASE_BYTES <= total_bytes:
        return None
    return int(DASK_SHARE_OF_MEMORY * total_bytes / DASK_WORKERS)


def memory_needed(size_bytes: int, planned: list[Planned], total_bytes: int | None = None) -> tuple[int, str]:
    """Bytes of memory the plan's hungriest run needs at this size, and why. Spark's driver (local mode: the
    whole engine) gets its heap; a run without the `no-collect` fix also holds every enriched line of the window
    twice in Python (the Arrow batches toPandas() receives, then the DataFrame made from them). The Dask part's
    workers hold the enriched lines in memory in every run but the limited one, or run out of core, capped, where
    they could not (`dask_worker_memory`)."""
    total = total_bytes if total_bytes is not None else psutil.virtual_memory().total
    needs = [(PYTHON_BASE_BYTES, "a Python process (DuckDB spills past its own memory limit)")]
    if any(p.kind not in NOT_SPARK for p in planned):
        heap = _gib(spark_env(size_bytes)["GROCERY_SPARK_DRIVER_MEMORY"])
        needs.append((heap + PYTHON_BASE_BYTES, f"the {heap / 2**30:.0f} GiB driver heap"))
        collects = [p for p in planned if p.kind not in NOT_SPARK and "no-collect" not in p.fixes]
        if collects:
            lines = int(TO_DRIVER_PER_INPUT_BYTE * size_bytes)
            why = (
                f"the {heap / 2**30:.0f} GiB driver heap and 2 x {lines / 2**30:.1f} GiB of enriched lines that "
                f"{collects[0].label} sends to Python with toPandas()"
            )
            needs.append((heap + 2 * lines + PYTHON_BASE_BYTES, why))
    if any(p.kind == "dask" for p in planned):
        cap = dask_worker_memory(size_bytes, total)
        worker = cap or _dask_worker_peak(size_bytes)
        how = "capped, out of core" if cap else "holding the enriched lines in memory"
        why = f"{DASK_WORKERS} Dask workers of about {worker / 2**30:.1f} GiB each, {how}"
        needs.append((DASK_WORKERS * worker + PYTHON_BASE_BYTES, why))
    return max(needs)


def _gib(text: str) -> int:
    return int(float(text.rstrip("gG")) * 2**30)


def refuse_if_too_big(size: str, planned: list[Planned], total_bytes: int | None = None) -> None:
    """Refuse, before anything is generated, a SIZE whose runs cannot fit in this machine's memory."""
    total = total_bytes if total_bytes is not None else psutil.virtual_memory().total
    need, why = memory_needed(parse_size(size), planned, total)
    if need > total:
        raise typer.BadParameter(
            f"SIZE={size} needs about {need / 2**30:.1f} GiB ({why}); this machine has {total / 2**30:.1f} GiB. "
            "Choose a smaller SIZE, or a PLAN whose runs all have the no-collect fix (e.g. PLAN=tuned,duckdb).",
            param_hint="--size",
        )


def join_counts(plans: Path) -> dict[str, int]:
    """Join operators in the executed plans of the three outputs (plans/<output>.txt of a run)."""
    text = "".join(p.read_text() for p in sorted(plans.glob("*.txt"))) if plans.is_dir() else ""
    return {name: text.count(name) for name in ("BroadcastHashJoin", "SortMergeJoin", "ShuffledHashJoin")}


def run_variant(
    folder: Path,
    out: Path,
    planned: Planned,
    env: dict[str, str],
    slow_partitions: int,
    dask_memory: int | None = None,
) -> tuple[Measurement, dict]:
    if planned.kind == "reference":
        command = [
            sys.executable,
            "-m",
            "python_jobs.tuning",
            "duckdb",
            "--dataset",
            str(folder),
            "--out",
            str(out),
        ]
    elif planned.kind == "dask":
        command = [
            sys.executable,
            "-m",
            "python_jobs.tuning.dask_lab",
            "--dataset",
            str(folder),
            "--out",
            str(out),
        ]
        if dask_memory:
            command += ["--worker-memory", str(dask_memory)]
        # Every Dask run is checked against the Spark job's report when the lab has one at this size.
        slow = next(out.parent.glob("*-slow-*/result.json"), None)
        if slow is not None:
            command += ["--spark-result", str(slow)]
    else:
        command = [sys.executable, "-m", "python_jobs.tuning", "run", "--dataset", str(folder), "--out", str(out),
                   "--storage-level", planned.level, "--slow-partitions", str(slow_partitions)]  # fmt: skip
        for name in planned.fixes:
            command += ["--fix", name]
    written = out / ("dask-lab.json" if planned.kind == "dask" else "result.json")
    written.unlink(missing_ok=True)
    m = measure(command, cwd=REPO_ROOT, env=env, poll_seconds=0.2)
    result = json.loads(written.read_text()) if m.returncode == 0 and written.exists() else {}
    if result and planned.kind == "dask":
        simplified = next(g for g in result["graph"] if g["variant"] == "simplified")
        result = {"checksums": simplified["checksums"], "dask_md": (out / "dask-lab.md").read_text()}
    elif result:
        result["joins"] = join_counts(out / "plans")
    return m, result


def status_of(returncode: int) -> str:
    if returncode == 0:
        return "ok"
    if returncode < 0:
        return f"killed ({signal.Signals(-returncode).name})"
    return f"failed ({returncode})"


def write_report(stem: Path, meta: dict, rows: list[dict], planned: list[Planned]) -> None:
    """JSON, Markdown and PNG, each replaced whole: a lab stopped while writing keeps the previous report."""
    meta["load_after"] = [round(x, 2) for x in os.getloadavg()]
    stem.parent.mkdir(parents=True, exist_ok=True)
    record = {"meta": meta, "summary": shares(rows), "rows": rows}
    write_atomic(stem.with_name(stem.name + ".json"), lambda p: p.write_text(json.dumps(record, indent=2)))
    write_atomic(stem.with_name(stem.name + ".md"), lambda p: p.write_text(markdown(meta, rows, planned)))
    # The chart is the cumulative steps' waterfall: a plan without them has no PNG.
    if any(r["kind"] == "cumulative" and r["ok"] for r in rows):
        write_atomic(stem.with_name(stem.name + ".png"), lambda p: chart(rows, p, meta))


def _kill_children() -> None:
    """The run in progress (its Python and Spark's JVM): stopping the lab must not leave them holding the machine."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        child.kill()
    psutil.wait_procs(children, timeout=10)


@app.command()
def main(
    size: Annotated[str, typer.Option(help="Orders + lines CSV size: 100MB .. 10GB.")] = "100MB",
    plan: Annotated[
        str,
        typer.Option(
            help="Which runs: all, or a comma list of ends, tuned, bound (slow without its collect), cumulative, "
            "bound-cumulative (the chain from the bound), alone, levels, duckdb, dask."
        ),
    ] = "all",
    slow_partitions: Annotated[
        int, typer.Option(help="Shuffle partitions of the slow job (Spark's default).")
    ] = 200,
) -> None:
    """Generate and prepare (once), then run every planned variant; write the report after each run."""
    planned = variants(plan)
    total = psutil.virtual_memory().total
    refuse_if_too_big(size, planned, total)
    dask_memory = dask_worker_memory(parse_size(size), total)
    settings = load_settings()
    folder = dataset(size, settings.data_dir / "labs" / "tuning")
    inputs = json.loads((folder / "tuning" / "inputs.json").read_text())
    runs = settings.data_dir / "labs" / "tuning" / "runs" / size.upper()
    events = settings.data_dir / "labs" / "tuning" / "spark-events"
    # One report per size and plan: a quick `PLAN=ends` does not overwrite the full lab's report.
    suffix = "" if plan == "all" else "-" + plan.replace(",", "-")
    stem = settings.reports_dir / "tuning" / f"lab-{size.upper()}{suffix}"
    env = {**spark_env(parse_size(size)), **_python_env(), "GROCERY_SPARK_EVENT_LOG_DIR": str(events)}
    meta = {
        "size": size.upper(),
        "fact_rows": inputs["fact_rows"],
        "window": f"{inputs['window_start']}..{inputs['window_end']}",
        "command": f"make lab-tuning SIZE={size}" + ("" if plan == "all" else f" PLAN={plan}"),
        "when": datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "slow_partitions": slow_partitions,
        "dask_worker_memory": dask_memory,
    }
    rows: list[dict] = []
    # SIGTERM (a CI timeout, `kill`) stops the lab the way Ctrl-C does: the report says which run was cut.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    current: Planned | None = None
    started = 0.0
    try:
        with progress_bar(console) as progress:
            overall = progress.add_task("tuning lab", total=len(planned))
            for current in planned:
                progress.update(overall, description=f"{current.kind}: {current.label} ({current.level})")
                box: dict = {}
                out = runs / f"{current.kind}-{current.label}-{current.level}"
                started = time.perf_counter()
                worker = threading.Thread(
                    target=lambda b=box, o=out, p=current: b.update(
                        zip(
                            ("m", "result"),
                            run_variant(folder, o, p, env, slow_partitions, dask_memory),
                            strict=True,
                        )
                    ),
                    daemon=True,
                )
                worker.start()
                while worker.is_alive():
                    progress.refresh()
                    time.sleep(0.5)
                m, result = box["m"], box["result"]
                row = _row(current, m.returncode, m.wall_seconds, m.cpu_seconds, m.peak_rss_mib, result)
                if not row["ok"]:
                    stem.parent.mkdir(parents=True, exist_ok=True)
                    log = stem.with_name(f"{stem.name}-{current.kind}-{current.label}-{current.level}.log")
                    log.write_text(m.output[-20000:])
                rows.append(row)
                write_report(stem, meta, rows, planned)
                progress.advance(overall)
                console.print(
                    f"{current.kind} {current.label} {current.level}: {row['status']} in {row['wall_s']:.1f} s"
                )
                current = None
    except KeyboardInterrupt:
        _kill_children()
        if current is not None:
            rows.append(_row(current, -signal.SIGINT, time.perf_counter() - started, 0.0, 0.0, {}))
        write_report(stem, meta, rows, planned)
        console.print(
            f"[red]stopped[/red]: {len(rows)} of {len(planned)} runs in the report, the rest marked not run"
        )
        raise typer.Exit(130) from None
    console.print(f"report: {stem.with_name(stem.name + '.md')}")


def _row(p: Planned, returncode: int, wall: float, cpu: float, rss_mib: float, result: dict) -> dict:
    """One run of the report: what the lab measured around the process, and what the run wrote."""
    status = status_of(returncode) if result or returncode else "failed (no result.json)"
    if returncode == -signal.SIGINT:
        status = "interrupted (lab stopped: wall is a lower bound)"
    return {
        "kind": p.kind,
        "label": p.label,
        "fixes": list(p.fixes),
        "level": p.level,
        "ok": returncode == 0 and bool(result),
        "status": status,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mib": round(rss_mib, 1),
        **{
            k: result.get(k)
            for k in ("job_seconds", "checksums", "driver_rows", "metrics", "stages", "joins", "dask_md")
        },
    }


if __name__ == "__main__":
    app()
