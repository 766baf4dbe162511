-- The customer table as the upstream system shows it at the end of run_date: the rows of the latest full
-- extract delivered on or before run_date. This is what snap_customers compares with its current versions.
-- Taking the latest load day (rather than exactly run_date) keeps the snapshot sane if a day's extract is
-- missing: the previous state is repeated instead of every customer looking deleted.
-- A table rebuilt every run, not a view: the snapshot, its tests and the extract-vs-dimension test all read
-- it, and as a view each of them looked for the latest extract in every extract of the history again.
{{ config(materialized='table') }}

with customers as (
    select * from {{ ref('stg_shop__customers') }}
),

latest_extract as (
    select max(loaded_on) as loaded_on from customers
)

select
    customers.customer_id,
    customers.first_name,
    customers.last_name,
    customers.email,
    customers.street_address,
    customers.city,
    customers.postal_code,
    customers.loyalty_tier,
    customers.signed_up_on,
    customers.updated_at
from customers
inner join latest_extract on customers.loaded_on = latest_extract.loaded_on
