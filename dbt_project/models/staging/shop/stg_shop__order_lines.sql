-- Staging: rename and cast only (plus the run_date visibility filter, see stg_shop__customers).
select
    cast(order_id as bigint) as order_id,
    cast(line_number as integer) as line_number,
    cast(product_id as bigint) as product_id,
    cast(quantity as integer) as quantity,
    cast(unit_price as decimal(10, 2)) as unit_price,
    cast(_load_date as date) as loaded_on,
    cast(_source_file as varchar) as source_file,
    cast(_source_line as bigint) as source_line
from {{ source('shop', 'order_lines') }}
where {{ loaded_as_of_run_date() }}
