-- The twin of dbt's singular test assert_batch_product_daily_rolls_up_to_fct_daily_sales: the Spark job and
-- SQLMesh compute daily sales independently (the job from the landing files, SQLMesh from raw) under the same
-- rule, so fct_product_daily_sales rolled up to categories equals fct_daily_sales in units and revenue.
-- order_count is not compared: distinct orders per product do not add up to distinct orders per category.
-- On the incremental model the audit sees the processed order days (@this_model is filtered to the interval,
-- lookback included), so fct_daily_sales is cut to the same days. No batch rows at all: nothing to compare,
-- unless ingest.load_manifest lists a load of the Spark job's output for a day of the interval: then the Spark
-- step ran and an empty batch side fails. A warehouse without the manifest table (Postgres copies only raw)
-- counts as listing nothing (@exists_in_optional), as a warehouse built without the Spark step has no such row.
-- It holds for a replay of an earlier day too (python_jobs.postgres copies every raw day at once, then builds
-- day by day): the mart reads each order day in its latest version up to the interval, as fct_daily_sales reads
-- the orders.
AUDIT (
  name product_daily_rolls_up_to_daily_sales
);
WITH from_batch AS (
  SELECT order_date, store_id, category_id, SUM(item_count) AS item_count, SUM(revenue) AS revenue
  FROM @this_model
  GROUP BY order_date, store_id, category_id
), from_sqlmesh AS (
  SELECT order_date, store_id, category_id, item_count, revenue
  FROM sqlmesh_marts.fct_daily_sales
  WHERE order_date BETWEEN @start_date AND @end_date
)
SELECT
  COALESCE(from_batch.order_date, from_sqlmesh.order_date) AS order_date,
  COALESCE(from_batch.store_id, from_sqlmesh.store_id) AS store_id,
  COALESCE(from_batch.category_id, from_sqlmesh.category_id) AS category_id,
  from_batch.item_count AS batch_items,
  from_sqlmesh.item_count AS sqlmesh_items,
  from_batch.revenue AS batch_revenue,
  from_sqlmesh.revenue AS sqlmesh_revenue
FROM from_batch
FULL OUTER JOIN from_sqlmesh
  ON from_batch.order_date = from_sqlmesh.order_date
  AND from_batch.store_id = from_sqlmesh.store_id
  AND from_batch.category_id = from_sqlmesh.category_id
WHERE (
    EXISTS (SELECT 1 FROM from_batch)
    OR @exists_in_optional(
      ingest.load_manifest,
      source = 'batch_product_daily' AND load_date BETWEEN @start_date AND @end_date
    )
  )
  AND (from_batch.item_count IS DISTINCT FROM from_sqlmesh.item_count
    OR from_batch.revenue IS DISTINCT FROM from_sqlmesh.revenue);
