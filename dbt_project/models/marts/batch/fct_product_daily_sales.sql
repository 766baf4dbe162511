-- Daily sales per order_date x store x product, computed by the Spark batch job (python_jobs/batch), each
-- order day in the job's latest version up to run_date (int_batch__product_daily_latest). Same rule as fct_daily_sales (cancelled orders
-- out, goods only, no delivery fee), one level finer: product instead of category.
-- The job sums integer cents; revenue is turned back into decimal(14,2) by an exact decimal product (no
-- floating point), so a roll-up to categories compares with fct_daily_sales to the cent.
-- A full rebuild every day (a small table): the job rewrites the last 4 order days on every run.
with daily as (
    select * from {{ ref('int_batch__product_daily_latest') }}
),

products as (
    select product_id, product_name from {{ ref('products') }}
),

categories as (
    select category_id, category_name from {{ ref('categories') }}
)

select
    {{ surrogate_key(['daily.order_date', 'daily.store_id', 'daily.product_id']) }} as product_daily_sales_key,
    daily.order_date,
    daily.store_id,
    daily.product_id,
    products.product_name,
    daily.category_id,
    categories.category_name,
    cast(daily.order_count as integer) as order_count,
    cast(daily.line_count as integer) as line_count,
    cast(daily.item_count as integer) as item_count,
    cast(cast(daily.revenue_cents as decimal(18, 0)) * 0.01 as decimal(14, 2)) as revenue,
    daily.avg_quantity,
    daily.loaded_on
from daily
-- Left joins: a product or category missing from the seeds must fail the not_null tests, not vanish.
left join products on daily.product_id = products.product_id
left join categories on daily.category_id = categories.category_id
