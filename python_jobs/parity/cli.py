"""`python -m python_jobs.parity`: after N simulated days, do the dbt and SQLMesh marts hold the same rows?

Without `--warehouse` it first builds its own warehouse in its own data folder (default data/parity/): for each
day the pipeline's own steps generate → ingest → dbt build → sqlmesh (python_jobs/orchestration/), plus the geo
step and its load (the static map, a few seconds), and only those, so the other modules' engines do not slow the
check down. Then every shared mart is compared in both
directions with EXCEPT ALL. Exit code 1 on any difference, with the first differing rows shown.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from python_jobs.config import Settings, load_settings
from python_jobs.orchestration import pipeline_lock, plan, run_steps
from python_jobs.parity.compare import Verdict
from python_jobs.parity.marts import DBT_SCHEMA, SQLMESH_SCHEMA, compare_warehouse

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()

PARITY_STEPS = ("generate", "ingest", "geo", "load geo", "dbt build", "sqlmesh")


def build(settings: Settings, days: int) -> Path:
    """Days 1..`days` into a fresh warehouse in `settings.data_dir`, dbt and SQLMesh only."""
    warehouse = settings.warehouse_path
    with pipeline_lock(settings.data_dir):
        for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
            stale.unlink(missing_ok=True)
        shutil.rmtree(settings.data_dir / "landing", ignore_errors=True)
        log_dir = settings.data_dir / "logs" / "parity"
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True)
        steps = plan(settings, range(1, days + 1), warehouse, only=PARITY_STEPS)
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("parity build", total=len(steps))
            run_steps(
                steps,
                log_dir,
                jobs=2,
                on_start=lambda step: bar.update(task, description=step.label),
                on_done=lambda step, result: bar.advance(task),
            )
    return warehouse


def verdict_table(verdicts: list[Verdict], left: str, right: str) -> Table:
    table = Table(title=f"parity: {left} ≡ {right}")
    for col in ("mart", f"{left} rows", f"{right} rows", f"only in {left}", f"only in {right}", "verdict"):
        table.add_column(col, justify="left" if col in ("mart", "verdict") else "right")
    for v in verdicts:
        table.add_row(
            v.name,
            f"{v.left_rows:,}",
            f"{v.right_rows:,}",
            f"{v.only_left:,}",
            f"{v.only_right:,}",
            ("[yellow]equal, both empty[/]" if v.left_rows == 0 else "[green]equal[/]")
            if v.ok
            else "[bold red]DIFFERENT[/]",
        )
    return table


def print_differences(v: Verdict, left: str, right: str) -> None:
    if v.columns_only_left or v.columns_only_right:
        console.print(
            f"[red]{v.name}[/]: columns only in {left}: {v.columns_only_left}, only in {right}: "
            f"{v.columns_only_right}"
        )
    for side, rows in ((left, v.sample_left), (right, v.sample_right)):
        if rows:
            sample = Table(title=f"{v.name}: first rows only in {side}", show_lines=False)
            for col in v.columns:
                sample.add_column(col, overflow="fold")
            for row in rows:
                sample.add_row(*(str(x) for x in row))
            console.print(sample)


def report(verdicts: list[Verdict], left: str, right: str) -> bool:
    console.print(verdict_table(verdicts, left, right))
    for v in verdicts:
        if not v.ok:
            print_differences(v, left, right)
    return all(v.ok for v in verdicts)


@app.command()
def main(
    days: Annotated[int, typer.Option(help="Simulated days to build before comparing.")] = 3,
    scale: Annotated[float | None, typer.Option(help="Scale factor of the generated data.")] = None,
    seed: Annotated[int | None, typer.Option(help="Generator seed.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Own data folder (default <data>/parity).")] = None,
    warehouse: Annotated[
        Path | None, typer.Option(help="Compare this existing warehouse instead of building one.")
    ] = None,
) -> None:
    """Build DAYS days with dbt and SQLMesh (unless --warehouse is given) and compare every shared mart."""
    built_here = warehouse is None
    if warehouse is None:
        settings = load_settings()
        folder = (data_dir or settings.data_dir / "parity").resolve()
        settings = settings.with_(data_dir=folder, warehouse_path=folder / "warehouse.duckdb")
        if scale is not None:
            settings = settings.with_(scale=scale)
        if seed is not None:
            settings = settings.with_(seed=seed)
        warehouse = build(settings, days)
    verdicts = compare_warehouse(warehouse.resolve())
    console.print(f"comparing {DBT_SCHEMA}.* (dbt) with {SQLMESH_SCHEMA}.* (SQLMesh) in {warehouse}")
    left, right = "dbt", "SQLMesh"
    if not report(verdicts, left, right):
        console.print("[bold red]parity FAILED[/]")
        raise typer.Exit(1)
    empty = [v.name for v in verdicts if v.left_rows == 0 and v.right_rows == 0]
    full = len(verdicts) - len(empty)
    headline = f"[green]parity OK[/]: {full} marts with rows equal in both directions"
    if empty:
        # An empty mart equals its empty twin and proves nothing: say which, and why they are empty.
        headline += f"; {len(empty)} empty on both sides ({', '.join(empty)})"
        if built_here:
            headline += (
                ": their engines' steps (Spark, Flink, Monte Carlo) are not part of this build; "
                "`make pipeline` feeds them"
            )
    console.print(f"{headline} ({warehouse})")


if __name__ == "__main__":
    app()
