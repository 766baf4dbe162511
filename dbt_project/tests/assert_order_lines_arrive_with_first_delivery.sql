-- Every order line was loaded on its order's first delivery day (the source contract: "the lines of every order
-- delivered for the first time that day"). Incremental builds rely on it to read only recent lines
-- (macros/lines_loaded_since.sql; SQLMesh's fct_orders, fct_daily_sales and order-total audit, which also rely
-- on an order never being delivered before the day it was placed: the source test on raw orders).
-- With var test_since only the lines loaded since then are checked.
select
    lines.order_id,
    lines.line_number,
    lines.loaded_on,
    orders.first_loaded_on
from {{ ref('int_order_lines__enriched') }} as lines
inner join {{ ref('int_orders__latest_version') }} as orders
    on lines.order_id = orders.order_id
where {{ test_since_filter('lines.loaded_on') }}
    and lines.loaded_on <> orders.first_loaded_on
