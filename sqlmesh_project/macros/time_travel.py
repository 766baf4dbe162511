"""The SQLMesh twin of dbt_project/macros/run_date.sql: what "the day being processed" means here.

dbt gets the simulated day from `--vars '{run_date: ...}'`. SQLMesh needs no variable: every evaluation has an
interval, and for a daily model processed at execution time `D+1 00:00` the interval's inclusive end is day D,
i.e. `@end_date` is dbt's run_date.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator


@macro()
def loaded_as_of(evaluator: MacroEvaluator, column: exp.Expression) -> exp.Expression:
    """`column <= <last day of the interval>`: hide raw rows delivered after the day being processed.

    A Python macro rather than a plain `<= @end_date` in every staging model: the rule has one home, and its
    docstring says why the end of the interval is the right bound.
    """
    end = evaluator.locals.get("end_date")
    # Without an interval (SQLMesh parsing a model, `sqlmesh render` without dates) any valid date keeps the
    # query valid; it never builds data. (A module-level constant would have to be serialised with the macro.)
    day = end.isoformat() if end is not None else "1970-01-01"
    return exp.LTE(this=column, expression=exp.cast(exp.Literal.string(day), exp.DataType.Type.DATE))
