-- The store table at the end of run_date: the rows of the latest full extract on or before run_date
-- (see int_customers__current_extract). snap_stores compares its descriptive columns (check strategy),
-- because stores carry no change timestamp.
-- A table rebuilt every run, for the reason given in int_customers__current_extract.
{{ config(materialized='table') }}

with stores as (
    select * from {{ ref('stg_shop__stores') }}
),

latest_extract as (
    select max(loaded_on) as loaded_on from stores
)

select
    stores.store_id,
    stores.store_name,
    stores.store_format,
    stores.size_sqm,
    stores.city,
    stores.opened_on
from stores
inner join latest_extract on stores.loaded_on = latest_extract.loaded_on
