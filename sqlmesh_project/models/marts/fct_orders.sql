-- One row per order with its latest status and totals: INCREMENTAL_BY_TIME_RANGE on the order date.
--
-- Each daily run replaces the rows of the day being processed AND of the `lookback` days before it. Why 3:
-- a late-arriving order is placed at most 3 days before its delivery (the generator's MAX_LATE_DAYS), and a
-- re-sent status update concerns an order placed at most 3 days earlier (UPDATE_WINDOW_DAYS); both therefore
-- fall inside [D-3, D] when day D is processed.
--
-- The genuine difference with dbt's fct_orders (docs/transformation.md, tests/test_sqlmesh_differences.py):
-- dbt re-selects orders by UPDATE time (updated_at >= newest in the table - lookback), SQLMesh by the ORDER
-- date of the interval. A status update for an order placed more than `lookback` days earlier reaches the dbt
-- table on its next run, but the SQLMesh table only after a restatement:
--     sqlmesh plan --restate-model sqlmesh_marts.fct_orders --start <order day> --auto-apply
--
-- PostgreSQL: the interval's order days are selected with a range on `ordered_at` itself, not with
-- CAST(ordered_at AS DATE) BETWEEN ... PostgreSQL has no statistics on that expression and guesses 0.5 % of the
-- rows; SQLMesh's own filter on order_date guesses again, and at one estimated order the planner chose a nested
-- loop that re-aggregates the order lines once per order, minutes instead of a fraction of a second
-- (docs/postgres.md, docs/measurements.md). On the column, its histogram answers, which the ANALYZE
-- post-statement of int_orders__latest_version keeps fresh (a histogram from yesterday has no today).
MODEL (
  name sqlmesh_marts.fct_orders,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column order_date,
    lookback 3
  ),
  signals [raw_loaded()],
  grain order_id,
  audits (
    not_null(columns := (order_id, customer_id, store_id, ordered_at, order_date, order_status)),
    unique_values(columns := (order_id)),
    accepted_values(column := order_status, is_in := ('placed', 'picked', 'delivered', 'cancelled')),
    order_total_equals_lines()
  )
);

WITH orders AS (
  SELECT *
  FROM sqlmesh_intermediate.int_orders__latest_version
  WHERE
    ordered_at BETWEEN CAST(@start_ts AS TIMESTAMP) AND CAST(@end_ts AS TIMESTAMP)
), line_totals AS (
  -- Lines never change after their first delivery, which comes with the order's first delivery.
  SELECT
    order_id,
    COUNT(*) AS line_count,
    SUM(quantity) AS item_count,
    SUM(line_amount) AS items_amount
  FROM sqlmesh_intermediate.int_order_lines__enriched
  WHERE
    order_id IN (SELECT order_id FROM orders)
    -- An order's lines come with its first delivery, never before the day it was placed: only the lines loaded
    -- since the interval's first day can belong to its orders. On PostgreSQL the BRIN index on raw._load_date
    -- then reads the last days' blocks instead of every line of the history (docs/transformation.md).
    AND loaded_on >= @start_date
  GROUP BY
    order_id
), customer_versions AS (
  SELECT customer_sk, customer_id, valid_from, valid_to FROM sqlmesh_marts.dim_customers
)
SELECT
  orders.order_id,
  orders.customer_id,
  -- The customer version valid when the order was placed: versions are only ever closed after the day being
  -- processed, so a later run finds the same one.
  customer_versions.customer_sk,
  orders.store_id,
  orders.ordered_at,
  CAST(orders.ordered_at AS DATE) AS order_date,
  orders.order_status,
  CAST(COALESCE(line_totals.line_count, 0) AS INT) AS line_count,
  CAST(COALESCE(line_totals.item_count, 0) AS INT) AS item_count,
  CAST(COALESCE(line_totals.items_amount, 0) AS DECIMAL(12, 2)) AS items_amount,
  orders.delivery_fee,
  CAST(COALESCE(line_totals.items_amount, 0) + orders.delivery_fee AS DECIMAL(12, 2)) AS order_total,
  orders.updated_at,
  orders.first_loaded_on,
  orders.last_loaded_on
FROM orders
LEFT JOIN line_totals
  ON orders.order_id = line_totals.order_id
LEFT JOIN customer_versions
  ON orders.customer_id = customer_versions.customer_id
  AND orders.ordered_at >= customer_versions.valid_from
  AND orders.ordered_at < customer_versions.valid_to;

-- Read by a later model in the same run: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
