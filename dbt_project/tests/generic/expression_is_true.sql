{#-
    A row-level rule written as a SQL boolean expression, e.g. `quantity > 0`.
    Returns the rows for which the expression is false or NULL.
    (column_name is unused: dbt passes it when the test is declared under a column.)
-#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
