{#-
    SCD2 invariant: each key has at most one current version (valid_to = the high date).
    (A key may have none: an entity whose last version was closed by a hard delete.)
    Returns the offending keys; dbt fails the test when any row comes back.
-#}
{% test scd2_one_current_row(model, key, valid_to='valid_to') %}
select
    {{ key }},
    count(*) as current_versions
from {{ model }}
where {{ valid_to }} = {{ scd2_high_date() }}
group by {{ key }}
having count(*) > 1
{% endtest %}
