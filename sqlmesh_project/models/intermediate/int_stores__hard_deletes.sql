-- One row per store that disappears from the daily store extract (see int_customers__hard_deletes).
MODEL (
  name sqlmesh_intermediate.int_stores__hard_deletes,
  kind FULL,
  signals [raw_loaded()],
  grain (store_id, deleted_on),
  audits (
    not_null(columns := (store_id, last_seen_on, deleted_on)),
    unique_combination_of_columns(columns := (store_id, deleted_on))
  )
);

WITH presence AS (
  SELECT DISTINCT store_id, loaded_on FROM sqlmesh_staging.stg_shop__stores
), extract_days AS (
  SELECT
    loaded_on,
    LAG(loaded_on) OVER (ORDER BY loaded_on) AS previous_loaded_on
  FROM (SELECT DISTINCT loaded_on FROM presence) AS days
)
SELECT
  seen.store_id,
  extract_days.previous_loaded_on AS last_seen_on,
  extract_days.loaded_on AS deleted_on
FROM extract_days
INNER JOIN presence AS seen
  ON seen.loaded_on = extract_days.previous_loaded_on
LEFT JOIN presence AS still_there
  ON still_there.store_id = seen.store_id AND still_there.loaded_on = extract_days.loaded_on
WHERE still_there.store_id IS NULL;

-- Read by a later model in the same run: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
