"""Build the marts on PostgreSQL from a DuckDB warehouse the pipeline built: copy `raw`, then replay the days.

The raw rows of every day are copied at once (python_jobs.postgres.load); the models only see rows with
`_load_date <= run_date`, so replaying the days in calendar order on Postgres gives the same snapshots and marts
as the day-by-day pipeline on DuckDB. Each tool runs in its own process, exactly as the DuckDB pipeline runs it,
with the `postgres` target (dbt) or gateway (SQLMesh) and the libpq variables of the server.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from python_jobs.config import REPO_ROOT, Settings
from python_jobs.orchestration import Step, StepResult, dbt_command, dbt_day_env, run_step
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
        dbt_command("build", "--target", "postgres"),
        days=(when,),
        # Own target/ folder: sharing the DuckDB run's would make each run re-parse for the other's target.
        env={
            **dbt_day_env(when),
            **libpq_env(dsn),
            "DBT_TARGET_PATH": str(settings.data_dir / "dbt-postgres" / "target"),
            "DBT_LOG_PATH": str(settings.data_dir / "dbt-postgres" / "logs"),
        },
        cwd=REPO_ROOT / "dbt_project",
    )


def sqlmesh_postgres_step(when: date, dsn: str) -> Step:
    # The pipeline's own SQLMesh step (plan on the first day, run after, clock pinned) on the postgres gateway;
    # SQLMesh keeps its state in that database too (schema `sqlmesh`).
    return Step(
        "sqlmesh (postgres)",
        (
            sys.executable,
            "-m",
            "python_jobs.sqlmesh_step",
            "--day",
            when.isoformat(),
            "--gateway",
            "postgres",
        ),
        days=(when,),
        env=libpq_env(dsn),
    )


def tool_step(tool: str, settings: Settings, when: date, dsn: str) -> Step:
    if tool == "dbt":
        return dbt_postgres_step(settings, when, dsn)
    if tool == "sqlmesh":
        return sqlmesh_postgres_step(when, dsn)
    raise ValueError(f"unknown tool {tool!r} (dbt, sqlmesh)")


def replay_days(settings: Settings, days: int, dsn: str, tool: str, log_dir: Path) -> list[StepResult]:
    """One tool, days 1..`days` in calendar order (snapshots are stateful: never out of order)."""
    results = []
    for day in range(1, days + 1):
        when = settings.day_date(day)
        step = tool_step(tool, settings, when, dsn)
        started = time.perf_counter()
        run_step(step, log_dir / f"{when.isoformat()}-{tool}.log")
        results.append(StepResult(step.name, (when,), time.perf_counter() - started))
    return results


def build_on_postgres(
    settings: Settings,
    days: int,
    dsn: str,
    *,
    warehouse: Path | None = None,
    tools: Sequence[str] = ("dbt", "sqlmesh"),
    parallel: bool = False,
) -> list[StepResult]:
    """Copy raw from `warehouse` into `dsn`, then run each tool for days 1..`days` in order.

    `parallel` runs the tools side by side (each still day after day): they write disjoint schemas and only
    read `raw`, which Postgres, unlike a DuckDB file, lets several processes do at once. Timings of a parallel
    run include the other tool's load, so benchmarks keep the default.
    """
    warehouse = warehouse or settings.warehouse_path
    log_dir = settings.data_dir / "logs" / "pipeline-postgres"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_schemas(warehouse, dsn)
    results = [StepResult("load raw → postgres", (settings.day_date(1),), time.perf_counter() - started)]
    if parallel:
        with ThreadPoolExecutor(max_workers=len(tools)) as pool:
            futures = [pool.submit(replay_days, settings, days, dsn, tool, log_dir) for tool in tools]
            for future in futures:
                results += future.result()
    else:
        for tool in tools:
            results += replay_days(settings, days, dsn, tool, log_dir)
    return results
