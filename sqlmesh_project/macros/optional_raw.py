"""`@optional_raw(raw.t)`: a raw table written by an optional engine step, or an empty relation of its shape.

The twin of dbt's `optional_source` macro (dbt_project/macros/optional_source.sql, used by the staging models
over raw.batch_* and raw.sensor_*): a warehouse built without the Spark or Flink step has no `raw.batch_*` /
`raw.sensor_*` table, and the project must still plan and build there, with empty marts like dbt's. Without it SQLMesh fails twice:
creating a model's table dry-runs its query (`... WHERE FALSE LIMIT 0`), and evaluating an interval runs it.

Not a signal that waits for the table: the intervals would then stay missing, `sqlmesh plan` would list the
engine marts as "needing backfill" on every warehouse built without the engines, and `plan --no-prompts` exits
1 there (measured). The price of the empty relation: days processed before the table existed are done, and an
incremental mart needs a restatement of those days once the engine step has run (FULL marts catch up by
themselves). The pipeline runs the engine steps before SQLMesh every day, so it never meets the case.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator


@macro()
def optional_raw(evaluator: MacroEvaluator, table: exp.Expression) -> exp.Expression:
    """`table` if it exists, else `(SELECT CAST(NULL AS <type>) AS <column>, ... WHERE FALSE)`.

    The columns and types are the external model's (external_models.yaml). Without a connection (SQLMesh
    loading the project, `sqlmesh render`) the table itself is returned, so lineage and the model's dependencies
    see it.
    """
    target = exp.to_table(table.sql(dialect=evaluator.dialect), dialect=evaluator.dialect)
    adapter = evaluator.locals.get("engine_adapter")
    if adapter is None or adapter.table_exists(target):
        return target
    columns = evaluator.columns_to_types(target)
    empty = exp.select(
        *(exp.alias_(exp.cast(exp.null(), kind), name) for name, kind in columns.items())
    ).where(exp.false())
    # Unaliased: the model's own `AS <name>` after the macro call names it, whichever relation it is.
    return empty.subquery()


@macro()
def exists_in_optional(
    evaluator: MacroEvaluator, table: exp.Expression, condition: exp.Expression
) -> exp.Expression:
    """`EXISTS (SELECT 1 FROM table WHERE condition)` if `table` exists, else `FALSE`.

    For a check that asks a table some warehouses lack (the audit batch.sql asks ingest.load_manifest, which the
    Postgres copy of raw does not have): unlike @optional_raw it needs no column types, so the table needs no
    external model, and the model whose audit asks does not depend on it (a unit test would then need it as an
    input). Without a connection the EXISTS is returned."""
    target = exp.to_table(table.sql(dialect=evaluator.dialect), dialect=evaluator.dialect)
    adapter = evaluator.locals.get("engine_adapter")
    if adapter is not None and not adapter.table_exists(target):
        return exp.false()
    return exp.Exists(this=exp.select("1").from_(target).where(condition))
