{#-
    SCD2 invariant: the history of a key is contiguous. When a version is followed by another one, the next
    version starts exactly when this one ends, unless this one was closed by a hard delete: then the entity
    did not exist for a while (deleted, later returned) and a gap is expected.
    `closed_by_delete` must be computed independently of the snapshot (dims compute it from the extracts), so
    this test really checks the snapshot against the source rather than against itself.
-#}
{% test scd2_no_gaps(model, key, valid_from='valid_from', valid_to='valid_to', closed_by_delete='closed_by_delete') %}
with ordered as (
    select
        {{ key }} as scd2_key,
        {{ valid_from }} as scd2_valid_from,
        {{ valid_to }} as scd2_valid_to,
        {{ closed_by_delete }} as scd2_closed_by_delete,
        lead({{ valid_from }}) over (partition by {{ key }} order by {{ valid_from }}) as next_valid_from
    from {{ model }}
)
select *
from ordered
where next_valid_from is not null
  and next_valid_from <> scd2_valid_to
  and not scd2_closed_by_delete
{% endtest %}
