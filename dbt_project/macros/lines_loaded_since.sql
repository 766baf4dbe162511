{#-
    A filter that lets a query read only the order lines its orders can have: lines arrive with their order's
    first delivery, so the lines of a set of orders were all loaded on or after the earliest first_loaded_on
    among them. Given the SQL of that set of orders (with a first_loaded_on column), returns
    `<column> >= cast('<day>' as date)`, or true when the set is empty or when not executing.

    The day is looked up first and written into the query as a literal, not as a subquery: PostgreSQL plans a
    literal range against its statistics and the BRIN index on raw._load_date and reads the last days' blocks;
    with a subquery it guessed a third of the table and read all 5.2M lines (60 days of scale 10).
    The SQLMesh twin bounds the same lines with its interval's first day (@start_date).
-#}
{% macro lines_loaded_since(orders_sql, column='loaded_on') -%}
    {%- if not execute -%}
        {{ return('(1 = 1)') }}
    {%- endif -%}
    {%- set earliest = run_query(
        'select cast(min(first_loaded_on) as varchar) from (' ~ orders_sql ~ ') as selected_orders'
    ).columns[0].values()[0] -%}
    {%- if earliest is none -%}
        {{ return('(1 = 1)') }}
    {%- endif -%}
    {{ return(column ~ " >= cast('" ~ earliest ~ "' as date)") }}
{%- endmacro %}
