-- One row per hard delete seen in the daily customer extracts: in the extract of one load day, missing from
-- the next. Computed from the extracts alone, independently of the SCD2 model, so dim_customers.closed_by_delete
-- (and the scd2_no_gaps audit built on it) checks SQLMesh's SCD2 work rather than repeating it.
-- FULL (a table): it must be recomputed with each day's visibility filter, which a VIEW would freeze.
MODEL (
  name sqlmesh_intermediate.int_customers__hard_deletes,
  kind FULL,
  signals [raw_loaded()],
  grain (customer_id, deleted_on),
  audits (
    not_null(columns := (customer_id, last_seen_on, deleted_on)),
    unique_combination_of_columns(columns := (customer_id, deleted_on))
  )
);

WITH presence AS (
  SELECT DISTINCT customer_id, loaded_on FROM sqlmesh_staging.stg_shop__customers
), extract_days AS (
  SELECT
    loaded_on,
    LAG(loaded_on) OVER (ORDER BY loaded_on) AS previous_loaded_on
  FROM (SELECT DISTINCT loaded_on FROM presence) AS days
)
SELECT
  seen.customer_id,
  extract_days.previous_loaded_on AS last_seen_on,
  extract_days.loaded_on AS deleted_on
FROM extract_days
INNER JOIN presence AS seen
  ON seen.loaded_on = extract_days.previous_loaded_on
LEFT JOIN presence AS still_there
  ON still_there.customer_id = seen.customer_id AND still_there.loaded_on = extract_days.loaded_on
WHERE still_there.customer_id IS NULL;

-- Read by a later model in the same run: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
