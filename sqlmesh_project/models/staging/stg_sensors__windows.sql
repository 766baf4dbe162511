-- Staging over the Flink SQL job's window aggregates: rename and cast only, plus the load-day filter (EMBEDDED
-- for the reason in stg_shop__customers). The loader infers the JSON timestamps as text: cast here.
-- The table exists only once a streaming step has run: see stg_batch__product_daily for @optional_raw.
MODEL (
  name sqlmesh_staging.stg_sensors__windows,
  kind EMBEDDED
);

SELECT
  CAST(sensor_id AS VARCHAR) AS sensor_id,
  CAST(store_id AS BIGINT) AS store_id,
  CAST(window_kind AS VARCHAR) AS window_kind,
  CAST(window_start AS TIMESTAMP) AS window_start,
  CAST(window_end AS TIMESTAMP) AS window_end,
  CAST(events AS BIGINT) AS events,
  CAST(temp_mean AS DOUBLE) AS temp_mean,
  CAST(temp_min AS DOUBLE) AS temp_min,
  CAST(temp_max AS DOUBLE) AS temp_max,
  CAST(door_open_events AS BIGINT) AS door_open_events,
  CAST(temp_zscore AS DOUBLE) AS temp_zscore,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file
FROM @optional_raw(raw.sensor_windows) AS sensor_windows
WHERE
  @loaded_as_of(_load_date)
