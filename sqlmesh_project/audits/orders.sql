-- fct_orders.order_total equals the sum of the order's lines plus its delivery fee, and the counts match the
-- lines (the twin of dbt's assert_fct_orders_total_equals_lines). Catches an incremental run that kept a stale
-- row or a join fan-out. On an incremental model SQLMesh audits the rows of the processed intervals.
AUDIT (
  name order_total_equals_lines
);
-- Join first, then total: only the audited orders' lines are summed. (Totalling every line of the history
-- first read all of it to check an interval of four order days; an `IN (SELECT order_id FROM @this_model)`
-- filter instead made the full refresh's audit slower. Figures: docs/measurements.md.)
SELECT fct.order_id, fct.order_total, fct.delivery_fee, SUM(lines.line_amount) AS items_amount
FROM @this_model AS fct
LEFT JOIN sqlmesh_intermediate.int_order_lines__enriched AS lines
  -- Lines come with their order's first delivery, on or after its order day (see fct_orders): the interval's
  -- orders can only have lines loaded since its first day.
  ON fct.order_id = lines.order_id AND lines.loaded_on >= @start_date
GROUP BY fct.order_id, fct.order_total, fct.delivery_fee, fct.line_count, fct.item_count
HAVING fct.order_total <> COALESCE(SUM(lines.line_amount), 0) + fct.delivery_fee
  OR fct.line_count <> COUNT(lines.order_id)
  OR fct.item_count <> COALESCE(SUM(lines.quantity), 0);
