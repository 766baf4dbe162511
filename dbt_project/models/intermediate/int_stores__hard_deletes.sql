-- One row per store that disappears from the daily store extract (present on one load day, missing from the
-- next). Same logic as int_customers__hard_deletes; feeds dim_stores.closed_by_delete.
-- A table rebuilt every run, for the reason given in int_customers__hard_deletes.
{{ config(materialized='table') }}

with presence as (
    select distinct store_id, loaded_on
    from {{ ref('stg_shop__stores') }}
),

extract_days as (
    select
        loaded_on,
        lag(loaded_on) over (order by loaded_on) as previous_loaded_on
    from (select distinct loaded_on from presence) as days
)

select
    seen.store_id,
    extract_days.previous_loaded_on as last_seen_on,
    extract_days.loaded_on as deleted_on
from extract_days
inner join presence as seen
    on seen.loaded_on = extract_days.previous_loaded_on
left join presence as still_there
    on still_there.store_id = seen.store_id
    and still_there.loaded_on = extract_days.loaded_on
where still_there.store_id is null
