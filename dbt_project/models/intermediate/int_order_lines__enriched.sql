-- Order lines with their product and category from the reference seeds, and the line amount.
-- Inner joins are safe: the source tests check every product_id exists in the products seed, and a
-- product's category_id is tested against the categories seed.
with lines as (
    select * from {{ ref('stg_shop__order_lines') }}
),

products as (
    select * from {{ ref('products') }}
),

categories as (
    select * from {{ ref('categories') }}
)

select
    lines.order_id,
    lines.line_number,
    lines.product_id,
    products.product_name,
    products.is_perishable,
    products.category_id,
    categories.category_name,
    categories.department,
    lines.quantity,
    lines.unit_price,
    products.unit_price as list_price,
    cast(lines.quantity * lines.unit_price as decimal(12, 2)) as line_amount,
    lines.loaded_on
from lines
inner join products on lines.product_id = products.product_id
inner join categories on products.category_id = categories.category_id
