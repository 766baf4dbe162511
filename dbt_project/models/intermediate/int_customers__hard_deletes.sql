-- One row per hard delete seen in the daily customer extracts: the customer was in the extract of one load
-- day and is missing from the next one. Computed from the extracts alone, independently of the snapshot, so
-- dim_customers.closed_by_delete (and the scd2_no_gaps test built on it) can check the snapshot's work.
-- A customer deleted twice (deleted, returned, deleted again) has two rows.
-- A table, not a view like its neighbours: dim_customers and four tests read it, and as a view each of them compared
-- every pair of consecutive extracts of the history again (at 60 days of scale 10 on PostgreSQL ~8 s of a day's
-- tests). Rebuilt every run, as the SQLMesh twin (FULL), so it follows run_date.
{{ config(materialized='table') }}

with presence as (
    select distinct customer_id, loaded_on
    from {{ ref('stg_shop__customers') }}
),

extract_days as (
    select
        loaded_on,
        lag(loaded_on) over (order by loaded_on) as previous_loaded_on
    from (select distinct loaded_on from presence) as days
)

select
    seen.customer_id,
    extract_days.previous_loaded_on as last_seen_on,
    extract_days.loaded_on as deleted_on
from extract_days
inner join presence as seen
    on seen.loaded_on = extract_days.previous_loaded_on
left join presence as still_there
    on still_there.customer_id = seen.customer_id
    and still_there.loaded_on = extract_days.loaded_on
where still_there.customer_id is null
