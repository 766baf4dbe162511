-- Staging: cast and rename; only partitions loaded up to run_date are visible (like every staging model).
-- The raw table exists only after the Spark step ran: without it, an empty result of the same shape.
{%- set src = source('batch', 'batch_product_daily') %}
{%- if execute and adapter.get_relation(src.database, src.schema, src.identifier) is not none %}
select
    cast(order_date as date) as order_date,
    cast(store_id as bigint) as store_id,
    cast(product_id as bigint) as product_id,
    cast(category_id as bigint) as category_id,
    cast(order_count as bigint) as order_count,
    cast(line_count as bigint) as line_count,
    cast(item_count as bigint) as item_count,
    cast(revenue_cents as bigint) as revenue_cents,
    cast(avg_quantity as double precision) as avg_quantity,
    cast(_load_date as date) as loaded_on,
    cast(_source_file as varchar) as source_file
from {{ src }}
where {{ loaded_as_of_run_date() }}
{%- else %}
select
    cast(null as date) as order_date, cast(null as bigint) as store_id, cast(null as bigint) as product_id,
    cast(null as bigint) as category_id, cast(null as bigint) as order_count, cast(null as bigint) as line_count,
    cast(null as bigint) as item_count, cast(null as bigint) as revenue_cents,
    cast(null as double precision) as avg_quantity, cast(null as date) as loaded_on,
    cast(null as varchar) as source_file
where false
{%- endif %}
