"""`python -m python_jobs.pipeline`: simulate days 1..N end to end into a fresh warehouse.

The steps are declared in python_jobs/orchestration/definitions.py: generate the landing files, replay the
sensor stream through Flink, run the Spark batch job, then for each day ingest, load the engines' outputs,
`dbt build` and the SQLMesh twin. `--dry-run` prints the plan (each step's command, what it reads and writes,
what it waits for) without running it. Steps whose reads and writes do not collide run side by side
(`--jobs`). The warehouse is built in a private folder and published over data/warehouse.duckdb only when
every step has succeeded.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from python_jobs.checksums import table_checksums
from python_jobs.config import REPO_ROOT, Settings, load_settings
from python_jobs.orchestration import (
    PipelineBusyError,
    Step,
    StepResult,
    build_warehouse,
    pipeline_lock,
    plan,
)
from python_jobs.orchestration.lock import BUILD_PREFIX
from python_jobs.orchestration.steps import conflicts

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()


def _short(text: str, settings: Settings, warehouse: Path) -> str:
    """Paths relative to the data folder and the repository, so a printed plan reads at a glance."""
    return (
        text.replace(str(warehouse), "<warehouse>")
        .replace(str(settings.data_dir), "<data>")
        .replace(str(REPO_ROOT) + "/", "")
    )


def _resources(names: tuple[str, ...]) -> str:
    """`landing/2026-01-05, landing/2026-01-06` reads as `landing/{2026-01-05, 2026-01-06}`."""
    groups: dict[str, list[str]] = {}
    for name in names:
        head, _, tail = name.partition("/")
        groups.setdefault(head, []).append(tail)
    return ", ".join(
        head
        if tails == [""]
        else f"{head}/{tails[0]}"
        if len(tails) == 1
        else f"{head}/{{{', '.join(tails)}}}"
        for head, tails in groups.items()
    )


def _ancestors(waits: list[set[int]], k: int) -> set[int]:
    seen: set[int] = set()
    todo = list(waits[k])
    while todo:
        j = todo.pop()
        if j not in seen:
            seen.add(j)
            todo.extend(waits[j])
    return seen


def print_plan(settings: Settings, steps: list[Step], warehouse: Path) -> None:
    """Each step: its command, what it reads and writes, and the earlier steps it waits for."""
    console.print(f"[bold]the plan: {len(steps)} steps[/]  (<data> = {settings.data_dir})", highlight=False)
    # What each step waits for, without what its predecessors already wait for (1 → 2 → 3 prints "3 after 2").
    waits: list[set[int]] = []
    for i, step in enumerate(steps):
        direct = {j for j in range(i) if conflicts(steps[j], step)}
        waits.append(
            {j for j in direct if not any(j in waits[k] or j in _ancestors(waits, k) for k in direct)}
        )
    for i, step in enumerate(steps, 1):
        after = ", ".join(str(j + 1) for j in sorted(waits[i - 1]))
        env = _short("".join(f"{k}={shlex.quote(v)} " for k, v in step.env.items()), settings, warehouse)
        command = _short(" ".join(shlex.quote(part) for part in step.command), settings, warehouse)
        where = "" if step.cwd == REPO_ROOT else f"(in {_short(str(step.cwd), settings, warehouse)}) "
        console.print(
            f"\n[bold]{i:>2}. {step.label}[/]  " + (f"after {after}" if after else "starts at once"),
            highlight=False,
        )
        console.print(f"    $ {where}{env}{command}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"    reads  {_resources(step.reads) or '-'}", markup=False, highlight=False)
        console.print(f"    writes {_resources(step.writes) or '-'}", markup=False, highlight=False)


def time_table(results: list[StepResult], wall: float) -> Table:
    """Where the time went: one row per step, however many days (fits an 80-column terminal)."""
    table = Table(title=f"where the time went (wall {wall:.1f} s)")
    for col in ("step", "runs", "total s", "mean s", "share"):
        table.add_column(col, justify="left" if col == "step" else "right")
    names = list(dict.fromkeys(r.step for r in results))
    busy = sum(r.seconds for r in results) or 1.0
    for name in names:
        mine = [r.seconds for r in results if r.step == name]
        table.add_row(
            name,
            str(len(mine)),
            f"{sum(mine):.1f}",
            f"{sum(mine) / len(mine):.1f}",
            f"{sum(mine) / busy:.0%}",
        )
    table.caption = f"steps summed {busy:.1f} s in {wall:.1f} s of wall time"
    return table


def warehouse_tables(warehouse: Path) -> list[Table]:
    tables = Table(title="warehouse tables")
    for col in ("schema", "table", "rows"):
        tables.add_column(col, justify="right" if col == "rows" else "left", overflow="fold")
    quarantine = Table(title="quarantine by reason")
    for col in ("source", "reason", "rows", "files"):
        quarantine.add_column(col, justify="right" if col in ("rows", "files") else "left", overflow="fold")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rel = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'ingest', 'snapshots', 'marts') ORDER BY 1, 2"
        ).fetchall()
        for schema, name in rel:
            (count,) = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()
            tables.add_row(schema, name, f"{count:,}")
        # A file-level record (an empty file, source_line 0) is not a quarantined row: the load manifest counts
        # it under empty_files, so it is counted here as a file too.
        for source, reason, rows, files in con.execute(
            "SELECT source, regexp_replace(reason, '(:| at byte| \\(| [0-9]{2,}).*$', '') AS reason, "
            "count(*) FILTER (source_line > 0), count(*) FILTER (source_line = 0) "
            "FROM ingest.quarantine GROUP BY ALL ORDER BY 1, 2"
        ).fetchall():
            quarantine.add_row(
                source, reason.strip(), f"{rows:,}" if rows else "", f"{files:,}" if files else ""
            )
    finally:
        con.close()
    checks = Table(title="mart checksums (equal across runs of the same DAYS, SCALE, SEED)")
    for col in ("table", "rows", "md5 (first 12)"):
        checks.add_column(col, justify="right" if col == "rows" else "left", overflow="fold")
    for name, (count, digest) in table_checksums(warehouse).items():
        checks.add_row(name, f"{count:,}", digest[:12])
    return [tables, quarantine, checks]


def _settings(scale: float | None, seed: int | None, data_dir: Path | None) -> Settings:
    settings = load_settings()
    if data_dir is not None:
        data_dir = data_dir.resolve()
        settings = settings.with_(data_dir=data_dir, warehouse_path=data_dir / "warehouse.duckdb")
    if scale is not None:
        settings = settings.with_(scale=scale)
    if seed is not None:
        settings = settings.with_(seed=seed)
    return settings


def run_with_progress(settings: Settings, days: int, jobs: int) -> list[StepResult]:
    """The run, with a progress bar on a terminal and one line per step otherwise (a log file, CI)."""
    total = len(plan(settings, range(1, days + 1), settings.warehouse_path))
    began = time.perf_counter()
    if not console.is_terminal:

        def done(step: Step, result: StepResult) -> None:
            console.print(
                f"[{time.perf_counter() - began:6.1f}s] {step.label}: {result.seconds:.1f} s", highlight=False
            )

        return build_warehouse(settings, days, jobs=jobs, on_done=done)
    running: list[str] = []
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("pipeline", total=total)

        def start(step: Step) -> None:
            running.append(step.label)
            bar.update(task, description=" + ".join(running))

        def finish(step: Step, result: StepResult) -> None:
            running.remove(step.label)
            bar.update(task, description=" + ".join(running) or "publishing", advance=1)

        return build_warehouse(settings, days, jobs=jobs, on_start=start, on_done=finish)


@app.command()
def run(
    days: Annotated[int, typer.Option(help="Simulated days to run: days 1..DAYS.", min=1)] = 3,
    scale: Annotated[float | None, typer.Option(help="Scale factor of the generated data.")] = None,
    seed: Annotated[int | None, typer.Option(help="Generator seed.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data folder (default ./data).")] = None,
    jobs: Annotated[
        int, typer.Option(help="Steps that may run side by side (1: one after the other).", min=1)
    ] = 2,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and exit.")] = False,
) -> None:
    """Run the whole pipeline for days 1..DAYS and publish the warehouse."""
    settings = _settings(scale, seed, data_dir)
    if dry_run:
        build = settings.data_dir / "tmp" / f"{BUILD_PREFIX}<pid>" / settings.warehouse_path.name
        steps = plan(settings, range(1, days + 1), build)
        print_plan(settings, steps, build)
        console.print(
            f"\n<warehouse> is built privately, then published to {settings.warehouse_path}", highlight=False
        )
        return
    started = time.perf_counter()
    try:
        with pipeline_lock(settings.data_dir):
            results = run_with_progress(settings, days, jobs)
    except PipelineBusyError as exc:
        console.print(f"[bold red]pipeline not started:[/] {exc}")
        raise typer.Exit(2) from None
    except subprocess.CalledProcessError as exc:
        console.print(
            f"[bold red]pipeline failed at step '{exc.cmd}'[/] (the published warehouse is unchanged; "
            f"logs in {settings.data_dir / 'logs' / 'pipeline'}):"
        )
        console.print(exc.output, markup=False, highlight=False)
        raise typer.Exit(1) from None
    wall = time.perf_counter() - started
    console.print(time_table(results, wall))
    for table in warehouse_tables(settings.warehouse_path):
        console.print(table)
    console.print(
        f"[green]done[/] in {wall:.1f} s: {days} day(s) at scale {settings.scale} → {settings.warehouse_path}"
    )


if __name__ == "__main__":
    app()
