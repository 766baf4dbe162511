{#-
    Use the configured schema name exactly as written: `staging`, `intermediate`, `marts`, `snapshots`, `seeds`.

    dbt's default would prefix it with the target schema (`main_staging`), which is useful when many developers
    share one warehouse. Here every learner has their own DuckDB file, and the SQLMesh project writes its own,
    differently named schemas into the same file, so short fixed names are the clearest.
    A node without a custom schema falls back to the target schema (`main` on DuckDB).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
