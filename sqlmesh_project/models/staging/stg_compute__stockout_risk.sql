-- Staging over the Monte Carlo job's raw.compute_stockout_risk: rename and cast only, plus the load-day filter
-- (EMBEDDED for the reason in stg_shop__customers). _load_date is the run day (= as_of_date).
-- The table exists only once the compute step has run: see stg_batch__product_daily for @optional_raw.
MODEL (
  name sqlmesh_staging.stg_compute__stockout_risk,
  kind EMBEDDED
);

SELECT
  CAST(as_of_date AS DATE) AS as_of_date,
  CAST(week_start AS DATE) AS week_start,
  CAST(week_end AS DATE) AS week_end,
  CAST(store_id AS BIGINT) AS store_id,
  CAST(category_id AS BIGINT) AS category_id,
  CAST(history_days AS BIGINT) AS history_days,
  CAST(sales_days AS BIGINT) AS sales_days,
  CAST(mean_daily_units AS DOUBLE) AS mean_daily_units,
  CAST(var_daily_units AS DOUBLE) AS var_daily_units,
  CAST(unit_price_cents AS BIGINT) AS unit_price_cents,
  CAST(reorder_point AS BIGINT) AS reorder_point,
  CAST(order_up_to AS BIGINT) AS order_up_to,
  CAST(lead_days AS BIGINT) AS lead_days,
  CAST(paths AS BIGINT) AS paths,
  CAST(seed AS BIGINT) AS seed,
  CAST(stockout_probability AS DOUBLE) AS stockout_probability,
  CAST(stockout_probability_se AS DOUBLE) AS stockout_probability_se,
  CAST(expected_lost_units AS DOUBLE) AS expected_lost_units,
  CAST(expected_lost_units_se AS DOUBLE) AS expected_lost_units_se,
  CAST(expected_lost_revenue_cents AS DOUBLE) AS expected_lost_revenue_cents,
  CAST(lost_revenue_var95_cents AS BIGINT) AS lost_revenue_var95_cents,
  CAST(lost_revenue_cvar95_cents AS DOUBLE) AS lost_revenue_cvar95_cents,
  CAST(expected_held_units AS DOUBLE) AS expected_held_units,
  CAST(expected_orders AS DOUBLE) AS expected_orders,
  CAST(recommended_reorder_point AS BIGINT) AS recommended_reorder_point,
  CAST(recommended_order_up_to AS BIGINT) AS recommended_order_up_to,
  CAST(expected_cost_current_cents AS DOUBLE) AS expected_cost_current_cents,
  CAST(expected_cost_recommended_cents AS DOUBLE) AS expected_cost_recommended_cents,
  CAST(policy_search_paths AS BIGINT) AS policy_search_paths,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file
FROM @optional_raw(raw.compute_stockout_risk) AS compute_stockout_risk
WHERE
  @loaded_as_of(_load_date)
