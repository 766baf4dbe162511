-- One row per order: its latest delivered version, maintained incrementally BY UNIQUE KEY on order_id.
--
-- The interval here is the LOAD day (`loaded_on`), not the order's own time: every version of an order arrives
-- exactly once, in one load, so processing each day's loads and merging on order_id picks up late-arriving
-- orders and re-sent updates however old the order is, with no lookback. Compare fct_orders (by time range on
-- the order date), which needs a lookback for the same data.
--
-- The merge must not let an older version win: the day's versions are ranked together with the version
-- already kept (@this_model), with the dbt twin's order (updated_at, then the later delivery, then its place
-- in the file), and the first load day is carried over.
MODEL (
  name sqlmesh_intermediate.int_orders__latest_version,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key order_id
  ),
  signals [raw_loaded()],
  grain order_id,
  audits (not_null(columns := (order_id, ordered_at, updated_at)), unique_values(columns := (order_id)))
);

WITH delivered AS (
  SELECT
    order_id,
    customer_id,
    store_id,
    ordered_at,
    order_status,
    delivery_fee,
    updated_at,
    loaded_on,
    source_file,
    source_line,
    loaded_on AS first_loaded_on
  FROM sqlmesh_staging.stg_shop__orders
  WHERE
    loaded_on BETWEEN @start_date AND @end_date
), kept AS (
  SELECT
    order_id,
    customer_id,
    store_id,
    ordered_at,
    order_status,
    delivery_fee,
    updated_at,
    last_loaded_on AS loaded_on,
    last_source_file AS source_file,
    last_source_line AS source_line,
    first_loaded_on
  FROM @this_model
  WHERE
    order_id IN (SELECT order_id FROM delivered)
), ranked AS (
  SELECT
    *,
    MIN(first_loaded_on) OVER (PARTITION BY order_id) AS first_loaded_on_overall,
    ROW_NUMBER() OVER (
      PARTITION BY order_id
      ORDER BY updated_at DESC, loaded_on DESC, source_file DESC, source_line DESC
    ) AS version_rank
  FROM (
    SELECT * FROM delivered
    UNION ALL
    SELECT * FROM kept
  ) AS candidates
)
SELECT
  CAST(order_id AS BIGINT) AS order_id,
  CAST(customer_id AS BIGINT) AS customer_id,
  CAST(store_id AS BIGINT) AS store_id,
  CAST(ordered_at AS TIMESTAMP) AS ordered_at,
  CAST(order_status AS VARCHAR) AS order_status,
  CAST(delivery_fee AS DECIMAL(10, 2)) AS delivery_fee,
  CAST(updated_at AS TIMESTAMP) AS updated_at,
  CAST(first_loaded_on_overall AS DATE) AS first_loaded_on,
  CAST(loaded_on AS DATE) AS last_loaded_on,
  CAST(source_file AS VARCHAR) AS last_source_file,
  CAST(source_line AS BIGINT) AS last_source_line
FROM ranked
WHERE
  version_rank = 1;

-- Read by a later model in the same run: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
