-- The Spark job and dbt compute daily sales independently from the same landing files (the job validates and
-- stages them itself; dbt reads what the ingest loaded) under the same rule. Rolled up from products to
-- categories, units and revenue must equal fct_daily_sales for every order day, store and category.
-- order_count is not compared: distinct orders per product do not add up to distinct orders per category.
-- Holds for any run_date, also when replaying an earlier day over raw tables that hold later days: the batch
-- side reads each order day in its latest version up to run_date, as fct_daily_sales reads the orders.
{%- set manifest = source('ingest', 'load_manifest') %}
{%- set has_manifest = execute and adapter.get_relation(manifest.database, manifest.schema, manifest.identifier) is not none %}
with from_batch as (
    select order_date, store_id, category_id, sum(item_count) as item_count, sum(revenue) as revenue
    from {{ ref('fct_product_daily_sales') }}
    group by order_date, store_id, category_id
),

from_dbt as (
    select order_date, store_id, category_id, item_count, revenue
    from {{ ref('fct_daily_sales') }}
),

-- Compared when the batch side has data, or when the load manifest says the Spark step's output was loaded up
-- to run_date (then an empty batch mart is a failure, not a warehouse built without Spark). A warehouse built
-- without the Spark step has neither: nothing to compare.
batch_present as (
    select
        (select count(*) > 0 from from_batch)
        {%- if has_manifest %}
        or exists (
            select 1 from {{ manifest }}
            where source = 'batch_product_daily' and load_date <= {{ run_date_literal() }}
        )
        {%- endif %} as present
)

select
    coalesce(from_batch.order_date, from_dbt.order_date) as order_date,
    coalesce(from_batch.store_id, from_dbt.store_id) as store_id,
    coalesce(from_batch.category_id, from_dbt.category_id) as category_id,
    from_batch.item_count as batch_items,
    from_dbt.item_count as dbt_items,
    from_batch.revenue as batch_revenue,
    from_dbt.revenue as dbt_revenue
from from_batch
full outer join from_dbt
    on from_batch.order_date = from_dbt.order_date
    and from_batch.store_id = from_dbt.store_id
    and from_batch.category_id = from_dbt.category_id
cross join batch_present
where batch_present.present
  and (from_batch.item_count is distinct from from_dbt.item_count
       or from_batch.revenue is distinct from from_dbt.revenue)
