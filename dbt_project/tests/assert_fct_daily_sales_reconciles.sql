-- Revenue and items in fct_daily_sales add up to the goods value and items of the non-cancelled orders in
-- fct_orders, per order_date and store (the documented rule: cancelled orders out, delivery fee out).
with from_sales as (
    select order_date, store_id, sum(revenue) as revenue, sum(item_count) as item_count
    from {{ ref('fct_daily_sales') }}
    group by order_date, store_id
),

from_orders as (
    select order_date, store_id, sum(items_amount) as revenue, sum(item_count) as item_count
    from {{ ref('fct_orders') }}
    where order_status <> 'cancelled'
      and line_count > 0
    group by order_date, store_id
)

select
    coalesce(from_sales.order_date, from_orders.order_date) as order_date,
    coalesce(from_sales.store_id, from_orders.store_id) as store_id,
    from_sales.revenue as sales_revenue,
    from_orders.revenue as orders_revenue,
    from_sales.item_count as sales_items,
    from_orders.item_count as orders_items
from from_sales
full outer join from_orders
    on from_sales.order_date = from_orders.order_date
    and from_sales.store_id = from_orders.store_id
where from_sales.revenue is distinct from from_orders.revenue
   or from_sales.item_count is distinct from from_orders.item_count
