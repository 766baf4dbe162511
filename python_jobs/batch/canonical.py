"""Read any engine's output the same way and reduce it to a checksum, so engines can be compared exactly.

An engine writes either one Parquet file per table (`<out>/<table>.parquet`) or a Spark-style folder partitioned
by day (`<out>/<table>/day=<date>/part-*.parquet`). Only committed partition folders are read: Spark's in-flight
`.spark-staging-*` and `_temporary` folders start with `.` or `_` and are never matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from python_jobs.batch.semantics import OUTPUTS

_TYPES = {
    "order_date": "DATE",
    "as_of": "DATE",
    "last_order_date": "DATE",
    "avg_quantity": "DOUBLE",
    "avg_basket_items": "DOUBLE",
    "avg_basket_cents": "DOUBLE",
    "avg_order_cents": "DOUBLE",
}


@dataclass(frozen=True)
class TableSummary:
    table: str
    rows: int
    checksum: str


def table_files(out_dir: Path, table: str) -> list[Path]:
    single = out_dir / f"{table}.parquet"
    if single.exists():
        return [single]
    return sorted((out_dir / table).glob("day=*/*.parquet"))


def canonical_sql(out_dir: Path, table: str) -> str:
    """A SELECT of the table with every column cast to its canonical type, in contract order."""
    files = table_files(out_dir, table)
    if not files:
        raise FileNotFoundError(f"no output files for {table} under {out_dir}")
    listing = ", ".join(f"'{f.as_posix()}'" for f in files)
    cols = ", ".join(f"CAST({c} AS {_TYPES.get(c, 'BIGINT')}) AS {c}" for c in OUTPUTS[table])
    return f"SELECT {cols} FROM read_parquet([{listing}], hive_partitioning = false)"


def summarise(out_dir: Path, table: str) -> TableSummary:
    """Row count and an order-independent checksum (sum of row hashes; a duplicated row changes it)."""
    con = duckdb.connect()
    try:
        rows, total = con.execute(
            f"SELECT count(*), coalesce(sum(hash({', '.join(OUTPUTS[table])})::HUGEINT), 0) "
            f"FROM ({canonical_sql(out_dir, table)})"
        ).fetchone()
    finally:
        con.close()
    return TableSummary(table, int(rows), f"{int(total) & (2**128 - 1):032x}")


def summarise_all(out_dir: Path) -> dict[str, TableSummary]:
    return {table: summarise(out_dir, table) for table in OUTPUTS}


def differences(left: Path, right: Path, table: str, limit: int = 5) -> list[tuple]:
    """Rows in one output and not the other (both directions), for a readable test failure."""
    con = duckdb.connect()
    try:
        a, b = canonical_sql(left, table), canonical_sql(right, table)
        return con.execute(
            f"(SELECT 'left only', * FROM (({a}) EXCEPT ALL ({b}))) UNION ALL "
            f"(SELECT 'right only', * FROM (({b}) EXCEPT ALL ({a}))) LIMIT {limit}"
        ).fetchall()
    finally:
        con.close()
