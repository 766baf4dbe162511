"""Order-independent checksums of warehouse tables, to prove two runs built the same warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb


def table_checksums(warehouse: Path, schemas: tuple[str, ...] = ("marts",)) -> dict[str, tuple[int, str]]:
    """`schema.table` → (row count, md5 over the sorted text form of every row)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            f"WHERE table_schema IN ({', '.join('?' for _ in schemas)}) ORDER BY 1",
            list(schemas),
        ).fetchall()
        out = {}
        for (name,) in names:
            # Sorting the rows' text makes the checksum independent of physical row order.
            count, digest = con.execute(
                f"SELECT count(*), coalesce(md5(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR))), '') "
                f"FROM {name} AS t"
            ).fetchone()
            out[name] = (int(count), str(digest))
        return out
    finally:
        con.close()


# Every schema a run builds, both tools' (SQLMesh's user-facing views, not its versioned physical tables).
WAREHOUSE_SCHEMAS = (
    *("raw", "ingest", "seeds", "staging", "intermediate", "snapshots", "marts"),
    *("sqlmesh_intermediate", "sqlmesh_snapshots", "sqlmesh_marts"),
)


def main(argv: list[str] | None = None) -> int:
    """`python -m python_jobs.checksums WAREHOUSE [SCHEMA ...]`: one line per table, to diff two runs."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(
            f"usage: python -m python_jobs.checksums WAREHOUSE [SCHEMA ...]  (default: {' '.join(WAREHOUSE_SCHEMAS)})"
        )
        return 0 if args else 2
    schemas = tuple(args[1:]) or WAREHOUSE_SCHEMAS
    for name, (count, digest) in table_checksums(Path(args[0]), schemas).items():
        print(f"{name}\t{count}\t{digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
