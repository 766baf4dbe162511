"""Simulated time as whole seconds since 1970-01-01 (naive local metro time, no time zone arithmetic).

Plain int64 seconds keep timestamps vectorisable in numpy and pyarrow; they are only turned into text
(`YYYY-MM-DD HH:MM:SS`) at the very end, when a file is written.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np

SECONDS_PER_DAY = 86_400
_EPOCH = date(1970, 1, 1)


def day_start(when: date) -> int:
    """Seconds at 00:00:00 of a calendar day."""
    return (when - _EPOCH).days * SECONDS_PER_DAY


def epoch_day(when: date) -> int:
    """Days since 1970-01-01, the integer form in which dates are kept in arrays."""
    return (when - _EPOCH).days


def format_timestamp(seconds: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(seconds=int(seconds))).strftime("%Y-%m-%d %H:%M:%S")


def format_date(days: int) -> str:
    return (_EPOCH + timedelta(days=int(days))).isoformat()


def format_timestamps(seconds: np.ndarray) -> list[str]:
    """Vectorised `format_timestamp`: numpy renders ISO text with a `T`, the contract wants a space."""
    iso = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    return [text.replace("T", " ") for text in iso.tolist()]


def format_dates(days: np.ndarray) -> list[str]:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D").tolist()
