"""`make lab-tuning SIZE=100MB` (in progress): the slow weekly report made faster fix by fix, each step measured.

The dataset: DAYS landing days from the generator (clean), scale chosen so the orders and lines CSV are about SIZE,
then the job's inputs prepared (python_jobs/tuning/inputs.py); both cached under data/labs/tuning/<SIZE>/. Every
variant runs in a fresh process (`python -m python_jobs.tuning run`), so each is its own Spark application with
its own event log; wall, CPU and peak RSS are of the whole process tree (python_jobs/benchmarks/measure.py).

Variants, in this order: the fixes added one at a time in the registry's order (slow first, tuned last: what each
fix adds on top), then each fix alone (what it is worth by itself), then the tuned job with each other storage
level of the cache fix. Shares: fix i's share of the whole gain is (t[i-1] - t[i]) / (t[slow] - t[tuned]).
Report: data/reports/tuning/lab-<SIZE>.{md,json,png} (the PNG: the waterfall and each fix alone), rewritten after every variant, so a lab stopped part-way keeps
what it measured and marks the rest "not run".
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from python_jobs.benchmarks.measure import Measurement, measure
from python_jobs.config import REPO_ROOT, TELEMETRY_OFF, load_settings
from python_jobs.labs.batch import parse_size, spark_env
from python_jobs.tuning.fixes import FIX_NAMES, STORAGE_LEVELS, cumulative

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()

DAYS = 28  # four weeks: the report window is the last two
BYTES_PER_SCALE_DAY = 330e3  # orders + lines CSV per day at scale 1 (the batch lab's figure)
DEFAULT_LEVEL = "MEMORY_AND_DISK"


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


def variants(plan: str) -> list[tuple[str, tuple[str, ...], str]]:
    """(kind, fixes, storage level) of each run: `cumulative`, `alone`, `levels`, or `all` of them; `ends` (slow
    and tuned only) for a quick look."""
    runs: list[tuple[str, tuple[str, ...], str]] = []
    kinds = ("cumulative", "alone", "levels") if plan == "all" else tuple(plan.split(","))
    for kind in kinds:
        if kind == "ends":  # a quick look: the slow and the tuned job only
            runs += [("ends", (), DEFAULT_LEVEL), ("ends", FIX_NAMES, DEFAULT_LEVEL)]
        elif kind == "cumulative":
            runs += [("cumulative", fixes, DEFAULT_LEVEL) for fixes in cumulative()]
        elif kind == "alone":
            runs += [("alone", (name,), DEFAULT_LEVEL) for name in FIX_NAMES]
        elif kind == "levels":
            runs += [("levels", FIX_NAMES, level) for level in STORAGE_LEVELS if level != DEFAULT_LEVEL]
        else:
            raise typer.BadParameter(
                f"unknown plan part {kind!r}; use all or ends,cumulative,alone,levels", param_hint="--plan"
            )
    return runs


def run_variant(
    folder: Path, out: Path, fixes: tuple[str, ...], level: str, env: dict[str, str], slow_partitions: int
) -> tuple[Measurement, dict]:
    command = [sys.executable, "-m", "python_jobs.tuning", "run", "--dataset", str(folder), "--out", str(out),
               "--storage-level", level, "--slow-partitions", str(slow_partitions)]  # fmt: skip
    for name in fixes:
        command += ["--fix", name]
    (out / "result.json").unlink(missing_ok=True)
    m = measure(command, cwd=REPO_ROOT, env=env, poll_seconds=0.2)
    result = json.loads((out / "result.json").read_text()) if m.returncode == 0 else {}
    return m, result


def shares(rows: list[dict]) -> None:
    """Per cumulative step: seconds saved against the step before and its share of the whole gain; per fix alone:
    its speed-up over the slow job."""
    steps = [r for r in rows if r["kind"] == "cumulative" and r["ok"]]
    slow = next((r for r in steps if not r["fixes"]), None) or next(
        (r for r in rows if r["ok"] and not r["fixes"]), None
    )
    tuned = next((r for r in steps if len(r["fixes"]) == len(FIX_NAMES)), None)
    gain = slow["wall_s"] - tuned["wall_s"] if slow and tuned else None
    for before, after in itertools.pairwise(steps):
        after["saved_s"] = round(before["wall_s"] - after["wall_s"], 2)
        after["share"] = round(after["saved_s"] / gain, 3) if gain else None
    for r in rows:
        if slow and r["ok"]:
            r["x_slow"] = round(slow["wall_s"] / r["wall_s"], 2)
            r["equal"] = r["checksums"] == slow["checksums"]


def markdown(meta: dict, rows: list[dict], planned: list[tuple[str, tuple[str, ...], str]]) -> str:
    lines = [
        f"# Tuning lab, {meta['size']} ({meta['fact_rows']:,} fact rows, window {meta['window']})",
        "",
        f"`{meta['command']}`, {meta['when']}, {meta['cpus']} CPUs, load {meta['load_before']} before, "
        f"{meta['load_after']} after. Wall, CPU and peak RSS of each run's whole process tree; Spark's metrics "
        "from its event log.",
        "",
        "| kind | variant | level | status | wall s | x slow | saved s | share | CPU s | peak RSS MiB | tasks | "
        "files read MiB | shuffle write MiB | spill MiB | to driver MiB | files read | max skew | equal |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    mib = lambda n: f"{n / 2**20:,.1f}"  # noqa: E731
    for r in rows:
        m = r.get("metrics") or {}
        lines.append(
            f"| {r['kind']} | {r['label']} | {r['level']} | {r['status']} | {r['wall_s']:.1f} | {r.get('x_slow', '')} | "
            f"{r.get('saved_s', '')} | {_percent(r.get('share'))} | {r['cpu_s']:.1f} | "
            f"{r['peak_rss_mib']:,.0f} | {m.get('tasks', '')} | {mib(m['files_bytes']) if m else ''} | "
            f"{mib(m['shuffle_write_bytes']) if m else ''} | "
            f"{mib(m['memory_spilled_bytes'] + m['disk_spilled_bytes']) if m else ''} | "
            f"{mib(m['result_bytes']) if m else ''} | {m.get('files_read', '')} | {m.get('max_skew', '')} | "
            f"{r.get('equal', '')} |"
        )
    for kind, fixes, level in planned[len(rows) :]:
        lines.append(f"| {kind} | {_label(fixes)} | {level} | not run | | | | | | | | | | | | | | |")
    steps = [r for r in rows if r.get("share") is not None]
    if steps:
        total = sum(r["share"] for r in steps)
        lines += [
            "",
            f"Shares of the cumulative steps add up to {total:.0%} of slow - tuned (by construction).",
        ]
    return "\n".join(lines) + "\n"


def chart(rows: list[dict], path: Path, meta: dict) -> None:
    """Left: the waterfall from slow to tuned, one bar per fix added (seconds it saved); right: each fix alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r for r in rows if r["kind"] == "cumulative" and r["ok"]]
    alone = [r for r in rows if r["kind"] == "alone" and r["ok"]]
    if not steps:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    labels = [steps[0]["label"]] + [f"+{r['fixes'][-1]}" for r in steps[1:]]
    bottoms = [0.0] + [min(a["wall_s"], b["wall_s"]) for a, b in itertools.pairwise(steps)]
    heights = [steps[0]["wall_s"]] + [abs(a["wall_s"] - b["wall_s"]) for a, b in itertools.pairwise(steps)]
    colours = ["#888888"] + [
        "#2a9d8f" if b["wall_s"] <= a["wall_s"] else "#e76f51" for a, b in itertools.pairwise(steps)
    ]
    left.bar(labels, heights, bottom=bottoms, color=colours)
    if len(steps) == len(FIX_NAMES) + 1:
        left.bar(["tuned"], [steps[-1]["wall_s"]], color="#264653")
    left.set_ylabel("wall seconds")
    left.set_title("fixes added one at a time (green: seconds saved)")
    left.tick_params(axis="x", rotation=45)
    if alone and steps[0]["label"] == "slow":
        right.barh([r["label"] for r in alone], [r["x_slow"] for r in alone], color="#2a9d8f")
        right.axvline(1, color="#888888", linewidth=1)
        right.set_xlabel("speed-up over the slow job (x)")
        right.set_title("each fix alone")
    fig.suptitle(f"tuning lab, {meta['size']}, {meta['when']}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.0%}"


def _label(fixes: tuple[str, ...]) -> str:
    if not fixes:
        return "slow"
    return "tuned" if len(fixes) == len(FIX_NAMES) else "+".join(fixes)


@app.command()
def main(
    size: Annotated[str, typer.Option(help="Orders + lines CSV size: 100MB .. 10GB.")] = "100MB",
    plan: Annotated[
        str, typer.Option(help="Which runs: all, or a comma list of ends, cumulative, alone, levels.")
    ] = "all",
    slow_partitions: Annotated[
        int, typer.Option(help="Shuffle partitions of the slow job (Spark's default).")
    ] = 200,
) -> None:
    """Generate and prepare (once), then run every planned variant; write the report after each run."""
    planned = variants(plan)
    settings = load_settings()
    folder = dataset(size, settings.data_dir / "labs" / "tuning")
    inputs = json.loads((folder / "tuning" / "inputs.json").read_text())
    runs = settings.data_dir / "labs" / "tuning" / "runs" / size.upper()
    events = settings.data_dir / "labs" / "tuning" / "spark-events"
    stem = settings.reports_dir / "tuning" / f"lab-{size.upper()}"
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
    }
    rows: list[dict] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("tuning lab", total=len(planned))
        for kind, fixes, level in planned:
            label = _label(fixes)
            progress.update(overall, description=f"{kind}: {label} ({level})")
            box: dict = {}
            out = runs / f"{kind}-{label}-{level}"
            worker = threading.Thread(target=lambda b=box, o=out, f=fixes, lv=level: b.update(
                zip(("m", "result"), run_variant(folder, o, f, lv, env, slow_partitions), strict=True)))  # fmt: skip
            worker.start()
            while worker.is_alive():
                progress.refresh()
                time.sleep(0.5)
            m, result = box["m"], box["result"]
            row = {
                "kind": kind,
                "label": label,
                "fixes": list(fixes),
                "level": level,
                "ok": m.returncode == 0,
                "status": "ok" if m.returncode == 0 else f"failed ({m.returncode})",
                "wall_s": round(m.wall_seconds, 2),
                "cpu_s": round(m.cpu_seconds, 2),
                "peak_rss_mib": round(m.peak_rss_mib, 1),
                **{k: result.get(k) for k in ("job_seconds", "checksums", "driver_rows", "metrics")},
            }
            if not row["ok"]:
                stem.parent.mkdir(parents=True, exist_ok=True)
                stem.with_name(f"{stem.name}-{kind}-{label}-{level}.log").write_text(m.output[-20000:])
            rows.append(row)
            shares(rows)
            meta["load_after"] = [round(x, 2) for x in os.getloadavg()]
            stem.parent.mkdir(parents=True, exist_ok=True)
            stem.with_name(stem.name + ".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
            stem.with_name(stem.name + ".md").write_text(markdown(meta, rows, planned))
            chart(rows, stem.with_name(stem.name + ".png"), meta)
            progress.advance(overall)
            console.print(f"{kind} {label} {level}: {row['status']} in {row['wall_s']:.1f} s")
    console.print(f"report: {stem.with_name(stem.name + '.md')}")


if __name__ == "__main__":
    app()
