-- Staging: rename and cast only (plus the run_date visibility filter, see stg_shop__customers).
-- Still one row per delivered VERSION of an order: picking the latest one is business logic and lives in
-- int_orders__latest_version.
select
    cast(order_id as bigint) as order_id,
    cast(customer_id as bigint) as customer_id,
    cast(store_id as bigint) as store_id,
    cast(order_ts as timestamp) as ordered_at,
    cast(status as varchar) as order_status,
    cast(delivery_fee as decimal(10, 2)) as delivery_fee,
    cast(updated_at as timestamp) as updated_at,
    cast(_load_date as date) as loaded_on,
    cast(_source_file as varchar) as source_file,
    cast(_source_line as bigint) as source_line
from {{ source('shop', 'orders') }}
where {{ loaded_as_of_run_date() }}
