{#-
    The snapshot clock, pinned to the simulated calendar.

    dbt stamps check-strategy versions (valid_from) and hard deletes (valid_to) with `snapshot_get_time()`,
    normally the wall clock. A teaching pipeline replays past days, so the clock must be the simulated one:
    the files for day D describe the upstream systems at the END of day D, so a change seen in them is stamped
    with the midnight after run_date, `cast('<run_date + 1 day> 00:00:00' as timestamp)`. That is also the
    interval end that SQLMesh uses as its execution time for a daily model, so both projects produce the same
    valid_from / valid_to values.

    dbt dispatches `snapshot_get_time` with adapter prefixes; a macro in the root project wins over the
    adapter's own, so we define the duckdb and postgres versions plus the default.
-#}
{% macro grocery_snapshot_time() -%}
    {%- set day = modules.datetime.date.fromisoformat(run_date()) -%}
    {%- set next_midnight = day + modules.datetime.timedelta(days=1) -%}
    cast('{{ next_midnight.isoformat() }} 00:00:00' as timestamp)
{%- endmacro %}

{% macro default__snapshot_get_time() -%}
    {{ grocery_snapshot_time() }}
{%- endmacro %}

{% macro duckdb__snapshot_get_time() -%}
    {{ grocery_snapshot_time() }}
{%- endmacro %}

{% macro postgres__snapshot_get_time() -%}
    {{ grocery_snapshot_time() }}
{%- endmacro %}
