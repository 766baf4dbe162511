-- Staging over the Spark batch job's raw.batch_product_daily: rename and cast only, plus the load-day filter
-- (EMBEDDED for the reason in stg_shop__customers). _load_date is the run day whose version of the
-- order day the row is (every run's version is kept).
-- The table exists only once the Spark step has run: @optional_raw (macros/optional_raw.py) stands in an empty
-- relation of the same columns otherwise, like the dbt twin's `adapter.get_relation` branch.
MODEL (
  name sqlmesh_staging.stg_batch__product_daily,
  kind EMBEDDED
);

SELECT
  CAST(order_date AS DATE) AS order_date,
  CAST(store_id AS BIGINT) AS store_id,
  CAST(product_id AS BIGINT) AS product_id,
  CAST(category_id AS BIGINT) AS category_id,
  CAST(order_count AS BIGINT) AS order_count,
  CAST(line_count AS BIGINT) AS line_count,
  CAST(item_count AS BIGINT) AS item_count,
  CAST(revenue_cents AS BIGINT) AS revenue_cents,
  CAST(avg_quantity AS DOUBLE) AS avg_quantity,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file
FROM @optional_raw(raw.batch_product_daily) AS batch_product_daily
WHERE
  @loaded_as_of(_load_date)
