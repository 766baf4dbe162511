-- Customer dimension, SCD Type 2: one row per version, from the SCD_TYPE_2_BY_TIME model snap_customers.
-- Same columns and values as dbt's marts.dim_customers (the parity check compares them row for row).
MODEL (
  name sqlmesh_marts.dim_customers,
  kind FULL,
  grain customer_sk,
  audits (
    not_null(columns := (customer_sk, customer_id, valid_from, valid_to, is_current, closed_by_delete)),
    unique_values(columns := (customer_sk)),
    accepted_values(column := loyalty_tier, is_in := ('bronze', 'silver', 'gold', 'platinum')),
    scd2_one_current_row(key := customer_id),
    scd2_valid_window(),
    scd2_no_overlap(key := customer_id),
    scd2_no_gaps(key := customer_id)
  )
);

-- A SQL macro: the valid_to of an open version (dbt: macro scd2_high_date). A far-future date instead of
-- SQLMesh's NULL lets "valid at t" be a plain `t >= valid_from AND t < valid_to`.
@DEF(high_date, CAST(@VAR('high_date') AS TIMESTAMP));

WITH versions AS (
  SELECT
    customer_id,
    first_name,
    last_name,
    email,
    street_address,
    city,
    postal_code,
    loyalty_tier,
    signed_up_on,
    valid_from,
    COALESCE(valid_to, @high_date) AS valid_to
  FROM sqlmesh_snapshots.snap_customers
), hard_deletes AS (
  SELECT customer_id, deleted_on FROM sqlmesh_intermediate.int_customers__hard_deletes
)
SELECT
  @surrogate_key(versions.customer_id, versions.valid_from) AS customer_sk,
  versions.customer_id,
  versions.first_name,
  versions.last_name,
  versions.email,
  versions.street_address,
  versions.city,
  versions.postal_code,
  versions.loyalty_tier,
  versions.signed_up_on,
  versions.valid_from,
  versions.valid_to,
  versions.valid_to = @high_date AS is_current,
  -- From the extracts, not from the SCD2 model: the customer is absent from the extract of the day whose run
  -- closed this version.
  NOT hard_deletes.customer_id IS NULL AS closed_by_delete
FROM versions
LEFT JOIN hard_deletes
  ON hard_deletes.customer_id = versions.customer_id
  AND versions.valid_to <> @high_date
  AND hard_deletes.deleted_on = @scd2_closing_day(versions.valid_to);

-- Read by a later model in the same run: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
