-- Store dimension, SCD Type 2: one row per version, from the SCD_TYPE_2_BY_COLUMN model snap_stores (versions
-- start and end at the execution time, the midnight after the day a change was seen).
MODEL (
  name sqlmesh_marts.dim_stores,
  kind FULL,
  grain store_sk,
  audits (
    not_null(columns := (store_sk, store_id, valid_from, valid_to, is_current, closed_by_delete)),
    unique_values(columns := (store_sk)),
    accepted_values(column := store_format, is_in := ('express', 'supermarket', 'hypermarket', 'dark_store')),
    scd2_one_current_row(key := store_id),
    scd2_valid_window(),
    scd2_no_overlap(key := store_id),
    scd2_no_gaps(key := store_id)
  )
);

@DEF(high_date, CAST(@VAR('high_date') AS TIMESTAMP));

WITH versions AS (
  SELECT
    store_id,
    store_name,
    store_format,
    size_sqm,
    city,
    opened_on,
    valid_from,
    COALESCE(valid_to, @high_date) AS valid_to
  FROM sqlmesh_snapshots.snap_stores
), hard_deletes AS (
  SELECT store_id, deleted_on FROM sqlmesh_intermediate.int_stores__hard_deletes
)
SELECT
  @surrogate_key(versions.store_id, versions.valid_from) AS store_sk,
  versions.store_id,
  versions.store_name,
  versions.store_format,
  versions.size_sqm,
  versions.city,
  versions.opened_on,
  versions.valid_from,
  versions.valid_to,
  versions.valid_to = @high_date AS is_current,
  NOT hard_deletes.store_id IS NULL AS closed_by_delete
FROM versions
LEFT JOIN hard_deletes
  ON hard_deletes.store_id = versions.store_id
  AND versions.valid_to <> @high_date
  AND hard_deletes.deleted_on = @scd2_closing_day(versions.valid_to)
