"""The SQLMesh project's own unit tests (`sqlmesh test`: fixture rows in an in-memory DuckDB) pass, and fail when
an expectation is wrong (so they test something)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from python_jobs.config import REPO_ROOT

SQLMESH = str(REPO_ROOT / ".venv" / "bin" / "sqlmesh")


def sqlmesh_test(project: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SQLMESH__CACHE_DIR": str(cache)}
    return subprocess.run([SQLMESH, "test"], cwd=project, env=env, capture_output=True, text=True)


def test_unit_tests_pass(tmp_path: Path) -> None:
    proc = sqlmesh_test(REPO_ROOT / "sqlmesh_project", tmp_path / "cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Successfully Ran" in proc.stdout


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    # A copy beside its own seeds/ (the seed models read ../../../seeds): the repository stays untouched.
    shutil.copytree(REPO_ROOT / "seeds", tmp_path / "seeds")
    project = tmp_path / "sqlmesh_project"
    shutil.copytree(REPO_ROOT / "sqlmesh_project", project, ignore=shutil.ignore_patterns(".cache", "logs"))
    test_file = project / "tests" / "test_dim_customers.yaml"
    text = test_file.read_text()
    assert "closed_by_delete: true}" in text
    test_file.write_text(text.replace("closed_by_delete: true}", "closed_by_delete: false}"))
    proc = sqlmesh_test(project, tmp_path / "cache")
    assert proc.returncode != 0
    assert "test_dim_customers_versions" in proc.stdout + proc.stderr
