-- Order lines with their product and category from the shared seeds, and the line amount.
-- EMBEDDED: inlined into fct_orders and fct_daily_sales with their interval (the load-day filter lives in staging).
MODEL (
  name sqlmesh_intermediate.int_order_lines__enriched,
  kind EMBEDDED
);

SELECT
  lines.order_id,
  lines.line_number,
  lines.product_id,
  products.product_name,
  products.is_perishable,
  products.category_id,
  categories.category_name,
  categories.department,
  lines.quantity,
  lines.unit_price,
  products.unit_price AS list_price,
  CAST(lines.quantity * lines.unit_price AS DECIMAL(12, 2)) AS line_amount,
  lines.loaded_on
FROM sqlmesh_staging.stg_shop__order_lines AS lines
INNER JOIN sqlmesh_seeds.products AS products
  ON lines.product_id = products.product_id
INNER JOIN sqlmesh_seeds.categories AS categories
  ON products.category_id = categories.category_id
