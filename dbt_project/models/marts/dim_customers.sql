-- Customer dimension, SCD Type 2: one row per version of a customer, straight from snap_customers.
-- Facts join it with `event_time >= valid_from and event_time < valid_to` to get the version valid then.
with versions as (
    select
        customer_id,
        first_name,
        last_name,
        email,
        street_address,
        city,
        postal_code,
        loyalty_tier,
        signed_up_on,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to
    from {{ ref('snap_customers') }}
),

hard_deletes as (
    select customer_id, deleted_on from {{ ref('int_customers__hard_deletes') }}
)

select
    -- Hash of the natural key and the version start: stable across runs and full refreshes.
    {{ surrogate_key(['versions.customer_id', 'versions.valid_from']) }} as customer_sk,
    versions.customer_id,
    versions.first_name,
    versions.last_name,
    versions.email,
    versions.street_address,
    versions.city,
    versions.postal_code,
    versions.loyalty_tier,
    versions.signed_up_on,
    versions.valid_from,
    versions.valid_to,
    versions.valid_to = {{ scd2_high_date() }} as is_current,
    -- From the extracts, not from the snapshot: the customer is absent from the extract of the day whose
    -- snapshot run closed this version (macro scd2_closing_day).
    hard_deletes.customer_id is not null as closed_by_delete
from versions
left join hard_deletes
    on hard_deletes.customer_id = versions.customer_id
    and versions.valid_to <> {{ scd2_high_date() }}
    and hard_deletes.deleted_on = {{ scd2_closing_day('versions.valid_to') }}
