"""Vectorised row validation of one chunk against its declared schema (pure: DataFrame in, DataFrames out).

The parsed values are what gets loaded, so the check and the conversion can never disagree: a value that passes
here is inserted as the typed value pandas produced, not re-parsed by the database.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from python_jobs.ingest.schemas import Column, SourceSchema

_FORMATS = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%d %H:%M:%S"}
_MAX_DECIMAL = 1e8  # DECIMAL(10,2): 8 digits before the point


def _parse_column(col: Column, values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (typed values, reason per row: '' where the value is fine)."""
    reasons = pd.Series("", index=values.index, dtype=object)
    empty = (values == "").to_numpy()
    if not col.nullable:
        reasons[empty] = "missing value"
    present = ~empty

    if col.kind in ("date", "timestamp"):
        parsed = pd.to_datetime(values.where(present), format=_FORMATS[col.kind], errors="coerce")
        reasons[present & parsed.isna().to_numpy()] = f"malformed {col.kind}"
        return parsed, reasons
    if col.kind == "str":
        if col.allowed is not None:
            reasons[present & ~values.isin(col.allowed).to_numpy()] = f"not one of {', '.join(col.allowed)}"
        return values, reasons

    numbers = pd.to_numeric(values.where(present), errors="coerce")
    bad = present & numbers.isna().to_numpy()
    if col.kind == "int":
        if numbers.dtype.kind != "i":
            # Slow path only for chunks that hold a non-integer somewhere ("1.5", "1e3", "x").
            bad |= present & ~values.str.fullmatch(r"-?\d{1,18}").fillna(False).to_numpy()
        reasons[bad] = "not a valid int"
        typed = pd.Series(
            pd.array(np.where(bad | empty, 0, numbers.fillna(0)), dtype="Int64"), index=values.index
        )
        typed[bad | empty] = pd.NA
    else:
        reasons[bad] = "not a valid decimal"
        cents = numbers.to_numpy(dtype=float) * 100
        with np.errstate(invalid="ignore"):
            out_of_range = (
                present
                & ~bad
                & ((np.abs(cents - np.round(cents)) > 1e-6) | (np.abs(cents) >= _MAX_DECIMAL * 100))
            )
        reasons[out_of_range] = "decimal out of DECIMAL(10,2) range or precision"
        bad |= out_of_range
        typed = numbers.astype(float)
    if col.min_value is not None:
        with np.errstate(invalid="ignore"):
            num = numbers.to_numpy(dtype=float)
            below = num <= col.min_value if col.min_exclusive else num < col.min_value
        op = ">" if col.min_exclusive else ">="
        reasons[present & ~bad & below] = f"must be {op} {col.min_value:g}"
    return typed, reasons


def validate_chunk(schema: SourceSchema, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split all-string `frame` into typed good rows and, per bad row, its first failing column and reason."""
    first_reason = pd.Series("", index=frame.index, dtype=object)
    first_column = pd.Series("", index=frame.index, dtype=object)
    typed = {}
    for col in schema.columns:
        typed[col.name], reasons = _parse_column(col, frame[col.name])
        # Report the first failing column of a row: one quarantine row per bad input line.
        newly_bad = ((reasons != "") & (first_reason == "")).to_numpy()
        first_reason[newly_bad] = reasons[newly_bad]
        first_column[newly_bad] = col.name
    bad_mask = (first_reason != "").to_numpy()
    bad = pd.DataFrame(
        {"column_name": first_column[bad_mask], "reason": first_reason[bad_mask]},
        index=frame.index[bad_mask],
    )
    good = pd.DataFrame(typed, index=frame.index)[~bad_mask]
    return good, bad
