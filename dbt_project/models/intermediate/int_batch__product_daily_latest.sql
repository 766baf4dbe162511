-- One row per order day x store x product: the Spark job's latest version of that order day up to run_date.
-- The job's run of day D rewrites the order days D-3..D, and the loader keeps every run's version (loaded_on =
-- the run day), so an order day has up to four versions; the latest visible one is what the job would show on
-- run_date, and a replay of an earlier day sees that day's version. A whole order day is taken from one run:
-- a product-store row that vanished in a later version (its only order cancelled) must vanish here too.
-- (A window function in a subquery rather than DuckDB's QUALIFY, so it also runs on PostgreSQL.)
with versions as (
    select
        *,
        max(loaded_on) over (partition by order_date) as latest_run
    from {{ ref('stg_batch__product_daily') }}
)

select
    order_date,
    store_id,
    product_id,
    category_id,
    order_count,
    line_count,
    item_count,
    revenue_cents,
    avg_quantity,
    loaded_on,
    source_file
from versions
where loaded_on = latest_run
