-- Daily sales per order_date x store x product category. Cancelled orders (latest status) are excluded; revenue
-- is goods only (the delivery fee belongs to the order, not to a category).
--
-- INCREMENTAL_BY_TIME_RANGE on the order date with the lookback of fct_orders, which it reads: a day's run
-- replaces the order days [D-3, D], exactly the days whose fct_orders rows that run can change (late orders,
-- status updates, cancellations), so it equals a rebuild from fct_orders. It was FULL, and the rebuild was the
-- largest part of a day on Postgres at a long history (docs/measurements.md). A restatement of fct_orders for an
-- old order day restates these days too (SQLMesh restates downstream intervals).
MODEL (
  name sqlmesh_marts.fct_daily_sales,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column order_date,
    lookback 3
  ),
  signals [raw_loaded()],
  grain daily_sales_key,
  audits (
    not_null(columns := (daily_sales_key, order_date, store_id, category_id)),
    unique_values(columns := (daily_sales_key)),
    unique_combination_of_columns(columns := (order_date, store_id, category_id))
  )
);

WITH orders AS (
  SELECT order_id, order_date, store_id
  FROM sqlmesh_marts.fct_orders
  WHERE
    order_status <> 'cancelled' AND order_date BETWEEN @start_ds AND @end_ds
), lines AS (
  SELECT order_id, category_id, category_name, quantity, line_amount
  FROM sqlmesh_intermediate.int_order_lines__enriched
  -- Lines come with their order's first delivery, on or after its order day (see fct_orders).
  WHERE loaded_on >= @start_date
)
SELECT
  @surrogate_key(orders.order_date, orders.store_id, lines.category_id) AS daily_sales_key,
  orders.order_date,
  orders.store_id,
  lines.category_id,
  lines.category_name,
  CAST(COUNT(DISTINCT orders.order_id) AS INT) AS order_count,
  CAST(SUM(lines.quantity) AS INT) AS item_count,
  CAST(SUM(lines.line_amount) AS DECIMAL(14, 2)) AS revenue
FROM orders
INNER JOIN lines
  ON orders.order_id = lines.order_id
GROUP BY
  orders.order_date,
  orders.store_id,
  lines.category_id,
  lines.category_name;

-- Read by a later model in the same run: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
