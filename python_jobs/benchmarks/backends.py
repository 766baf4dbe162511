"""Where the transform benchmark builds: a Backend prepares a fresh warehouse and points dbt and SQLMesh at it.

Its own module so the PostgreSQL backend (python_jobs/postgres/bench.py) and the benchmark that uses it
(python_jobs/benchmarks/transform.py) both import it without importing each other.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Backend:
    """Where both tools build: `prepare` makes a fresh warehouse from the raw one, `env` points the tools at it."""

    name: str
    prepare: Callable[[Path, Path], None]  # (raw-only warehouse, work folder) -> None
    env: Callable[[Path], dict[str, str]]  # work folder -> environment for dbt and SQLMesh
    dbt_args: tuple[str, ...] = ()
    sqlmesh_args: tuple[str, ...] = ()


def _duckdb_prepare(raw: Path, work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # Same file name: DuckDB's catalog is the file stem, and both tools' views name it.
    shutil.copyfile(raw, work / "warehouse.duckdb")


DUCKDB = Backend(
    name="duckdb",
    prepare=_duckdb_prepare,
    env=lambda work: {"WAREHOUSE_PATH": str(work / "warehouse.duckdb")},
)
BACKENDS = {"duckdb": DUCKDB}
