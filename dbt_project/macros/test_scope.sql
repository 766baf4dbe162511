{#-
    Tests of the big, append-only tables can check only what a run added, as an incremental model builds only
    what is new. Without this every daily `dbt build` re-tests the whole history: at 60 days of scale 10 the tests
    were ~85 % of an incremental day on PostgreSQL and made the day as slow as a full refresh.

    How it is switched on: the var `test_since` ('YYYY-MM-DD'), the first load day not yet tested, or the
    environment variable GROCERY_TEST_SINCE (how the pipeline passes it: see macros/run_date.sql). The pipeline
    passes its run_date (each day's build tests that day's rows). Without either, and always with
    --full-refresh, every test reads the whole table, so a hand-typed `dbt build` stays a complete check.

    What is scoped: the generic tests of every model or source whose YAML declares its load-day column,
        config:
          meta:
            load_day_column: last_loaded_on
    (the day a row was last written), through dbt's documented hook for that, an override of get_where_subquery.
    Singular tests call test_since_filter() themselves.

    Uniqueness is not scoped like the others: a new row may duplicate an old one, so a unique test keeps every row
    whose key occurs among the new rows (new keys against the whole table). not_null, accepted_values,
    expression_is_true and the child side of relationships look at the new rows only; the parent side of a
    relationships test and the SCD2 tests always read everything.
-#}
{% macro test_since() -%}
    {%- if flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(date_var('test_since')) }}
{%- endmacro %}


{#- A predicate for singular tests: `column >= test_since`, or true when the whole table is tested. -#}
{% macro test_since_filter(column) -%}
    {%- set since = test_since() -%}
    {%- if since is none -%}
        (1 = 1)
    {%- else -%}
        {{ column }} >= cast('{{ since }}' as date)
    {%- endif -%}
{%- endmacro %}


{#- The load-day column a model or source declares in meta (see above), or none. Looked up among the running
    test's own parents (one or two), not the whole graph: that loop ran for every test and made each build slower. -#}
{% macro load_day_column_of(relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set name = (relation.identifier or '') | lower -%}
    {%- set schema = (relation.schema or '') | lower -%}
    {%- for unique_id in model.depends_on.nodes -%}
        {%- set node = graph.sources.get(unique_id) if unique_id.startswith('source.') else graph.nodes.get(unique_id) -%}
        {%- if node -%}
            {%- set node_name = (node.identifier if node.resource_type == 'source' else node.alias) or node.name -%}
            {%- if (node.schema | lower) == schema and (node_name | lower) == name -%}
                {{ return(node.config.meta.get('load_day_column')) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}


{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set since = test_since() -%}
    {%- set load_day_column = load_day_column_of(relation) if since is not none else none -%}
    {%- if load_day_column is none -%}
        {#- dbt's own behaviour. -#}
        {{ return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) }}
    {%- endif -%}

    {%- set new_rows -%}
        {{ load_day_column }} >= cast('{{ since }}' as date)
    {%- endset -%}
    {%- set test = model.test_metadata or {} -%}
    {%- set kwargs = test.get('kwargs', {}) -%}
    {%- if test.get('name') == 'unique' -%}
        {%- set keys = [kwargs.get('column_name')] -%}
    {%- elif test.get('name') == 'unique_combination_of_columns' -%}
        {%- set keys = kwargs.get('combination') or [] -%}
    {%- else -%}
        {%- set keys = [] -%}
    {%- endif -%}

    {%- if keys -%}
        {%- set filtered -%}
            (
                select whole.*
                from {{ relation }} as whole
                inner join (
                    select distinct {{ keys | join(', ') }} from {{ relation }} where {{ new_rows }}
                ) as new_keys
                    on {% for key in keys %}whole.{{ key }} = new_keys.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
                {% if where %}where {{ where }}{% endif %}
            ) dbt_subquery
        {%- endset -%}
    {%- else -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ new_rows }}{% if where %} and ({{ where }}){% endif %}) dbt_subquery
        {%- endset -%}
    {%- endif -%}
    {{ return(filtered) }}
{%- endmacro %}
