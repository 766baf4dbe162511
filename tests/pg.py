"""The throwaway-PostgreSQL fixture for the `test_postgres*` modules (import it from there).

Without PostgreSQL server binaries the tests skip with the reason; with GROCERY_REQUIRE_POSTGRES=1 (set by
.ci/run, which installs the server first) that skip becomes a failure, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from python_jobs.config import load_settings
from python_jobs.postgres.server import (
    PostgresServer,
    PostgresUnavailableError,
    find_bindir,
    throwaway_postgres,
)

REQUIRE_ENV = "GROCERY_REQUIRE_POSTGRES"


def skip_or_fail(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the session; each test module works in its own database (`new_database`)."""
    try:
        bindir = find_bindir(load_settings().pg_bindir)
    except PostgresUnavailableError as exc:
        skip_or_fail(f"PostgreSQL tests need a local server: {exc}")
    with throwaway_postgres(bindir=bindir) as server:
        yield server


def new_database(server: PostgresServer, name: str) -> str:
    """A fresh, empty database on `server`; returns its DSN."""
    return server.fresh_database(name)
