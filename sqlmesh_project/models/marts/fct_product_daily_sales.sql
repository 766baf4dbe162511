-- Daily sales per order_date x store x product, computed by the Spark batch job (python_jobs/batch); raw keeps
-- every run's version of an order day (_load_date = run day), and each order day is taken in the version of the
-- latest run up to the interval's end (dbt does the same in int_batch__product_daily_latest). Same rule as fct_daily_sales (cancelled orders out, goods
-- only, no delivery fee), one level finer. The twin of dbt's marts.fct_product_daily_sales (a full rebuild).
--
-- INCREMENTAL_BY_TIME_RANGE on order_date with `lookback 3`: the lookback is the Spark job's own window. Its
-- run of day D rewrites exactly the order days D-3..D (loaded as run D's version), so SQLMesh re-selects the
-- same order days and every older day is final, in raw as here. Rows of those days are delete+inserted, so a
-- product-store-day that vanished from a rewritten partition (its only order cancelled) vanishes here too.
-- Days processed before raw.batch_product_daily existed read nothing (@optional_raw): restate them.
-- The job sums integer cents; revenue goes back to DECIMAL(14, 2) by an exact decimal product.
MODEL (
  name sqlmesh_marts.fct_product_daily_sales,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column order_date,
    lookback 3
  ),
  signals [raw_loaded()],
  -- Not read by the query: the roll-up audit compares with fct_daily_sales, which must be built first.
  depends_on [sqlmesh_marts.fct_daily_sales],
  grain product_daily_sales_key,
  audits (
    not_null(
      columns := (
        product_daily_sales_key,
        order_date,
        store_id,
        product_id,
        product_name,
        category_id,
        category_name,
        order_count,
        line_count,
        item_count,
        revenue,
        avg_quantity,
        loaded_on
      )
    ),
    unique_values(columns := (product_daily_sales_key)),
    unique_combination_of_columns(columns := (order_date, store_id, product_id)),
    forall(
      criteria := (
        order_count > 0,
        item_count > 0,
        revenue > 0,
        order_count <= line_count AND line_count <= item_count,
        ABS(avg_quantity * line_count - item_count) < 1e-6,
        loaded_on >= order_date
      )
    ),
    product_daily_rolls_up_to_daily_sales()
  )
);

WITH versions AS (
  SELECT
    *,
    MAX(loaded_on) OVER (PARTITION BY order_date) AS latest_run
  FROM sqlmesh_staging.stg_batch__product_daily
  WHERE
    order_date BETWEEN @start_date AND @end_date
), daily AS (
  /* One run's version per order day: a row that vanished in a later version must vanish here too. */
  SELECT * FROM versions WHERE loaded_on = latest_run
), products AS (
  SELECT product_id, product_name FROM sqlmesh_seeds.products
), categories AS (
  SELECT category_id, category_name FROM sqlmesh_seeds.categories
)
SELECT
  @surrogate_key(daily.order_date, daily.store_id, daily.product_id) AS product_daily_sales_key,
  daily.order_date,
  daily.store_id,
  daily.product_id,
  products.product_name,
  daily.category_id,
  categories.category_name,
  CAST(daily.order_count AS INT) AS order_count,
  CAST(daily.line_count AS INT) AS line_count,
  CAST(daily.item_count AS INT) AS item_count,
  CAST(CAST(daily.revenue_cents AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(14, 2)) AS revenue,
  daily.avg_quantity,
  daily.loaded_on
FROM daily
/* Left joins: a product or category missing from the seeds must fail the not_null audit, not vanish. */
LEFT JOIN products
  ON daily.product_id = products.product_id
LEFT JOIN categories
  ON daily.category_id = categories.category_id
