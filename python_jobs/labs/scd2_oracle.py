"""An independent oracle for the customer SCD2 history, built only from the generator's change log.

It knows nothing of dbt: it replays the logged changes with the rules docs/scd2.md states, so comparing it with
`marts.dim_customers` checks the snapshot configuration, the pinned clock and the hard-delete handling at once.

Rules (timestamp strategy, hard deletes invalidated, clock pinned to the midnight after each simulated day):
- `created`, `returned` and every attribute change open a version at the change's `updated_at`, closing the open
  one at the same instant (an address move logs one row per changed field, but it is one change).
- `deleted` closes the open version at the snapshot time of the day the customer vanished from the extract.
- The version still open at the end has valid_to 9999-12-31.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd

HIGH_DATE = pd.Timestamp("9999-12-31")
OPENING_KINDS = {"created", "returned", "address_move", "tier_change", "email_fix"}


def snapshot_time(day: date) -> pd.Timestamp:
    """The pinned snapshot clock for simulated day `day`: the midnight after it (the nightly load)."""
    return pd.Timestamp(datetime.combine(day + timedelta(days=1), time()))


def read_customer_changes(truth_dir: Path, days: Iterable[date]) -> pd.DataFrame:
    frames = [
        pd.read_csv(truth_dir / d.isoformat() / "customer_changes.csv", dtype=str, keep_default_na=False)
        for d in days
    ]
    changes = pd.concat(frames, ignore_index=True)
    changes["customer_id"] = changes["customer_id"].astype(int)
    changes["day"] = pd.to_datetime(changes["day"]).dt.date
    changes["updated_at"] = pd.to_datetime(changes["updated_at"])
    return changes


def expected_versions(changes: pd.DataFrame) -> pd.DataFrame:
    """One row per expected version: customer_id, valid_from, valid_to, opened_by, closed_by_delete."""
    events = (
        changes.groupby(["customer_id", "day", "change_kind"], as_index=False)["updated_at"]
        .first()
        .sort_values(["customer_id", "day", "updated_at"], kind="stable")
    )
    rows: list[dict[str, object]] = []
    for customer_id, history in events.groupby("customer_id", sort=True):
        current: dict[str, object] | None = None
        for event in history.itertuples(index=False):
            if event.change_kind == "deleted":
                if current is not None:
                    current.update(valid_to=snapshot_time(event.day), closed_by_delete=True)
                    rows.append(current)
                current = None
            elif event.change_kind in OPENING_KINDS:
                if current is not None:
                    current["valid_to"] = event.updated_at
                    rows.append(current)
                current = {
                    "customer_id": customer_id,
                    "valid_from": event.updated_at,
                    "valid_to": HIGH_DATE,
                    "opened_by": event.change_kind,
                    "closed_by_delete": False,
                }
            else:
                raise ValueError(f"unknown change kind {event.change_kind!r} for customer {customer_id}")
        if current is not None:
            rows.append(current)
    return pd.DataFrame(
        rows, columns=["customer_id", "valid_from", "valid_to", "opened_by", "closed_by_delete"]
    )


KEY = ["customer_id", "valid_from", "valid_to", "closed_by_delete"]


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    # 9999-12-31 is beyond pandas' nanosecond range, so the database side arrives as Python datetimes (object
    # dtype) while the oracle has Timestamps: compare both as ISO text. closed_by_delete as a plain bool.
    out = frame[KEY].copy()
    out["customer_id"] = out["customer_id"].astype(int)
    for col in ("valid_from", "valid_to"):
        out[col] = out[col].map(lambda v: pd.Timestamp(v).isoformat())
    out["closed_by_delete"] = out["closed_by_delete"].astype(bool)
    return out


def compare(expected: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """Versions present on one side only (`side` = expected_only / actual_only); empty when they agree.

    A version is (customer_id, valid_from, valid_to, closed_by_delete), and the sides are compared as multisets:
    a version twice in the dimension and once in the oracle gives one actual_only row, so duplicated rows count,
    and a version closed by a change that the dimension says was closed by a delete (or the reverse) shows on
    both sides."""

    def counted(frame: pd.DataFrame) -> pd.DataFrame:
        return _normalised(frame).groupby(KEY, as_index=False).size()

    merged = counted(expected).merge(counted(actual), how="outer", on=KEY, suffixes=("_expected", "_actual"))
    surplus = merged["size_expected"].fillna(0).astype(int) - merged["size_actual"].fillna(0).astype(int)
    rows = [
        {**dict(zip(KEY, key, strict=True)), "side": "expected_only" if n > 0 else "actual_only"}
        for key, n in zip(merged[KEY].itertuples(index=False, name=None), surplus, strict=True)
        for _ in range(abs(n))
    ]
    return pd.DataFrame(rows, columns=[*KEY, "side"]).sort_values(KEY).reset_index(drop=True)
