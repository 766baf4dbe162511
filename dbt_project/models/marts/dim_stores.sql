-- Store dimension, SCD Type 2: one row per version of a store, from snap_stores (check strategy, so versions
-- start and end at the snapshot clock, the midnight after the day a change was seen).
with versions as (
    select
        store_id,
        store_name,
        store_format,
        size_sqm,
        city,
        opened_on,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to
    from {{ ref('snap_stores') }}
),

hard_deletes as (
    select store_id, deleted_on from {{ ref('int_stores__hard_deletes') }}
)

select
    {{ surrogate_key(['versions.store_id', 'versions.valid_from']) }} as store_sk,
    versions.store_id,
    versions.store_name,
    versions.store_format,
    versions.size_sqm,
    versions.city,
    versions.opened_on,
    versions.valid_from,
    versions.valid_to,
    versions.valid_to = {{ scd2_high_date() }} as is_current,
    -- From the extracts, independently of the snapshot (see dim_customers).
    hard_deletes.store_id is not null as closed_by_delete
from versions
left join hard_deletes
    on hard_deletes.store_id = versions.store_id
    and versions.valid_to <> {{ scd2_high_date() }}
    and hard_deletes.deleted_on = {{ scd2_closing_day('versions.valid_to') }}
