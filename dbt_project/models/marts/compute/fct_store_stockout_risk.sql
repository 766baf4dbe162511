-- One row per run day x store x category: the chance of a stock-out in the week after the run day and the
-- revenue at risk, from the Monte Carlo job (python_jobs/compute). Money goes from cents to currency units
-- here; the 95 % VaR is a whole number of cents and stays exact, the expectations are estimates (doubles).
select
    {{ surrogate_key(['risk.as_of_date', 'risk.store_id', 'risk.category_id']) }} as stockout_risk_key,
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
    risk.expected_lost_revenue_cents / 100.0 as expected_lost_revenue,
    cast(cast(risk.lost_revenue_var95_cents as decimal(18, 0)) * 0.01 as decimal(14, 2)) as lost_revenue_var95,
    risk.lost_revenue_cvar95_cents / 100.0 as lost_revenue_cvar95,
    risk.expected_held_units,
    risk.expected_orders,
    risk.recommended_reorder_point,
    risk.recommended_order_up_to,
    risk.expected_cost_current_cents / 100.0 as expected_weekly_cost_current,
    risk.expected_cost_recommended_cents / 100.0 as expected_weekly_cost_recommended,
    risk.policy_search_paths,
    risk.loaded_on
from {{ ref('stg_compute__stockout_risk') }} as risk
-- Left join: a category missing from the seed must fail the not_null test, not vanish.
left join {{ ref('categories') }} as categories on risk.category_id = categories.category_id
