"""Bad-record injection: extra lines that the ingest must reject, derived from genuine rows.

Genuine rows are never touched. Each bad line is a copy of one genuine row of the same block with exactly
one defect, and is placed somewhere *after* that row; so "keep the first valid occurrence of every key"
always keeps the genuine row. The defects (the `kind` in `truth/<date>/bad_records.csv`):

- `malformed_date`: a date or timestamp that does not exist or is not ISO (`2026-01-32`, `05/01/2026 ...`).
- `negative_quantity`: an order line with quantity < 0.
- `unknown_foreign_key`: an order of a customer that never existed, or an order line of a product not in
  the catalogue. These get a key of their own (no genuine row has it), so their only defect is the
  foreign key.
- `duplicate_key`: the same key again, either an exact copy or a conflicting one (one other value differs,
  same `updated_at`, so "latest wins" cannot decide; the first occurrence is the genuine one).
- `wrong_column_count`: the last field missing, or one field too many.
- `broken_quoting`: the last field opens a `"` that the line never closes.
- `invalid_utf8`: one field in Latin-1 as a legacy system would send it (`Sch\\xe4fer`, or a number
  followed by a non-breaking space `\\xa0`, as spreadsheets export it).

Empty part files (the `empty_file` kind) are decided in day.py, as they are files rather than lines.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from python_jobs.generate.customers import CUSTOMER_COLUMNS
from python_jobs.generate.orders import (
    MAX_GENUINE_ORDERS_PER_DAY,
    ORDER_COLUMNS,
    ORDER_LINE_COLUMNS,
    STATUSES,
)
from python_jobs.generate.stores import STORE_COLUMNS
from python_jobs.generate.writer import Block, Insert

MALFORMED_DATE = "malformed_date"
NEGATIVE_QUANTITY = "negative_quantity"
UNKNOWN_FOREIGN_KEY = "unknown_foreign_key"
DUPLICATE_KEY = "duplicate_key"
WRONG_COLUMN_COUNT = "wrong_column_count"
BROKEN_QUOTING = "broken_quoting"
INVALID_UTF8 = "invalid_utf8"
EMPTY_FILE = "empty_file"

# Ids that never exist: customers and products are numbered from 1 and stay far below these offsets.
UNKNOWN_CUSTOMER_OFFSET = 900_000_000
UNKNOWN_PRODUCT_OFFSET = 90_000
# Order lines never exceed 8 per order; an unknown-product line takes the next free number from 9 on.
FIRST_SPARE_LINE_NUMBER = 9

Fields = list[str]


@dataclass(frozen=True)
class SourceSpec:
    """What the corruption needs to know about one source's columns."""

    name: str
    columns: tuple[str, ...]
    key_columns: tuple[int, ...]
    date_columns: tuple[int, ...]  # dates and timestamps
    latin1_column: int  # the field that invalid_utf8 re-encodes
    latin1_is_text: bool  # text gets an accented letter, numbers a trailing non-breaking space
    kinds: tuple[str, ...]  # the defects that make sense for this source
    conflict: Callable[[Fields], None]  # change one non-key value, for a conflicting duplicate

    def key(self, fields: Fields) -> str:
        return ":".join(fields[c] for c in self.key_columns)


def _conflicting_email(fields: Fields) -> None:
    local, _, domain = fields[3].partition("@")
    fields[3] = f"{local}@{'example.org' if domain != 'example.org' else 'example.com'}"


def _conflicting_size(fields: Fields) -> None:
    fields[3] = str(int(fields[3]) + 10)


def _conflicting_status(fields: Fields) -> None:
    fields[4] = STATUSES[(STATUSES.index(fields[4]) + 1) % len(STATUSES)]


def _conflicting_quantity(fields: Fields) -> None:
    fields[3] = str(int(fields[3]) + 1)


_COMMON = (MALFORMED_DATE, DUPLICATE_KEY, WRONG_COLUMN_COUNT, BROKEN_QUOTING, INVALID_UTF8)

SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec("customers", CUSTOMER_COLUMNS, (0,), (8, 9), 2, True, _COMMON, _conflicting_email),
        SourceSpec("stores", STORE_COLUMNS, (0,), (5,), 1, True, _COMMON, _conflicting_size),
        SourceSpec(
            "orders",
            ORDER_COLUMNS,
            (0,),
            (3, 6),
            5,
            False,
            (*_COMMON, UNKNOWN_FOREIGN_KEY),
            _conflicting_status,
        ),
        SourceSpec(
            "order_lines",
            ORDER_LINE_COLUMNS,
            (0, 1),
            (),
            4,
            False,
            (
                NEGATIVE_QUANTITY,
                UNKNOWN_FOREIGN_KEY,
                DUPLICATE_KEY,
                WRONG_COLUMN_COUNT,
                BROKEN_QUOTING,
                INVALID_UTF8,
            ),
            _conflicting_quantity,
        ),
    )
}
SOURCE_NAMES: tuple[str, ...] = tuple(SOURCES)


def _quote(value: str) -> str:
    """Minimal CSV quoting, as the genuine rows have it."""
    if "," in value or '"' in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _line(fields: list[str | bytes]) -> bytes:
    encoded = [f if isinstance(f, bytes) else _quote(f).encode("utf-8") for f in fields]
    return b",".join(encoded) + b"\n"


def _malformed(value: str, variant: int) -> str:
    """A broken version of an ISO date (`YYYY-MM-DD`) or timestamp (`YYYY-MM-DD HH:MM:SS`)."""
    date_part, time_part = value[:10], value[10:]
    year, month, day = date_part[:4], date_part[5:7], date_part[8:10]
    variants = [
        f"{day}/{month}/{year}{time_part}",  # day-first with slashes, as a spreadsheet would
        f"{year}-{month}-32{time_part}",  # a day that no month has
        f"{year}-13-{day}{time_part}",  # month 13
        "0000-00-00" + (" 00:00:00" if time_part else ""),  # the "zero date" of some databases
    ]
    if time_part:
        variants.append(f"{date_part} 25{time_part[3:]}")  # hour 25
    return variants[variant % len(variants)]


def _latin1(value: str, is_text: bool) -> bytes:
    if is_text:
        # Guarantee a non-ASCII letter, then encode as Latin-1: é becomes the lone byte 0xE9.
        accented = value.replace("e", "é", 1) if "e" in value else value + "é"
        return accented.encode("latin-1", errors="replace")
    return value.encode("ascii") + b"\xa0"


def _bad_line(
    spec: SourceSpec, kind: str, fields: Fields, genuine: bytes, rng: np.random.Generator, spare: Counter[str]
) -> tuple[bytes, str]:
    """The bad line of one kind derived from a genuine row, and the key to record for it."""
    key = spec.key(fields)
    bad: list[str | bytes] = list(fields)
    if kind == MALFORMED_DATE:
        column = spec.date_columns[rng.integers(len(spec.date_columns))]
        bad[column] = _malformed(fields[column], int(rng.integers(5)))
    elif kind == NEGATIVE_QUANTITY:
        bad[3] = f"-{fields[3]}"
    elif kind == UNKNOWN_FOREIGN_KEY and spec.name == "orders":
        # A fresh order id (genuine ids stay below this offset within a day) of a customer that never was.
        bad[0] = str(int(fields[0]) + MAX_GENUINE_ORDERS_PER_DAY)
        bad[1] = str(int(fields[1]) + UNKNOWN_CUSTOMER_OFFSET)
        key = bad[0]
    elif kind == UNKNOWN_FOREIGN_KEY and spec.name == "order_lines":
        # An extra line of a genuine order, for a product that is not in the catalogue.
        bad[1] = str(FIRST_SPARE_LINE_NUMBER + spare[fields[0]])
        spare[fields[0]] += 1
        bad[2] = str(int(fields[2]) + UNKNOWN_PRODUCT_OFFSET)
        key = f"{fields[0]}:{bad[1]}"
    elif kind == DUPLICATE_KEY:
        if rng.random() < 0.5:
            return genuine + b"\n", key
        conflicting = list(fields)
        spec.conflict(conflicting)
        bad = list(conflicting)
    elif kind == WRONG_COLUMN_COUNT:
        bad = bad[:-1] if rng.random() < 0.5 else [*bad, "extra"]
    elif kind == BROKEN_QUOTING:
        return _line(bad[:-1]).rstrip(b"\n") + b',"' + fields[-1].encode("utf-8") + b"\n", key
    elif kind == INVALID_UTF8:
        bad[spec.latin1_column] = _latin1(fields[spec.latin1_column], spec.latin1_is_text)
    else:
        raise ValueError(f"{kind} does not apply to {spec.name}")
    return _line(bad), key


def _parse(row: bytes) -> Fields:
    """Split one genuine row into its fields (genuine rows are valid UTF-8 with minimal quoting)."""
    return next(csv.reader([row.decode("utf-8")]))


def bad_lines(
    spec: SourceSpec, block: Block, share: float, rng: np.random.Generator, every_kind: bool
) -> list[Insert]:
    """About `share * n_rows` bad lines for a block; with `every_kind`, at least one of each kind."""
    if share <= 0 or block.n_rows == 0:
        return []
    n_bad = round(share * block.n_rows)
    kinds = list(spec.kinds) if every_kind else []
    kinds += [spec.kinds[k] for k in rng.integers(len(spec.kinds), size=max(0, n_bad - len(kinds)))]
    # Distinct source rows where possible, so two unknown-key lines never derive the same fresh key.
    if len(kinds) <= block.n_rows:
        rows = rng.choice(block.n_rows, size=len(kinds), replace=False)
    else:
        rows = rng.integers(block.n_rows, size=len(kinds))
    inserts: list[Insert] = []
    spare: Counter[str] = Counter()
    fresh_order_keys: set[str] = set()
    for kind, row in zip(kinds, rows.tolist(), strict=True):
        genuine = block.row(row)
        fields = _parse(genuine)
        if kind == UNKNOWN_FOREIGN_KEY and spec.name == "orders" and fields[0] in fresh_order_keys:
            kind = DUPLICATE_KEY  # only in blocks smaller than their bad-line count: keep fresh keys unique
        if kind == UNKNOWN_FOREIGN_KEY and spec.name == "orders":
            fresh_order_keys.add(fields[0])
        line, key = _bad_line(spec, kind, fields, genuine, rng, spare)
        # Anywhere after its genuine row: interleaved with the genuine rows, never before the original.
        inserts.append(Insert(int(rng.integers(row + 1, block.n_rows + 1)), line, kind, key))
    return inserts
