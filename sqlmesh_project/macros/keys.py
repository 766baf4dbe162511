"""Python macros shared by the marts: the surrogate key and the SCD2 "closing day".

Both must render exactly what dbt_project/macros/{surrogate_key,scd2}.sql render, because the parity check
compares the two projects' marts value for value.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator


@macro()
def surrogate_key(evaluator: MacroEvaluator, *columns: exp.Expression) -> exp.Expression:
    """md5 of the columns cast to text, NULL as '<null>', joined with '|' (the dbt project's formula).

    SQLMesh's built-in @GENERATE_SURROGATE_KEY uses another NULL marker, so its keys would differ from dbt's.
    """
    parts: list[exp.Expression] = []
    for i, column in enumerate(columns):
        if i:
            parts.append(exp.Literal.string("|"))
        parts.append(
            exp.func("COALESCE", exp.cast(column, exp.DataType.Type.VARCHAR), exp.Literal.string("<null>"))
        )
    concatenated = parts[0]
    for part in parts[1:]:
        concatenated = exp.DPipe(this=concatenated, expression=part, safe=True)
    return exp.func("MD5", concatenated)


@macro()
def scd2_closing_day(evaluator: MacroEvaluator, valid_to: exp.Expression) -> exp.Expression:
    """The simulated day whose nightly run closed a version, from its valid_to.

    A version closed by a change (timestamp strategy) ends at the new version's updated_at, during the day whose
    extract delivered it; one closed by a hard delete or a by-column change ends at the execution time, the
    midnight AFTER the day. So: a valid_to exactly at midnight belongs to the day before.
    """
    as_date = exp.cast(valid_to.copy(), exp.DataType.Type.DATE)
    at_midnight = exp.EQ(
        this=valid_to.copy(), expression=exp.cast(as_date.copy(), exp.DataType.Type.TIMESTAMP)
    )
    day_before = exp.cast(
        exp.Sub(
            this=as_date.copy(), expression=exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY"))
        ),
        exp.DataType.Type.DATE,
    )
    return exp.Case(ifs=[exp.If(this=at_midnight, true=day_before)], default=as_date)
