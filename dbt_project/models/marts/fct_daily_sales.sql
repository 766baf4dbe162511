-- Daily sales per order_date x store x product category.
-- Rule: cancelled orders are excluded (their latest status is 'cancelled'); every other status counts,
-- since a placed or picked order is expected to be delivered. Revenue is goods only (quantity * unit_price
-- paid): the delivery fee belongs to the order, not to a category, and is left out.
-- Incremental by order day: a run deletes and recomputes the order days whose orders fct_orders rewrote
-- (macros/daily_sales_days.sql), as the SQLMesh twin replaces its lookback days: a full rebuild reads the
-- whole history every day (docs/measurements.md). The delete is a pre-hook, not
-- delete+insert on order_date: that would leave a day whose orders were all cancelled with its old rows.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{% if is_incremental() %}delete from {{ this }} where order_date in ({{ daily_sales_days() }}){% endif %}",
    )
}}

with orders as (
    select order_id, order_date, store_id
    from {{ ref('fct_orders') }}
    where order_status <> 'cancelled'
    {% if is_incremental() %}
    and order_date in ({{ daily_sales_days() }})
    {% endif %}
),

lines as (
    select order_id, category_id, category_name, quantity, line_amount
    from {{ ref('int_order_lines__enriched') }}
    {% if is_incremental() %}
    where {{ lines_loaded_since("select first_loaded_on from " ~ ref('fct_orders') ~ " where order_date in (" ~ daily_sales_days() ~ ")") }}
    {% endif %}
)

select
    -- Cast: PostgreSQL's md5() returns text, and an incremental run must match the contract's varchar exactly.
    cast({{ surrogate_key(['orders.order_date', 'orders.store_id', 'lines.category_id']) }} as varchar) as daily_sales_key,
    orders.order_date,
    orders.store_id,
    lines.category_id,
    lines.category_name,
    cast(count(distinct orders.order_id) as integer) as order_count,
    cast(sum(lines.quantity) as integer) as item_count,
    cast(sum(lines.line_amount) as decimal(14, 2)) as revenue
from orders
inner join lines on orders.order_id = lines.order_id
group by orders.order_date, orders.store_id, lines.category_id, lines.category_name
