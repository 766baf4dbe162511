{#-
    optional_source: the staging select over a raw table that only an optional engine step writes (the Spark
    job's raw.batch_*, the Flink job's raw.sensor_*), typed once for both cases:
      - the table exists: `select cast(<source column> as <type>) as <column>, ... from <src> where
        _load_date <= run_date`, like every staging model;
      - it does not (a warehouse built without that engine step): an empty relation of the same columns and
        types, `select cast(null as <type>) as <column>, ... where false`, so every model downstream still builds.
    The twin of SQLMesh's @optional_raw (sqlmesh_project/macros/optional_raw.py), which takes the types from
    external_models.yaml instead.

    src:      the model's `source(...)` (called in the model itself, so dbt records the dependency);
    columns:  the staging columns in order, {column: type}; each is read from the raw column of the same name
              unless `renamed` names another ({column: raw column});
    the lineage columns _load_date → loaded_on (date) and _source_file → source_file (varchar), which every raw
    table has (docs/contracts.md), come last;
    by_day:   true (default) keeps the run_date filter; false for a table replaced whole, whose rows have no load
              day (_load_date is NULL: the geo module's static map, raw.geo_*), so every row is visible.
    While dbt parses (not executing) the empty branch is rendered: no connection is asked anything.
-#}
{% macro optional_source(src, columns, renamed={}, by_day=true) -%}
    {%- set typed = [] -%}
    {%- for column, type in columns.items() -%}
        {%- do typed.append((renamed.get(column, column), type, column)) -%}
    {%- endfor -%}
    {%- do typed.append(('_load_date', 'date', 'loaded_on')) -%}
    {%- do typed.append(('_source_file', 'varchar', 'source_file')) -%}
    {%- if execute and adapter.get_relation(src.database, src.schema, src.identifier) is not none %}
select
    {%- for raw_column, type, column in typed %}
    cast({{ raw_column }} as {{ type }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ src }}
        {%- if by_day %}
where {{ loaded_as_of_run_date() }}
        {%- endif %}
    {%- else %}
select
    {%- for raw_column, type, column in typed %}
    cast(null as {{ type }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
where false
    {%- endif %}
{%- endmacro %}
