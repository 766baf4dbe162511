"""Build the warehouse of a run in a private folder, then publish it over the previous one in one rename.

Readers keep the previous good warehouse until the new one is complete, a failed or killed run leaves it
untouched, and running the pipeline twice gives the same warehouse instead of a doubled one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from python_jobs.config import Settings
from python_jobs.orchestration.definitions import plan
from python_jobs.orchestration.lock import BUILD_PREFIX, clear_stale_builds
from python_jobs.orchestration.runner import run_steps
from python_jobs.orchestration.steps import Step, StepResult


def build_warehouse(
    settings: Settings,
    days: int,
    *,
    jobs: int = 1,
    on_start: Callable[[Step], None] = lambda step: None,
    on_done: Callable[[Step, StepResult], None] = lambda step, result: None,
) -> list[StepResult]:
    """Days 1..`days` into a private warehouse, published atomically. Hold the data folder's lock."""
    clear_stale_builds(settings.data_dir)
    build_dir = settings.data_dir / "tmp" / f"{BUILD_PREFIX}{os.getpid()}"
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True)
    # Same file name as the published warehouse: DuckDB names the catalog after the file, and dbt's views
    # refer to it, so the file must not be renamed to another stem after the build.
    warehouse = build_dir / settings.warehouse_path.name
    log_dir = settings.data_dir / "logs" / "pipeline"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    try:
        steps = plan(settings, range(1, days + 1), warehouse)
        results = run_steps(steps, log_dir, jobs=jobs, on_start=on_start, on_done=on_done)
        publish(warehouse, settings.warehouse_path)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    return results


def publish(built: Path, target: Path) -> None:
    """Fold the WAL into the file so the single file is the whole warehouse, then swap it in with one rename.

    os.replace is atomic on one file system: a reader, or a run killed at any instant, sees either the old
    file or the new one, never a mix."""
    con = duckdb.connect(str(built))
    con.execute("CHECKPOINT")
    con.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    os.replace(built, target)
