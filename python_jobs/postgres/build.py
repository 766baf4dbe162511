"""Build the marts on PostgreSQL from a DuckDB warehouse the pipeline built: copy `raw`, then replay the days.

The raw rows of every day are copied at once (python_jobs.postgres.load); the models only see rows with
`_load_date <= run_date`, so replaying the days in calendar order on Postgres gives the same snapshots and marts
as the day-by-day pipeline on DuckDB. Each tool runs in its own process, exactly as the DuckDB pipeline runs it,
with the `postgres` target (dbt) or gateway (SQLMesh) and the libpq variables of the server.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from python_jobs.config import REPO_ROOT, Settings
from python_jobs.pipeline import Step, StepResult, dbt_command, run_step
from python_jobs.postgres.load import load_schemas


def libpq_env(dsn: str) -> dict[str, str]:
    """PGHOST/PGPORT/... for a DSN: what dbt's `postgres` target and SQLMesh's `postgres` gateway read."""
    parts = conninfo_to_dict(dsn)
    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
    }
    return {env: str(parts[key]) for key, env in names.items() if parts.get(key) is not None}


def dbt_postgres_step(settings: Settings, when: date, dsn: str) -> Step:
    return Step(
        "dbt build (postgres)",
        dbt_command("build", "--target", "postgres", "--vars", f"{{run_date: '{when.isoformat()}'}}"),
        # Own target/ folder: sharing the DuckDB run's would make each run re-parse for the other's target.
        env={
            **libpq_env(dsn),
            "DBT_TARGET_PATH": str(settings.data_dir / "dbt-postgres" / "target"),
            "DBT_LOG_PATH": str(settings.data_dir / "dbt-postgres" / "logs"),
        },
        cwd=REPO_ROOT / "dbt_project",
    )


def postgres_day_steps(settings: Settings, day: int, dsn: str, tools: Sequence[str]) -> list[Step]:
    when = settings.day_date(day)
    steps = []
    if "dbt" in tools:
        steps.append(dbt_postgres_step(settings, when, dsn))
    return steps


def build_on_postgres(
    settings: Settings, days: int, dsn: str, *, warehouse: Path | None = None, tools: Sequence[str] = ("dbt",)
) -> list[StepResult]:
    """Copy raw from `warehouse` into `dsn`, then run each tool for days 1..`days` in order."""
    warehouse = warehouse or settings.warehouse_path
    log_dir = settings.data_dir / "logs" / "pipeline-postgres"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_schemas(warehouse, dsn)
    results = [StepResult(settings.day_date(1), "load raw → postgres", time.perf_counter() - started)]
    for day in range(1, days + 1):
        when = settings.day_date(day)
        for step in postgres_day_steps(settings, day, dsn, tools):
            started = time.perf_counter()
            run_step(step, log_dir / f"{when.isoformat()}.log")
            results.append(StepResult(when, step.name, time.perf_counter() - started))
    return results
