"""`@analyze_on_postgres()`: a post-statement that gives PostgreSQL's planner statistics on a table just written.

PostgreSQL plans from table statistics, which autovacuum's analyze collects some time after a write. SQLMesh
writes a model and, in the same run, immediately reads it from the next model, with yesterday's statistics or
none. ANALYZE right after the insert, in the same transaction (PostgreSQL samples the rows its own
transaction inserted), gives the next model's plan today's row counts and histograms. DuckDB plans without
such statistics: there the macro renders nothing.

Statistics alone did not fix the scale-10 cliff of docs/postgres.md: fct_orders also had to filter on a column
rather than on an expression, which has no statistics at all (see its header). Measured at scale 3, day 3:
256 s with statistics and the expression, 0.3 s for the same query on the column.

Put in the post-statements of every materialized model that another model (or an audit) reads in the same run.

`metadata_only`: planner statistics never change a row, so adding or editing the statement is a metadata
change for SQLMesh, not a breaking one: an existing warehouse keeps its tables. The engine is told by the
connection's dialect rather than by `@gateway = 'postgres'`: statistics are a property of the engine, whatever
the gateway is called.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator


@macro(metadata_only=True)
def analyze_on_postgres(evaluator: MacroEvaluator) -> exp.Expression | None:
    """`ANALYZE <this model's physical table>` on a PostgreSQL connection, nothing elsewhere (or while loading)."""
    adapter = evaluator.locals.get("engine_adapter")
    table = evaluator.locals.get("this_model")
    if adapter is None or table is None or adapter.dialect != "postgres":
        return None
    return exp.Analyze(this=table.copy())
