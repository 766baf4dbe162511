-- fct_orders.order_total must equal the sum of the order's enriched lines plus its delivery fee, and the
-- counts must match the lines. Catches an incremental run that kept a stale row, or a bad join fan-out.
-- Returns the orders that disagree. With var test_since (macros/test_scope.sql) only the orders written since
-- then are checked, with all their lines.
with orders as (
    select order_id, order_total, delivery_fee, line_count, item_count
    from {{ ref('fct_orders') }}
    where {{ test_since_filter('last_loaded_on') }}
),

lines as (
    select
        order_id,
        count(*) as line_count,
        sum(quantity) as item_count,
        sum(line_amount) as items_amount
    from {{ ref('int_order_lines__enriched') }}
    {% if test_since() is not none -%}
    where order_id in (select order_id from orders)
    and {{ lines_loaded_since("select first_loaded_on from " ~ ref('fct_orders') ~ " where " ~ test_since_filter('last_loaded_on')) }}
    {% endif -%}
    group by order_id
)

select
    fct.order_id,
    fct.order_total,
    fct.delivery_fee,
    lines.items_amount,
    fct.line_count,
    lines.line_count as expected_line_count,
    fct.item_count,
    lines.item_count as expected_item_count
from orders as fct
left join lines on fct.order_id = lines.order_id
where fct.order_total <> coalesce(lines.items_amount, 0) + fct.delivery_fee
   or fct.line_count <> coalesce(lines.line_count, 0)
   or fct.item_count <> coalesce(lines.item_count, 0)
