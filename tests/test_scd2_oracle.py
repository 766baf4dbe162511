"""The SCD2 oracle (python_jobs/labs/scd2_oracle.py) on a hand-written change log, and its comparison.

The change log has the generator's format (truth/<day>/customer_changes.csv). The expected history below is
written out by hand from the rules in the oracle's docstring (docs/scd2.md), not computed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from python_jobs.labs.scd2_oracle import compare, expected_versions, read_customer_changes

DAYS = [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7), date(2026, 1, 8)]

# day, customer_id, change_kind, field, old_value, new_value, updated_at
CHANGE_LOG = [
    # Customer 1: insert, a same-day double change (one address move logged as two field rows, one updated_at),
    # a hard delete, a re-insert (return).
    ("2026-01-05", 1, "created", "", "", "", "2025-11-01 10:00:00"),
    ("2026-01-06", 1, "address_move", "street_address", "1 Elm St", "9 Oak Ave", "2026-01-06 09:00:00"),
    ("2026-01-06", 1, "address_move", "city", "Metro", "Harbour", "2026-01-06 09:00:00"),
    ("2026-01-07", 1, "deleted", "", "", "", "2026-01-07 16:20:00"),
    ("2026-01-08", 1, "returned", "", "", "", "2026-01-08 14:00:00"),
    # Customer 2: insert, then an update (tier change).
    ("2026-01-05", 2, "created", "", "", "", "2025-06-01 08:00:00"),
    ("2026-01-06", 2, "tier_change", "loyalty_tier", "silver", "gold", "2026-01-06 12:30:00"),
    # Customer 3: signs up on day 2, deleted on day 4 (the last day).
    ("2026-01-06", 3, "created", "", "", "", "2026-01-06 18:00:00"),
    ("2026-01-08", 3, "deleted", "", "", "", "2026-01-08 03:00:00"),
]

HIGH = "9999-12-31 00:00:00"
# customer_id, valid_from, valid_to, opened_by, closed_by_delete
EXPECTED_BY_HAND = [
    (1, "2025-11-01 10:00:00", "2026-01-06 09:00:00", "created", False),
    # The move: one version, closed by the delete at the snapshot clock of day 3 (midnight after 2026-01-07).
    (1, "2026-01-06 09:00:00", "2026-01-08 00:00:00", "address_move", True),
    (1, "2026-01-08 14:00:00", HIGH, "returned", False),
    (2, "2025-06-01 08:00:00", "2026-01-06 12:30:00", "created", False),
    (2, "2026-01-06 12:30:00", HIGH, "tier_change", False),
    (3, "2026-01-06 18:00:00", "2026-01-09 00:00:00", "created", True),
]
COLUMNS = ["customer_id", "valid_from", "valid_to", "opened_by", "closed_by_delete"]


@pytest.fixture
def changes(tmp_path: Path) -> pd.DataFrame:
    header = "day,customer_id,change_kind,field,old_value,new_value,updated_at"
    for day in DAYS:
        folder = tmp_path / day.isoformat()
        folder.mkdir()
        lines = [",".join(map(str, row)) for row in CHANGE_LOG if row[0] == day.isoformat()]
        (folder / "customer_changes.csv").write_text("\n".join([header, *lines]) + "\n")
    return read_customer_changes(tmp_path, DAYS)


def dimension(rows: list[tuple]) -> pd.DataFrame:
    """`rows` (customer_id, valid_from, valid_to, opened_by, closed_by_delete) as marts.dim_customers gives them
    to pandas through DuckDB: timestamps typed by the engine, 9999-12-31 included."""
    con = duckdb.connect()
    try:
        con.execute(
            "create table dim (customer_id bigint, valid_from timestamp, valid_to timestamp, opened_by varchar, "
            "closed_by_delete boolean)"
        )
        if rows:
            con.executemany("insert into dim values (?, ?, ?, ?, ?)", rows)
        return con.sql(
            "select customer_id, valid_from, valid_to, closed_by_delete from dim order by all"
        ).df()
    finally:
        con.close()


def test_expected_history_equals_the_one_written_by_hand(changes: pd.DataFrame) -> None:
    oracle = expected_versions(changes)
    by_hand = pd.DataFrame(EXPECTED_BY_HAND, columns=COLUMNS)
    got = oracle.assign(valid_from=oracle.valid_from.astype(str), valid_to=oracle.valid_to.astype(str))
    got = got.sort_values(["customer_id", "valid_from"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, by_hand, check_dtype=False)


def test_a_dimension_with_the_hand_written_history_agrees(changes: pd.DataFrame) -> None:
    assert compare(expected_versions(changes), dimension(EXPECTED_BY_HAND)).empty


def test_a_duplicated_version_is_reported(changes: pd.DataFrame) -> None:
    duplicated = [*EXPECTED_BY_HAND, EXPECTED_BY_HAND[1]]
    diff = compare(expected_versions(changes), dimension(duplicated))
    assert diff.side.tolist() == ["actual_only"]
    assert (diff.customer_id.tolist(), diff.valid_from.tolist()) == ([1], ["2026-01-06T09:00:00"])


def test_a_missing_version_is_reported(changes: pd.DataFrame) -> None:
    diff = compare(expected_versions(changes), dimension(EXPECTED_BY_HAND[:-1]))
    assert diff[["customer_id", "side"]].values.tolist() == [[3, "expected_only"]]


def test_a_wrong_closed_by_delete_is_reported(changes: pd.DataFrame) -> None:
    wrong = [(*row[:4], not row[4]) if row[0] == 3 else row for row in EXPECTED_BY_HAND]
    diff = compare(expected_versions(changes), dimension(wrong))
    assert diff[["customer_id", "closed_by_delete", "side"]].values.tolist() == [
        [3, False, "actual_only"],
        [3, True, "expected_only"],
    ]
