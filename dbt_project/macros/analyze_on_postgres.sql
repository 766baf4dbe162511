{#-
    ANALYZE a table dbt has just written, on PostgreSQL only: its planner plans from table statistics, which
    autovacuum collects some time after a write, and dbt-postgres collects none. After an incremental run the
    statistics still describe yesterday's table: a test filtering on today's load day was estimated at one row
    and planned as a nested loop (the customer_sk relationships test of fct_orders became many times slower
    after an incremental day than after a full build; docs/measurements.md). A post-hook of every table, incremental model and
    snapshot (dbt_project.yml); views have no statistics of their own. The SQLMesh twin: macros/planner.py.
-#}
{% macro analyze_on_postgres() -%}
    {%- if target.type == 'postgres' and model.config.materialized in ('table', 'incremental', 'snapshot') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
