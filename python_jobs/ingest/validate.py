"""Vectorised row validation of one chunk against its declared schema (pure: DataFrame in, DataFrames out)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from python_jobs.ingest.schemas import Column, SourceSchema

_FORMATS = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%d %H:%M:%S"}


def _column_failures(col: Column, values: pd.Series) -> pd.Series:
    """The reason each value fails `col` (empty string where it passes)."""
    reasons = pd.Series("", index=values.index, dtype=object)
    empty = values.str.len() == 0
    if not col.nullable:
        reasons[empty] = "missing value"
    present = ~empty

    if col.kind in ("date", "timestamp"):
        parsed = pd.to_datetime(values.where(present), format=_FORMATS[col.kind], errors="coerce")
        reasons[present & parsed.isna()] = f"malformed {col.kind}"
    elif col.kind in ("int", "decimal"):
        numbers = pd.to_numeric(values.where(present), errors="coerce")
        bad_number = present & numbers.isna()
        if col.kind == "int":
            bad_number |= present & ~values.str.fullmatch(r"-?\d{1,18}").fillna(False)
        reasons[bad_number] = f"not a valid {col.kind}"
        if col.kind == "decimal":
            too_precise = (
                present & ~bad_number & ~values.str.fullmatch(r"-?\d{1,8}(\.\d{1,2})?").fillna(False)
            )
            reasons[too_precise] = "decimal out of DECIMAL(10,2) range"
        if col.min_value is not None:
            below = numbers <= col.min_value if col.min_exclusive else numbers < col.min_value
            op = ">" if col.min_exclusive else ">="
            reasons[present & ~bad_number & below.fillna(False)] = f"must be {op} {col.min_value:g}"
    if col.allowed is not None:
        reasons[present & ~values.isin(col.allowed)] = f"not one of {', '.join(col.allowed)}"
    return reasons


def validate_chunk(schema: SourceSchema, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `frame` (all-string columns named as the schema) into good rows and (row index, column, reason)."""
    first_reason = pd.Series("", index=frame.index, dtype=object)
    first_column = pd.Series("", index=frame.index, dtype=object)
    for col in schema.columns:
        reasons = _column_failures(col, frame[col.name])
        # Report the first failing column of a row: one quarantine row per bad input line.
        newly_bad = (reasons != "") & (first_reason == "")
        first_reason[newly_bad] = reasons[newly_bad]
        first_column[newly_bad] = col.name
    bad_mask = (first_reason != "").to_numpy()
    bad = pd.DataFrame(
        {"column_name": first_column[bad_mask], "reason": first_reason[bad_mask]},
        index=frame.index[bad_mask],
    )
    return frame[~bad_mask], bad


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({"column_name": np.array([], dtype=object), "reason": np.array([], dtype=object)})
