-- The customer table as upstream shows it at the end of the day being processed: the rows of the latest full
-- extract delivered on or before it (a missing day repeats the previous state instead of deleting everyone).
-- The query of snap_customers. EMBEDDED so it is rendered with the snapshot's own interval.
MODEL (
  name sqlmesh_intermediate.int_customers__current_extract,
  kind EMBEDDED
);

WITH customers AS (
  SELECT * FROM sqlmesh_staging.stg_shop__customers
), latest_extract AS (
  SELECT MAX(loaded_on) AS loaded_on FROM customers
)
SELECT
  customers.customer_id,
  customers.first_name,
  customers.last_name,
  customers.email,
  customers.street_address,
  customers.city,
  customers.postal_code,
  customers.loyalty_tier,
  customers.signed_up_on,
  customers.updated_at
FROM customers
INNER JOIN latest_extract
  ON customers.loaded_on = latest_extract.loaded_on
