"""Shared fixtures: every test gets its own data folder and warehouse under tmp_path."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from python_jobs.config import REPO_ROOT, TELEMETRY_OFF, Settings, load_settings

# Telemetry off in this process and every one it starts, with the project's one list of switches.
os.environ.update(TELEMETRY_OFF)
# Each pytest process gets its own SQLMesh cache rather than sqlmesh_project/.cache, so two runs at once (or
# pytest-xdist workers) never write the same cache files (a test that needs its own still sets it).
if "SQLMESH__CACHE_DIR" not in os.environ:
    os.environ["SQLMESH__CACHE_DIR"] = tempfile.mkdtemp(prefix="sqlmesh-cache-")
    atexit.register(shutil.rmtree, os.environ["SQLMESH__CACHE_DIR"], True)

# Longest files first, so that with `pytest -n 2 --dist loadfile --no-loadscope-reorder` the end-to-end pipeline
# starts at once on one worker while the other works through the rest; the order within a file is unchanged.
SLOWEST_FIRST = (
    "test_pipeline.py",
    "test_postgres_marts.py",
    "test_parity.py",
    "test_batch_cluster.py",
    "test_dbt_project.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: collection order within a rank


# One tests/ folder, two environments: the main one (DuckDB, no PyFlink) never collects tests/streaming, and the
# streaming one (PyFlink, no DuckDB) collects only tests/streaming.
if importlib.util.find_spec("pyflink") is not None and importlib.util.find_spec("duckdb") is None:
    collect_ignore_glob = [
        "test_*.py",
        *(f"{d.name}/*" for d in Path(__file__).parent.iterdir() if d.is_dir() and d.name != "streaming"),
    ]
else:
    collect_ignore_glob = ["streaming/*"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    return load_settings({}).with_(data_dir=data, warehouse_path=data / "warehouse.duckdb")


def run_module(module: str, *args: str, env: dict[str, str] | None = None, check: bool = True):
    """Run `python -m module args` from the repo root, like a user or the pipeline would."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=full_env, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{module} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc
