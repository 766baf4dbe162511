{#-
    The order days an incremental fct_daily_sales run rebuilds: every order day of the fct_orders rows written
    on the last lookback_days load days up to run_date. fct_orders rewrites an order whenever a version of it is
    delivered (a new order, a late one, a status change or cancellation), so these are exactly the days whose
    totals can have changed; the lookback also covers days the pipeline skipped. Used by the model (what to
    compute) and by its pre-hook (what to delete first, so an order day whose orders were all cancelled is
    emptied rather than kept stale).
-#}
{% macro daily_sales_days() -%}
    select distinct order_date
    from {{ ref('fct_orders') }}
    where last_loaded_on > {{ run_date_literal() }} - {{ var('lookback_days') | int }}
{%- endmacro %}
