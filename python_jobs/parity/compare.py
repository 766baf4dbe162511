"""Compare two relations as multisets of rows, in both directions (`EXCEPT ALL`), on one or two connections.

A relation is a connection plus a SQL query. When both sides are queries on the same DuckDB connection the
comparison runs in place; otherwise each side is fetched as an Arrow table into a private in-memory DuckDB and
compared there, so a DuckDB warehouse can be checked against a PostgreSQL one (a psycopg connection, or any
DB-API connection) with the same code.

Column names are normalised (lower case) and matched by name, not by position: the two tools may order
columns differently. A difference in the column SETS is a mismatch by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Verdict:
    name: str
    left_rows: int
    right_rows: int
    columns: list[str]
    only_left: int = 0
    only_right: int = 0
    sample_left: list[Row] = field(default_factory=list)
    sample_right: list[Row] = field(default_factory=list)
    columns_only_left: list[str] = field(default_factory=list)
    columns_only_right: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.only_left or self.only_right or self.columns_only_left or self.columns_only_right)


def _fetch_arrow(con: Any, sql: str) -> pa.Table:
    if isinstance(con, duckdb.DuckDBPyConnection):
        return con.execute(sql).fetch_arrow_table()
    # Any DB-API connection (psycopg, ...): rows plus cursor.description.
    with con.cursor() as cur:
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    return (
        pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows])
        if rows
        else pa.table({n: pa.array([], pa.null()) for n in names})
    )


def _normalised(table: pa.Table) -> pa.Table:
    return table.rename_columns([c.strip('"').lower() for c in table.column_names])


def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [d[0].lower() for d in con.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0").description]


def _quoted(names: list[str]) -> str:
    return ", ".join('"' + n.replace('"', '""') + '"' for n in names)


def compare_relations(
    left_con: Any,
    left_sql: str,
    right_con: Any,
    right_sql: str,
    *,
    name: str = "relation",
    sample: int = 5,
) -> Verdict:
    """Rows of `left_sql` not in `right_sql` and vice versa (multiset semantics), plus a few of each."""
    if left_con is right_con and isinstance(left_con, duckdb.DuckDBPyConnection):
        con, left, right = left_con, f"({left_sql})", f"({right_sql})"
    else:
        con = duckdb.connect()
        # Registered Arrow tables are scanned in place by DuckDB: nothing is copied twice.
        con.register("parity_left", _normalised(_fetch_arrow(left_con, left_sql)))
        con.register("parity_right", _normalised(_fetch_arrow(right_con, right_sql)))
        left, right = "parity_left", "parity_right"
    left_cols, right_cols = _columns(con, f"SELECT * FROM {left}"), _columns(con, f"SELECT * FROM {right}")
    shared = [c for c in left_cols if c in right_cols]
    (left_rows,) = con.execute(f"SELECT count(*) FROM {left} AS l").fetchone()
    (right_rows,) = con.execute(f"SELECT count(*) FROM {right} AS r").fetchone()
    cols = _quoted(shared)
    # Sorted samples: the "first differing rows" are the same ones on every run.
    diff_left = f"SELECT {cols} FROM {left} AS l EXCEPT ALL SELECT {cols} FROM {right} AS r"
    diff_right = f"SELECT {cols} FROM {right} AS r EXCEPT ALL SELECT {cols} FROM {left} AS l"
    (only_left,) = con.execute(f"SELECT count(*) FROM ({diff_left}) AS d").fetchone()
    (only_right,) = con.execute(f"SELECT count(*) FROM ({diff_right}) AS d").fetchone()
    order = ", ".join(str(i + 1) for i in range(len(shared)))
    return Verdict(
        name=name,
        left_rows=left_rows,
        right_rows=right_rows,
        columns=shared,
        only_left=only_left,
        only_right=only_right,
        sample_left=con.execute(f"{diff_left} ORDER BY {order} LIMIT {sample}").fetchall()
        if only_left
        else [],
        sample_right=con.execute(f"{diff_right} ORDER BY {order} LIMIT {sample}").fetchall()
        if only_right
        else [],
        columns_only_left=[c for c in left_cols if c not in right_cols],
        columns_only_right=[c for c in right_cols if c not in left_cols],
    )
