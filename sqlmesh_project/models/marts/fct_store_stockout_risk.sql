-- One row per run day x store x category: the Monte Carlo stock-out risk of the week after the run day (the twin
-- of dbt's marts.fct_store_stockout_risk, a full rebuild there).
--
-- INCREMENTAL_BY_TIME_RANGE on as_of_date without lookback: the job of run day D writes rows with
-- _load_date = as_of_date = D and no other day's, so each interval owns its rows (as fct_sensor_windows).
-- Restate the days processed before raw.compute_stockout_risk existed (@optional_raw read nothing then).
MODEL (
  name sqlmesh_marts.fct_store_stockout_risk,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column as_of_date
  ),
  signals [raw_loaded()],
  grain stockout_risk_key,
  audits (
    not_null(columns := (stockout_risk_key, as_of_date, store_id, category_id, category_name)),
    unique_values(columns := (stockout_risk_key)),
    unique_combination_of_columns(columns := (as_of_date, store_id, category_id)),
    forall(
      criteria := (
        stockout_probability BETWEEN 0 AND 1 AND stockout_probability_se >= 0,
        reorder_point <= order_up_to AND paths > 0 AND week_start = as_of_date + 1,
        recommended_reorder_point <= recommended_order_up_to AND expected_weekly_cost_recommended >= 0,
        expected_lost_revenue <= lost_revenue_cvar95 + 1e-9,
        lost_revenue_var95 <= lost_revenue_cvar95 + 0.005
      )
    )
  )
);

SELECT
  @surrogate_key(risk.as_of_date, risk.store_id, risk.category_id) AS stockout_risk_key,
  risk.as_of_date,
  risk.week_start,
  risk.week_end,
  risk.store_id,
  risk.category_id,
  categories.category_name,
  risk.history_days,
  risk.sales_days,
  risk.mean_daily_units,
  risk.var_daily_units,
  risk.reorder_point,
  risk.order_up_to,
  risk.lead_days,
  risk.paths,
  risk.stockout_probability,
  risk.stockout_probability_se,
  risk.expected_lost_units,
  risk.expected_lost_units_se,
  risk.expected_lost_revenue_cents / 100.0 AS expected_lost_revenue,
  CAST(CAST(risk.lost_revenue_var95_cents AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(14, 2)) AS lost_revenue_var95,
  risk.lost_revenue_cvar95_cents / 100.0 AS lost_revenue_cvar95,
  risk.expected_held_units,
  risk.expected_orders,
  risk.recommended_reorder_point,
  risk.recommended_order_up_to,
  risk.expected_cost_current_cents / 100.0 AS expected_weekly_cost_current,
  risk.expected_cost_recommended_cents / 100.0 AS expected_weekly_cost_recommended,
  risk.policy_search_paths,
  risk.loaded_on
FROM sqlmesh_staging.stg_compute__stockout_risk AS risk
/* Left join: a category missing from the seed must fail the not_null audit, not vanish. */
LEFT JOIN sqlmesh_seeds.categories AS categories
  ON risk.category_id = categories.category_id
WHERE
  risk.as_of_date BETWEEN @start_date AND @end_date
