-- Staging: cast and rename; only snapshots (as_of days) loaded up to run_date are visible.
-- The raw table exists only after the Spark step ran: without it, an empty result of the same shape.
{%- set src = source('batch', 'batch_customer_rfm') %}
{%- if execute and adapter.get_relation(src.database, src.schema, src.identifier) is not none %}
select
    cast(as_of as date) as as_of,
    cast(customer_id as bigint) as customer_id,
    cast(last_order_date as date) as last_order_date,
    cast(recency_days as bigint) as recency_days,
    cast(frequency as bigint) as frequency,
    cast(monetary_cents as bigint) as monetary_cents,
    cast(avg_order_cents as double precision) as avg_order_cents,
    cast(_load_date as date) as loaded_on,
    cast(_source_file as varchar) as source_file
from {{ src }}
where {{ loaded_as_of_run_date() }}
{%- else %}
select
    cast(null as date) as as_of, cast(null as bigint) as customer_id, cast(null as date) as last_order_date,
    cast(null as bigint) as recency_days, cast(null as bigint) as frequency, cast(null as bigint) as monetary_cents,
    cast(null as double precision) as avg_order_cents, cast(null as date) as loaded_on,
    cast(null as varchar) as source_file
where false
{%- endif %}
