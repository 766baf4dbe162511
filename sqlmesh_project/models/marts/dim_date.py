"""A Python model: the calendar dimension, one row per simulated day from the project start to the day built.

Python because a calendar is a loop over dates, not a query over tables: pandas builds it in three lines, with the
same result on DuckDB and PostgreSQL (SQLMesh writes the DataFrame itself). There is no dbt twin, so the parity
check does not compare it; it joins fct_daily_sales.order_date to list the days without any sale too.
"""

from __future__ import annotations

import typing as t
from datetime import datetime

import pandas as pd
from sqlglot.expressions import to_column
from sqlmesh import ExecutionContext, model


@model(
    "sqlmesh_marts.dim_date",
    kind="FULL",
    columns={
        "date_day": "date",
        "iso_year": "int",
        "iso_week": "int",
        "day_of_week": "int",
        "day_name": "varchar",
        "is_weekend": "boolean",
        "day_number": "int",
    },
    grain="date_day",
    audits=[
        ("not_null", {"columns": [to_column("date_day"), to_column("day_number")]}),
        ("unique_values", {"columns": [to_column("date_day")]}),
    ],
    # Like the SQL models, only days already loaded into raw are built (signals/raw_loaded.py).
    signals=[("raw_loaded", {})],
    description="Calendar of the simulated days built so far (day_number 1 = the project start).",
)
def execute(
    context: ExecutionContext, start: datetime, end: datetime, execution_time: datetime, **kwargs: t.Any
) -> pd.DataFrame:
    # For a FULL model SQLMesh passes the model's start and the end of the last processed interval.
    days = pd.date_range(start.date(), end.date(), freq="D")
    iso = days.isocalendar()
    return pd.DataFrame(
        {
            "date_day": days.date,
            "iso_year": iso["year"].to_numpy(dtype="int32"),
            "iso_week": iso["week"].to_numpy(dtype="int32"),
            "day_of_week": iso["day"].to_numpy(dtype="int32"),
            "day_name": days.day_name(),
            "is_weekend": iso["day"].to_numpy() >= 6,
            "day_number": range(1, len(days) + 1),
        }
    )
