"""The Dask part of the tuning lab: three tables (graph, scaling, memory), pictures and performance reports.

`run_dask_lab(dataset, out)` writes under `out`:
    graph-naive.png, graph-simplified.png       one output's graph before and after (dask_job.draw_graph)
    dask-report-<run>.html                      distributed's performance_report of every run
    dask-lab.json                               the three tables, as returned
and returns {"graph": rows, "scaling": rows, "memory": rows, "meta": ...}; `markdown(result)` renders it.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from dask.utils import parse_bytes
from rich.console import Console
from rich.progress import Progress

from python_jobs.batch.atomic import write_atomic
from python_jobs.config import load_settings
from python_jobs.tuning.dask_job import NAIVE_PARTITIONS, VARIANTS, draw_graph, run_variant
from python_jobs.tuning.dask_scaling import SPILL, TARGET, lab_client, reported, run_memory, run_scaling
from python_jobs.tuning.inputs import Inputs

STEPS = ("graph naive", "graph simplified", "scaling", "memory")


def run_graph(
    inputs: Inputs,
    out_dir: Path,
    *,
    naive_partitions: int,
    workers: int,
    worker_memory: int | None = None,
    advance=lambda: None,
) -> list[dict[str, object]]:
    """Both variants on one fixed LocalCluster, each with its own performance report and picture."""
    rows = []
    with lab_client(workers, out_dir / "dask-space" / "graph", worker_memory):
        for variant in VARIANTS:
            with reported(out_dir / f"dask-report-{variant}.html"):
                run = run_variant(inputs, variant, naive_partitions=naive_partitions, workers=workers)
            picture = draw_graph(
                inputs,
                variant,
                out_dir / f"graph-{variant}.png",
                naive_partitions=naive_partitions,
                workers=workers,
            )
            rows.append(
                {
                    **run.row(),
                    "calls": run.calls,
                    "picture": picture,
                    "report": f"dask-report-{variant}.html",
                }
            )
            advance()
    return rows


def run_dask_lab(
    dataset_dir: Path,
    out_dir: Path,
    progress: Progress | None = None,
    *,
    naive_partitions: int = NAIVE_PARTITIONS,
    workers: int = 2,
    worker_memory: int | None = None,
    spark_checksums: dict[str, str] | None = None,
) -> dict[str, object]:
    """The three tables on the prepared dataset at `dataset_dir`; `spark_checksums` (the Spark job's, if the
    caller has them) adds a column saying whether each run matches them. `worker_memory`: bytes a worker, to run
    out of core (every cluster capped, spilling past `target`: dask_scaling); None: Dask's defaults."""
    inputs = Inputs.load(dataset_dir, load_settings().seeds_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    task = progress.add_task("dask", total=len(STEPS)) if progress else None

    def advance() -> None:
        if progress is not None and task is not None:
            progress.advance(task)

    started = time.perf_counter()
    sizes = {"workers": workers, "worker_memory": worker_memory}
    graph = run_graph(inputs, out_dir, naive_partitions=naive_partitions, advance=advance, **sizes)
    scaling = run_scaling(inputs, out_dir, **sizes)
    advance()
    memory = run_memory(inputs, out_dir, **sizes)
    advance()
    reference = spark_checksums or graph[0]["checksums"]
    for row in (*graph, *scaling, *memory):
        row["same_checksums"] = row["checksums"] == reference
    result = {
        "graph": graph,
        "scaling": scaling,
        "memory": memory,
        "meta": {
            "dataset": str(dataset_dir),
            "fact_rows": inputs.fact_rows,
            "window": f"{inputs.window_start}..{inputs.window_end}",
            "checked_against": "spark" if spark_checksums else "naive",
            "naive_partitions": naive_partitions,
            "workers": workers,
            "worker_memory": worker_memory,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "lab_seconds": round(time.perf_counter() - started, 1),
        },
    }
    write_atomic(out_dir / "dask-lab.json", lambda p: p.write_text(json.dumps(result, indent=2, default=str)))
    return result


def markdown(result: dict) -> str:
    """The three tables as Markdown, with what they were checked against and the machine's load."""
    meta = result["meta"]
    capped = meta.get("worker_memory")
    memory = (
        f", out of core: every worker capped at {capped / 2**30:.1f} GiB, spilling past {TARGET:.0%} of it "
        f"(managed memory) and {SPILL:.0%} of its RSS"
        if capped
        else ""
    )
    lines = [
        f"Dataset {meta['dataset']} ({meta['fact_rows']:,} fact rows, window {meta['window']}), "
        f"{meta['workers']} workers x 1 thread{memory}; {meta['date']}, load average {meta['load_average_1m']} "
        f"on {meta['cpus']} CPUs; checksums compared with the {meta['checked_against']} run.",
        "",
        "| variant | fact partitions | tasks (graphs sent) | tasks run | seconds | same checksums | picture |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in result["graph"]:
        picture = r["picture"]
        shown = (
            f"{Path(picture['path']).name} ({picture['kind']})"
            if picture.get("path")
            else picture.get("note")
        )
        lines.append(
            f"| {r['variant']} | {r['fact_partitions']} | {r['graph_tasks']:,} | {r['tasks_run'] or '-'} | "
            f"{r['seconds']:.2f} | {'yes' if r['same_checksums'] else 'NO'} | {shown} |"
        )
    naive, simple = result["graph"][0], result["graph"][-1]
    if simple["graph_tasks"] and simple["seconds"]:
        lines += [
            "",
            f"Simplified: {naive['graph_tasks'] / simple['graph_tasks']:.1f}x fewer tasks, "
            f"{naive['seconds'] / simple['seconds']:.1f}x faster.",
        ]
    lines += [
        "",
        "| cluster | workers | seconds (run) | seconds (cluster start to close) | added | removed | workers over time (s, n) "
        "| same checksums |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in result["scaling"]:
        timeline = ", ".join(f"{t:g}s:{n}" for t, n in r["timeline"])
        lines.append(
            f"| {r['mode']} | {r['workers']} | {r['seconds']:.2f} | {r['with_start_s']:.2f} | {r['added']} | "
            f"{r['removed']} | {timeline} | {'yes' if r['same_checksums'] else 'NO'} |"
        )
    lines += [
        "",
        "| worker memory | limit per worker | persisted (MiB) | seconds | spilled to disk (MiB) | peak worker RSS (MiB) "
        "| same checksums |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in result["memory"]:
        lines.append(
            f"| {r['mode']} | {r['memory_limit']} | {r['persisted_mib']:,.1f} | {r['seconds']:.2f} | "
            f"{r['spilled_bytes'] / 2**20:,.2f} | {r['peak_worker_rss_mib']:,.0f} | "
            f"{'yes' if r['same_checksums'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


app = typer.Typer(
    help="Naive vs simplified Dask graph, fixed vs adaptive workers, limited vs unlimited memory.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def lab(
    dataset: Annotated[Path, typer.Option(help="Prepared dataset folder (tuning/inputs.json inside).")],
    out: Annotated[
        Path, typer.Option(help="Folder for the pictures, performance reports and dask-lab.json.")
    ],
    naive_partitions: Annotated[
        int, typer.Option(help="Partitions the naive job spreads every frame over.", min=1)
    ] = NAIVE_PARTITIONS,
    workers: Annotated[int, typer.Option(help="LocalCluster workers (one thread each).", min=1)] = 2,
    worker_memory: Annotated[
        str | None,
        typer.Option(
            help=f"Run out of core: cap every worker at this much memory (e.g. 9GiB), spilling past {TARGET:.0%} "
            f"of it (managed memory) and {SPILL:.0%} of its RSS. Default: Dask's own limits."
        ),
    ] = None,
    spark_result: Annotated[
        Path | None,
        typer.Option(
            help="A Spark run's result.json (python -m python_jobs.tuning run): compare with its checksums."
        ),
    ] = None,
) -> None:
    """Naive vs simplified graph, fixed vs adaptive workers, limited vs unlimited memory: tables on stdout."""
    from python_jobs.cli_support import progress_bar

    console = Console(stderr=True)
    spark = json.loads(spark_result.read_text())["checksums"] if spark_result else None
    try:
        with progress_bar(console) as progress:
            result = run_dask_lab(
                dataset.resolve(),
                out.resolve(),
                progress,
                naive_partitions=naive_partitions,
                workers=workers,
                worker_memory=parse_bytes(worker_memory) if worker_memory else None,
                spark_checksums=spark,
            )
    except FileNotFoundError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    text = markdown(result)
    (out / "dask-lab.md").write_text(text)
    typer.echo(text)


if __name__ == "__main__":
    app(prog_name="python -m python_jobs.tuning.dask_lab")
