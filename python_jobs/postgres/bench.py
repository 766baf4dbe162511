"""The PostgreSQL backend of the transform benchmark (python_jobs/benchmarks/transform.py).

Each tool gets its own fresh database on one throwaway server, filled by the project's loader from the same
raw-only warehouse the DuckDB backend copies; the load itself is preparation, like the DuckDB file copy, and is
not part of the measured commands. dbt runs with `--target postgres`, SQLMesh with `--gateway postgres`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg

from python_jobs.benchmarks.backends import Backend
from python_jobs.parity import compare_relations
from python_jobs.parity.marts import DBT_SCHEMA, SHARED_MARTS, SQLMESH_SCHEMA
from python_jobs.postgres.load import load_schemas
from python_jobs.postgres.server import PostgresServer


def _database(work: Path) -> str:
    # One database per work folder (…/postgres/dbt, …/postgres/sqlmesh): the two tools never share state.
    return f"bench_{work.name}"


def postgres_backend(server: PostgresServer) -> Backend:
    def prepare(raw: Path, work: Path) -> None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        load_schemas(raw, server.fresh_database(_database(work)))

    def env(work: Path) -> dict[str, str]:
        # WAREHOUSE_PATH: SQLMesh opens every gateway of config.yaml, the unused DuckDB one in memory then
        # (python_jobs/sqlmesh_step.py), not the repository's warehouse file.
        return {**server.env(), "PGDATABASE": _database(work), "WAREHOUSE_PATH": ":memory:"}

    return Backend(
        name="postgres",
        prepare=prepare,
        env=env,
        dbt_args=("--target", "postgres"),
        sqlmesh_args=("--gateway", "postgres"),
    )


def _connect(env: dict[str, str]) -> psycopg.Connection:
    return psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=env["PGDATABASE"],
    )


def check_same_marts_postgres(dbt_env: dict[str, str], sqlmesh_env: dict[str, str]) -> None:
    """The Postgres twin of the benchmark's DuckDB check: dbt's and SQLMesh's marts (two databases) are equal."""
    with _connect(dbt_env) as left, _connect(sqlmesh_env) as right:
        for mart in SHARED_MARTS:
            verdict = compare_relations(
                left,
                f"SELECT * FROM {DBT_SCHEMA}.{mart}",
                right,
                f"SELECT * FROM {SQLMESH_SCHEMA}.{mart}",
                name=mart,
            )
            if not verdict.ok:
                raise RuntimeError(
                    f"on Postgres, dbt and SQLMesh disagree on {mart} after the benchmark: {verdict}"
                )
