{#-
    The combination of the given columns is unique (the grain of a table), e.g. (order_id, line_number).
    Returns each duplicated combination with its count.
-#}
{% test unique_combination_of_columns(model, combination) %}
select
    {{ combination | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1
{% endtest %}
