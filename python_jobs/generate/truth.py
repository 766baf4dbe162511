"""Ground truth files: what really happened on a simulated day, for checking the pipeline against."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from python_jobs.generate.clock import format_timestamp
from python_jobs.generate.customers import CustomerChange
from python_jobs.generate.stores import StoreChange
from python_jobs.generate.writer import write_atomic

CUSTOMER_CHANGE_COLUMNS = (
    "day",
    "customer_id",
    "change_kind",
    "field",
    "old_value",
    "new_value",
    "updated_at",
)
STORE_CHANGE_COLUMNS = ("day", "store_id", "change_kind", "field", "old_value", "new_value")
BAD_RECORD_COLUMNS = ("source", "file", "line", "kind", "key")


class BadRecord(NamedTuple):
    source: str
    file: str  # path relative to the landing folder, e.g. `2026-01-05/orders.csv`
    line: int  # 1-based physical line, header = 1; 0 for an empty file
    kind: str
    key: str  # the record's key (`order_id:line_number` for order lines), empty for an empty file


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def write_customer_changes(path: Path, changes: Sequence[CustomerChange]) -> None:
    rows = (
        (
            c.day.isoformat(),
            c.customer_id,
            c.change_kind,
            c.field,
            c.old_value,
            c.new_value,
            format_timestamp(c.updated_at),
        )
        for c in changes
    )
    write_atomic(path, csv_bytes(CUSTOMER_CHANGE_COLUMNS, rows))


def write_store_changes(path: Path, changes: Sequence[StoreChange]) -> None:
    rows = (
        (c.day.isoformat(), c.store_id, c.change_kind, c.field, c.old_value, c.new_value) for c in changes
    )
    write_atomic(path, csv_bytes(STORE_CHANGE_COLUMNS, rows))


def write_bad_records(path: Path, records: Sequence[BadRecord]) -> None:
    write_atomic(path, csv_bytes(BAD_RECORD_COLUMNS, sorted(records, key=lambda r: (r.file, r.line))))


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    write_atomic(path, (json.dumps(summary, indent=2) + "\n").encode("utf-8"))
