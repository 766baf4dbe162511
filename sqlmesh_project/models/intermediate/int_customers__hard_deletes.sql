-- One row per hard delete seen in the daily customer extracts: in the extract of one load day, missing from
-- the next. Computed from the extracts alone, independently of the SCD2 model, so dim_customers.closed_by_delete
-- (and the scd2_no_gaps audit built on it) checks SQLMesh's SCD2 work rather than repeating it.
--
-- INCREMENTAL_BY_TIME_RANGE on the day of the delete: a delete found on day D only compares the extract of D
-- with the one before it, so a day's run reads two extracts instead of every extract of the history (it was
-- FULL, a cost that grew with the history: docs/measurements.md). The extract
-- before the interval is looked for in the week before it first, which a load-day index answers from a few
-- blocks, and in the whole history only if that week has none.
MODEL (
  name sqlmesh_intermediate.int_customers__hard_deletes,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column deleted_on
  ),
  signals [raw_loaded()],
  grain (customer_id, deleted_on),
  audits (
    not_null(columns := (customer_id, last_seen_on, deleted_on)),
    unique_combination_of_columns(columns := (customer_id, deleted_on))
  )
);

WITH previous_extract AS (
  SELECT
    COALESCE(
      (
        SELECT MAX(loaded_on) FROM sqlmesh_staging.stg_shop__customers
        WHERE loaded_on BETWEEN @start_date - INTERVAL '7' DAY AND @start_date - INTERVAL '1' DAY
      ),
      (SELECT MAX(loaded_on) FROM sqlmesh_staging.stg_shop__customers WHERE loaded_on < @start_date),
      @start_date
    ) AS loaded_on
), presence AS (
  SELECT DISTINCT customer_id, loaded_on FROM sqlmesh_staging.stg_shop__customers
  WHERE loaded_on BETWEEN (SELECT loaded_on FROM previous_extract) AND @end_date
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
WHERE still_there.customer_id IS NULL AND extract_days.loaded_on BETWEEN @start_date AND @end_date;

-- Read by a later model in the same run: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
