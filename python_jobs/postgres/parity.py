"""DuckDB ≡ Postgres: compare every table of a schema in the warehouse with its namesake in Postgres.

Both sides are read in one DuckDB session (the warehouse attached under its catalog name, Postgres as `pg` through the
postgres extension), so one `EXCEPT ALL` query per direction compares them row by row, duplicates included.

Normalisation: none by default. The extension maps PostgreSQL types onto DuckDB's (numeric(p,s) → DECIMAL(p,s),
timestamp → TIMESTAMP with the same microsecond precision, integer → INTEGER, text/varchar → VARCHAR, boolean,
date), and the dbt contracts fix every mart column's type on both engines. A column whose type still differs is
reported in `type_differences` and compared after casting the Postgres side to the warehouse's type, so a
type mismatch shows up as a finding rather than as thousands of "different" rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from python_jobs.postgres.attach import POSTGRES


@dataclass(frozen=True)
class RelationParity:
    relation: str
    duckdb_rows: int
    postgres_rows: int
    only_in_duckdb: int
    only_in_postgres: int
    type_differences: tuple[str, ...] = field(default=())

    @property
    def equal(self) -> bool:
        return (
            self.duckdb_rows == self.postgres_rows and self.only_in_duckdb == 0 and self.only_in_postgres == 0
        )


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [catalog, schema, table],
        ).fetchall()
    )


def tables_of(con: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ? "
            "ORDER BY 1",
            [catalog, schema],
        ).fetchall()
    ]


def compare_table(
    con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str, postgres_schema: str | None = None
) -> RelationParity:
    """Row counts and EXCEPT ALL both ways between <catalog>.<schema>.<table> and pg.<postgres_schema>.<table>."""
    pg_schema = postgres_schema or schema
    left = _columns(con, catalog, schema, table)
    right = _columns(con, POSTGRES, pg_schema, table)
    if set(left) != set(right):
        raise AssertionError(
            f"{schema}.{table}: columns differ (only in DuckDB: {sorted(set(left) - set(right))}, "
            f"only in Postgres: {sorted(set(right) - set(left))})"
        )
    differences = tuple(f"{c}: {left[c]} vs {right[c]}" for c in left if left[c] != right[c])
    left_cols = ", ".join(f'"{c}"' for c in left)
    right_cols = ", ".join(f'CAST("{c}" AS {left[c]})' if left[c] != right[c] else f'"{c}"' for c in left)
    left_sql = f'SELECT {left_cols} FROM "{catalog}"."{schema}"."{table}"'
    right_sql = f'SELECT {right_cols} FROM {POSTGRES}."{pg_schema}"."{table}"'
    # Materialise the Postgres side once: it is scanned three times below.
    con.execute(f"CREATE OR REPLACE TEMP TABLE _pg_side AS {right_sql}")
    (left_rows,) = con.execute(f"SELECT count(*) FROM ({left_sql})").fetchone()
    (right_rows,) = con.execute("SELECT count(*) FROM _pg_side").fetchone()
    (only_left,) = con.execute(f"SELECT count(*) FROM ({left_sql} EXCEPT ALL FROM _pg_side)").fetchone()
    (only_right,) = con.execute(f"SELECT count(*) FROM (FROM _pg_side EXCEPT ALL {left_sql})").fetchone()
    con.execute("DROP TABLE _pg_side")
    return RelationParity(
        f"{schema}.{table}", int(left_rows), int(right_rows), int(only_left), int(only_right), differences
    )


def compare_schema(
    con: duckdb.DuckDBPyConnection, catalog: str, schema: str, postgres_schema: str | None = None
) -> list[RelationParity]:
    tables = tables_of(con, catalog, schema)
    if not tables:
        raise AssertionError(f"the warehouse has no tables in schema {schema}")
    return [compare_table(con, catalog, schema, t, postgres_schema) for t in tables]
