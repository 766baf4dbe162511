"""`python -m python_jobs.dbt_step --day D [--day D ...]`: the pipeline's dbt step, one `dbt build` per day.

Each day is built as `GROCERY_RUN_DATE=D GROCERY_TEST_SINCE=D dbt build` would build it (see
orchestration.tools.dbt_day_env and dbt_project/macros/run_date.sql), in calendar order, by one process: dbt's
programmatic runner parses the project once and every day reuses that manifest. The days do not need a process
each because nothing parsed depends on the day (the day is read from the environment only while a node runs),
and a process each would pay Python's and dbt's start-up and the partial parse again for every day.

The first failing day stops the step with a non-zero exit, like `dbt build` does.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from python_jobs.cli_support import parse_days
from python_jobs.config import REPO_ROOT, TELEMETRY_OFF, load_settings
from python_jobs.orchestration.tools import dbt_day_env

DBT_PROJECT = REPO_ROOT / "dbt_project"
PROFILES = REPO_ROOT / "profiles"

app = typer.Typer(help=__doc__, add_completion=False)


def build_days(days: list[date], *, project: Path = DBT_PROJECT) -> None:
    """`dbt build` for each of `days` (dates, in order) in this process. Raises on the first failing day."""
    os.environ.update(TELEMETRY_OFF)
    from dbt.cli.main import dbtRunner

    where = ("--project-dir", str(project), "--profiles-dir", str(PROFILES))
    parsed = dbtRunner().invoke(["parse", *where])
    if not parsed.success:
        raise RuntimeError(f"dbt parse failed: {parsed.exception or 'see the log above'}")
    runner = dbtRunner(manifest=parsed.result)
    for day in days:
        # Read by the macros while nodes run, so the one manifest serves every day.
        os.environ.update(dbt_day_env(day))
        result = runner.invoke(["build", *where])
        if not result.success:
            raise RuntimeError(f"dbt build for {day} failed: {result.exception or 'see the log above'}")


@app.command()
def main(
    day: Annotated[
        list[str], typer.Option(help="Simulated day to build, YYYY-MM-DD or a day number (repeat it).")
    ],
) -> None:
    """Build the dbt project for each DAY in order, on the warehouse of profiles/ (WAREHOUSE_PATH)."""
    settings = load_settings()
    days = parse_days(settings, day)
    try:
        build_days(days)
    except RuntimeError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error


if __name__ == "__main__":
    app()
