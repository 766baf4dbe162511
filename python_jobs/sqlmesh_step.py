"""`python -m python_jobs.sqlmesh_step --day DAY [--day DAY ...]`: the pipeline's SQLMesh step, day by day.

It pins SQLMesh's execution time to the midnight after the day (the instant dbt's snapshot clock uses), so the
SCD2 history is as deterministic as dbt's:
- first day (no `prod` environment in the warehouse yet): `plan` with auto-apply, the twin of
  `sqlmesh plan --auto-apply --no-prompts --execution-time T`;
- later days: `run` with `ignore_cron`. `sqlmesh run` on the command line has no `--execution-time` option
  (0.236), so the Python API is the only way to pin the clock of a run.

Several days are processed in calendar order by one Context: loading the project is most of a small day's cost.
A failed audit or model makes `run` report failure: the step then exits non-zero and the pipeline stops.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from python_jobs.cli_support import parse_days
from python_jobs.config import REPO_ROOT, TELEMETRY_OFF, load_settings

if TYPE_CHECKING:
    from sqlmesh import Context

SQLMESH_PROJECT = REPO_ROOT / "sqlmesh_project"
GATEWAY = "duckdb"

app = typer.Typer(help=__doc__, add_completion=False)


def execution_time_for(day: date) -> datetime:
    """The files of day D describe the end of day D, so day D is processed at D+1 00:00."""
    return datetime.combine(day + timedelta(days=1), time())


def open_context(warehouse: Path, project: Path = SQLMESH_PROJECT, gateway: str = GATEWAY) -> Context:
    """A SQLMesh Context on `warehouse` (SQLMesh reads the path from WAREHOUSE_PATH in config.yaml)."""
    # Set before importing: SQLMesh reads its analytics switch when it is imported.
    os.environ.update(TELEMETRY_OFF)
    # SQLMesh opens a connection for every gateway of config.yaml (multi-engine projects), so a Postgres run would
    # also open, and lock, the DuckDB warehouse file (time lost, and an error while another process writes it):
    # that gateway is unused then, and gets an in-memory database.
    os.environ["WAREHOUSE_PATH"] = str(warehouse) if gateway == "duckdb" else ":memory:"
    from sqlmesh import Context

    return Context(paths=[project], gateway=gateway)


def has_prod(context: Context) -> bool:
    return context.state_reader.get_environment("prod") is not None


def process_day(day: date, warehouse: Path, project: Path = SQLMESH_PROJECT, gateway: str = GATEWAY) -> str:
    """Build day `day`; returns "plan" or "run" (what was done). Raises on any failure."""
    context = open_context(warehouse, project, gateway)
    try:
        return build_day(context, day)
    finally:
        context.close()


def build_day(context: Context, day: date) -> str:
    """Plan (no `prod` yet) or run `day` in an open context; returns what was done. Raises on any failure."""
    when = execution_time_for(day)
    if not has_prod(context):
        # Unit tests run in `sqlmesh test` (make test); the pipeline only builds.
        context.plan(auto_apply=True, no_prompts=True, execution_time=when, skip_tests=True)
        return "plan"
    status = context.run(execution_time=when, ignore_cron=True)
    if status.is_failure:
        raise RuntimeError(f"sqlmesh run for {day} failed (see the log above)")
    return "run"


@app.command()
def main(
    day: Annotated[
        list[str], typer.Option(help="Simulated day to process, YYYY-MM-DD or a day number (repeat it).")
    ],
    warehouse: Annotated[
        Path | None,
        typer.Option(help="DuckDB warehouse (default: $WAREHOUSE_PATH, else data/warehouse.duckdb)."),
    ] = None,
    project: Annotated[Path, typer.Option(help="SQLMesh project folder.")] = SQLMESH_PROJECT,
    gateway: Annotated[
        str, typer.Option(help="Gateway of config.yaml: duckdb, or postgres (reads PGHOST, PGPORT, ...).")
    ] = GATEWAY,
) -> None:
    """Plan (first day) or run (later days) the SQLMesh project with the execution time pinned to DAY + 1, for
    each DAY in calendar order."""
    settings = load_settings()
    target = warehouse or settings.warehouse_path
    days = parse_days(settings, day)
    # A log file per run in the project's logs/ folder, as the `sqlmesh` CLI writes one per command: the SQL
    # each model and audit ran, with timestamps, is how a slow day is read.
    from sqlmesh import configure_logging

    configure_logging(log_file_dir=project.resolve() / "logs")
    context = open_context(target.resolve(), project.resolve(), gateway)
    try:
        for when in days:
            done = build_day(context, when)
            typer.echo(f"sqlmesh {done} for {when} at execution time {execution_time_for(when)}")
    finally:
        context.close()


if __name__ == "__main__":
    app()
