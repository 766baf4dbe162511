-- SCD Type 2 history of customers: the twin of dbt's snap_customers (timestamp strategy, hard deletes
-- invalidated). SQLMesh compares each day's extract with the open versions and maintains valid_from/valid_to.
--
-- The flags that make it mean the same as the dbt snapshot (checked, see docs/transformation.md):
--   updated_at_as_valid_from: the first version starts at the customer's updated_at, as in dbt; without it
--     SQLMesh starts every first version at 1970-01-01.
--   invalidate_hard_deletes: a customer missing from the extract gets its open version closed at the
--     execution time, i.e. the midnight after the day (dbt: the pinned snapshot clock). A customer who returns
--     opens a new version at its new updated_at, leaving a gap. dbt's `hard_deletes: new_record` (an extra
--     "deleted" row) has no SQLMesh equivalent.
-- Open versions have valid_to NULL here; dim_customers turns that into 9999-12-31 like the dbt project.
-- SCD2 kinds are forward-only and refuse restatement by default: history cannot be rebuilt from the current
-- extract, so SQLMesh protects it.
MODEL (
  name sqlmesh_snapshots.snap_customers,
  kind SCD_TYPE_2_BY_TIME (
    unique_key customer_id,
    updated_at_name updated_at,
    updated_at_as_valid_from TRUE,
    invalidate_hard_deletes TRUE
  ),
  signals [raw_loaded()],
  grain (customer_id, valid_from),
  audits (
    not_null(columns := (customer_id, valid_from)),
    scd2_one_current_row(key := customer_id),
    scd2_valid_window(),
    scd2_no_overlap(key := customer_id)
  )
);

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
  updated_at
FROM sqlmesh_intermediate.int_customers__current_extract;

-- Read by a later model in the same run: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
