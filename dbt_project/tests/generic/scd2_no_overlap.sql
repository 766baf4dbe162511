{#-
    SCD2 invariant: the versions of one key never overlap, so "the version valid at time t" is unique.
    Sorting the versions of a key by valid_from, each one must end no later than the next one starts.
    (Windows are half-open: [valid_from, valid_to).)
-#}
{% test scd2_no_overlap(model, key, valid_from='valid_from', valid_to='valid_to') %}
with ordered as (
    select
        {{ key }} as scd2_key,
        {{ valid_from }} as scd2_valid_from,
        {{ valid_to }} as scd2_valid_to,
        lead({{ valid_from }}) over (partition by {{ key }} order by {{ valid_from }}) as next_valid_from
    from {{ model }}
)
select *
from ordered
where next_valid_from is not null
  and scd2_valid_to > next_valid_from
{% endtest %}
