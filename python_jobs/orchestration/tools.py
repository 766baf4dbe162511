"""How the pipeline starts each tool: the interpreters of the two environments, dbt, and their environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from python_jobs.config import REPO_ROOT, TELEMETRY_OFF

# The main environment runs this code; PyFlink lives in its own (docs/environment.md).
MAIN_PYTHON = sys.executable
STREAMING_PYTHON = str(REPO_ROOT / ".venv-streaming" / "bin" / "python")


def dbt_command(*args: str) -> tuple[str, ...]:
    return (str(Path(sys.executable).parent / "dbt"), *args)


def dbt_day_env(when: date, *, scoped_tests: bool = True) -> dict[str, str]:
    """The environment of one simulated day's `dbt build`: the day it processes (GROCERY_RUN_DATE), and
    GROCERY_TEST_SINCE = that day, so the tests of the big append-only tables check that day's rows, not the whole
    history again (dbt_project/macros/test_scope.sql). Day after day this tests every row once; with
    `scoped_tests=False` (empty GROCERY_TEST_SINCE) a build tests everything.
    Environment rather than --vars: a changed --vars makes dbt re-parse the whole project every day, these are
    read only at execution (dbt_project/macros/run_date.sql)."""
    day = when.isoformat()
    return {"GROCERY_RUN_DATE": day, "GROCERY_TEST_SINCE": day if scoped_tests else ""}


def child_env(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """A step's environment: this one, telemetry off, the repository importable, then the step's own."""
    return {**os.environ, **TELEMETRY_OFF, "PYTHONPATH": str(REPO_ROOT), **extra}
