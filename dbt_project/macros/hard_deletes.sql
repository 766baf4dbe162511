{#-
    hard_deletes: one row per hard delete seen in daily extracts: the entity was in the extract of one load day
    and is missing from the next one (its key, last_seen_on, deleted_on). Shared by int_customers__hard_deletes
    and int_stores__hard_deletes.

    presence: SQL giving (key, loaded_on), the distinct load days each key was in the extract;
    key:      the entity's key column;
    since:    none, or a SQL date expression: only deletes found on or after it (an incremental window).
-#}
{% macro hard_deletes(presence, key, since=none) -%}
with presence as (
    {{ presence }}
),

extract_days as (
    select
        loaded_on,
        lag(loaded_on) over (order by loaded_on) as previous_loaded_on
    from (select distinct loaded_on from presence) as days
)

select
    seen.{{ key }},
    extract_days.previous_loaded_on as last_seen_on,
    extract_days.loaded_on as deleted_on
from extract_days
inner join presence as seen
    on seen.loaded_on = extract_days.previous_loaded_on
left join presence as still_there
    on still_there.{{ key }} = seen.{{ key }}
    and still_there.loaded_on = extract_days.loaded_on
where still_there.{{ key }} is null
{%- if since is not none %}
    and extract_days.loaded_on >= {{ since }}
{%- endif %}
{%- endmacro %}
