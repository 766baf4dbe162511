{#-
    run_date: the simulated day this build processes, as a 'YYYY-MM-DD' string.

    By hand:        dbt build --vars '{run_date: 2026-01-07}'
    The pipeline:   GROCERY_RUN_DATE=2026-01-07 dbt build   (and GROCERY_TEST_SINCE, macros/test_scope.sql)
    Why two ways: dbt re-parses the whole project whenever --vars differ from the previous run's, and a daily
    pipeline changes its day every run, so it would pay a full parse every day (docs/measurements.md).
    The environment variables are read only while dbt executes, never while it parses,
    so dbt does not record them and keeps its partial parse from one day to the next. They can be read then
    because nothing parsed depends on the day: run_date and test_since are only used in SQL, hooks and the
    snapshot clock, all rendered when a node runs, never in a config() value. A var wins over the variable.
    Given neither, run_date defaults to the latest _load_date in raw.customers, which is still deterministic
    (it depends only on what has been loaded, never on the wall clock).
-#}
{#- A day given as var `name` or as environment variable GROCERY_<NAME>: none when not given (or empty), else its
    'YYYY-MM-DD' text. -#}
{% macro date_var(name) -%}
    {%- set given = var(name, none) -%}
    {%- if given is none and execute -%}
        {%- set given = env_var('GROCERY_' ~ (name | upper), '') -%}
    {%- endif -%}
    {#- YAML turns an unquoted 2026-01-07 into a date object: normalise and validate either way. -#}
    {%- set text = (given if given is not none else '') | string | trim -%}
    {%- if text == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " (or GROCERY_" ~ (name | upper) ~ ") must look like YYYY-MM-DD, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}


{% macro run_date() -%}
    {%- set given = date_var('run_date') -%}
    {%- if given is not none -%}
        {{ return(given) }}
    {%- endif -%}

    {#- At parse time dbt renders every model once without a database connection (`execute` is false): the
        value only has to be a syntactically valid date, it is never run. -#}
    {%- if not execute -%}
        {{ return('1970-01-01') }}
    {%- endif -%}

    {%- set customers = source('shop', 'customers') -%}
    {%- if adapter.get_relation(customers.database, customers.schema, customers.identifier) is none -%}
        {#- No raw data yet (e.g. `dbt docs generate` on an empty warehouse): nothing is visible. -#}
        {{ log("run_date: " ~ customers ~ " does not exist yet, using 1970-01-01 (no raw row is visible)", info=false) }}
        {{ return('1970-01-01') }}
    {%- endif -%}
    {%- set latest = run_query("select cast(max(_load_date) as varchar) from " ~ customers).columns[0].values()[0] -%}
    {{ return(latest if latest is not none else '1970-01-01') }}
{%- endmacro %}


{#- The run_date as a SQL date literal. -#}
{% macro run_date_literal() -%}
    cast('{{ run_date() }}' as date)
{%- endmacro %}


{#-
    The one row filter allowed in staging: hide raw rows delivered after the day being processed.
    This is what makes building day D reproducible even when later days are already in `raw`.
-#}
{% macro loaded_as_of_run_date(load_date_column='_load_date') -%}
    {{ load_date_column }} <= {{ run_date_literal() }}
{%- endmacro %}
