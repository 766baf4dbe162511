"""The throwaway PostgreSQL server (python_jobs.postgres.server) and the skip/require switch of its fixture."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from python_jobs.config import REPO_ROOT
from python_jobs.postgres.server import PostgresUnavailableError, find_bindir, throwaway_postgres
from tests.pg import REQUIRE_ENV, skip_or_fail

pytestmark = pytest.mark.postgres


def test_server_listens_on_loopback_only_and_is_removed_afterwards() -> None:
    try:
        find_bindir()
    except PostgresUnavailableError as exc:
        skip_or_fail(str(exc))
    with throwaway_postgres(database="lifecycle") as server:
        root = server.data_dir.parent
        with psycopg.connect(server.dsn) as con:
            assert con.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
            assert con.execute("SELECT current_database(), current_user").fetchone() == (
                "lifecycle",
                server.user,
            )
        assert server.env()["PGPORT"] == str(server.port)
        if os.geteuid() == 0:
            # PostgreSQL refuses root: the files must belong to the account the server runs as.
            assert server.data_dir.stat().st_uid == pwd.getpwnam("postgres").pw_uid
        # A wrong password is refused over TCP (scram), so dbt/SQLMesh really authenticate.
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(server.dsn.replace(f":{server.password}@", ":wrong@")).close()
    assert not root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.dsn, connect_timeout=2).close()


def _run_fixture_user(tmp_path: Path, require: bool) -> subprocess.CompletedProcess[str]:
    """Run a one-test pytest session that asks for the fixture while no server binaries can be found."""
    test = tmp_path / "test_needs_postgres.py"
    test.write_text(
        "from tests.pg import postgres_server  # noqa: F401\n\ndef test_it(postgres_server):\n    pass\n"
    )
    empty = tmp_path / "no-binaries"
    empty.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_ENV}
    env |= {"PYTHONPATH": str(REPO_ROOT), "GROCERY_PG_BINDIR": str(empty)}
    if require:
        env[REQUIRE_ENV] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(test),
            "-rsf",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )


def test_without_binaries_the_tests_skip_with_the_reason(tmp_path: Path) -> None:
    proc = _run_fixture_user(tmp_path, require=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout
    assert "no PostgreSQL server binaries (initdb, pg_ctl) found in GROCERY_PG_BINDIR" in proc.stdout


def test_with_require_set_a_missing_server_fails(tmp_path: Path) -> None:
    proc = _run_fixture_user(tmp_path, require=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 error" in proc.stdout
    assert f"{REQUIRE_ENV}=1 forbids skipping" in proc.stdout
