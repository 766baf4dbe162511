-- Staging: rename and cast only (plus the load-day filter; EMBEDDED for the reason in stg_shop__customers).
-- Still one row per delivered VERSION of an order; int_orders__latest_version keeps the latest.
MODEL (
  name sqlmesh_staging.stg_shop__orders,
  kind EMBEDDED
);

SELECT
  CAST(order_id AS BIGINT) AS order_id,
  CAST(customer_id AS BIGINT) AS customer_id,
  CAST(store_id AS BIGINT) AS store_id,
  CAST(order_ts AS TIMESTAMP) AS ordered_at,
  CAST(status AS VARCHAR) AS order_status,
  CAST(delivery_fee AS DECIMAL(10, 2)) AS delivery_fee,
  CAST(updated_at AS TIMESTAMP) AS updated_at,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file,
  CAST(_source_line AS BIGINT) AS source_line
FROM raw.orders
WHERE
  @loaded_as_of(_load_date)
