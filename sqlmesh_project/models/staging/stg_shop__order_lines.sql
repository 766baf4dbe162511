-- Staging: rename and cast only (plus the load-day filter; EMBEDDED for the reason in stg_shop__customers).
MODEL (
  name sqlmesh_staging.stg_shop__order_lines,
  kind EMBEDDED
);

SELECT
  CAST(order_id AS BIGINT) AS order_id,
  CAST(line_number AS INT) AS line_number,
  CAST(product_id AS BIGINT) AS product_id,
  CAST(quantity AS INT) AS quantity,
  CAST(unit_price AS DECIMAL(10, 2)) AS unit_price,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file,
  CAST(_source_line AS BIGINT) AS source_line
FROM raw.order_lines
WHERE
  @loaded_as_of(_load_date)
