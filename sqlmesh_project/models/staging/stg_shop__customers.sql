-- Staging: rename and cast only, one row per raw row, plus the one row filter allowed here: hide rows
-- delivered after the day being processed (@loaded_as_of, macros/time_travel.py).
--
-- EMBEDDED, not VIEW: SQLMesh creates a view once per model version and never re-creates it on `sqlmesh run`,
-- so a view would freeze the day it was first built. An embedded model is inlined as a subquery into each
-- model that reads it, rendered with THAT model's interval, so the filter always uses the day being processed.
-- (dbt re-creates its staging views on every `dbt build`, which is why dbt_project/ can use views.)
MODEL (
  name sqlmesh_staging.stg_shop__customers,
  kind EMBEDDED
);

SELECT
  CAST(customer_id AS BIGINT) AS customer_id,
  CAST(first_name AS VARCHAR) AS first_name,
  CAST(last_name AS VARCHAR) AS last_name,
  CAST(email AS VARCHAR) AS email,
  CAST(street_address AS VARCHAR) AS street_address,
  CAST(city AS VARCHAR) AS city,
  CAST(postal_code AS VARCHAR) AS postal_code,
  CAST(loyalty_tier AS VARCHAR) AS loyalty_tier,
  CAST(signup_date AS DATE) AS signed_up_on,
  CAST(updated_at AS TIMESTAMP) AS updated_at,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file,
  CAST(_source_line AS BIGINT) AS source_line
FROM raw.customers
WHERE
  @loaded_as_of(_load_date)
