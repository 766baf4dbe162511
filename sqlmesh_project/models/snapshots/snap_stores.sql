-- SCD Type 2 history of stores: the twin of dbt's snap_stores (check strategy, hard deletes invalidated).
-- Stores carry no change timestamp, so SQLMesh compares the listed columns with the open version.
--   execution_time_as_valid_from: a store's first version starts at the execution time (the midnight after
--     the day it was first seen), as dbt's check strategy stamps it with the snapshot clock; without it
--     SQLMesh starts first versions at 1970-01-01.
--   invalidate_hard_deletes: a vanished store is closed at the execution time, like dbt's `invalidate`.
MODEL (
  name sqlmesh_snapshots.snap_stores,
  kind SCD_TYPE_2_BY_COLUMN (
    unique_key store_id,
    columns [store_name, store_format, size_sqm, city, opened_on],
    execution_time_as_valid_from TRUE,
    invalidate_hard_deletes TRUE
  ),
  signals [raw_loaded()],
  grain (store_id, valid_from),
  audits (
    not_null(columns := (store_id, valid_from)),
    scd2_one_current_row(key := store_id),
    scd2_valid_window(),
    scd2_no_overlap(key := store_id)
  )
);

SELECT
  store_id,
  store_name,
  store_format,
  size_sqm,
  city,
  opened_on
FROM sqlmesh_intermediate.int_stores__current_extract;

-- Read by a later model in the same run: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
