-- Daily sales per order_date x store x product category.
-- Rule: cancelled orders are excluded (their latest status is 'cancelled'); every other status counts,
-- since a placed or picked order is expected to be delivered. Revenue is goods only (quantity * unit_price
-- paid): the delivery fee belongs to the order, not to a category, and is left out.
-- A full rebuild every day (a small table): a late order or a cancellation changes past days too.
with orders as (
    select order_id, order_date, store_id
    from {{ ref('fct_orders') }}
    where order_status <> 'cancelled'
),

lines as (
    select order_id, category_id, category_name, quantity, line_amount
    from {{ ref('int_order_lines__enriched') }}
)

select
    {{ surrogate_key(['orders.order_date', 'orders.store_id', 'lines.category_id']) }} as daily_sales_key,
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
