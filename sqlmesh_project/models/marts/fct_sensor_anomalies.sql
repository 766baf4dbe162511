-- One row per anomaly match of the Flink SQL job's MATCH_RECOGNIZE rules: what happened, where, when it began
-- and when the stream could tell (the twin of dbt's marts.fct_sensor_anomalies).
--
-- FULL, unlike fct_sensor_windows: a few rows a day, and the key (anomaly_sk) has no load day in it, so its
-- uniqueness is a property of the whole table. An audit of an incremental model only sees the processed
-- interval; a FULL model's audits see every row, as dbt's `unique` test does.
-- detection_minutes: seconds truncated before subtracting, for the reason given in fct_sensor_windows.
MODEL (
  name sqlmesh_marts.fct_sensor_anomalies,
  kind FULL,
  signals [raw_loaded()],
  grain anomaly_sk,
  audits (
    not_null(columns := (anomaly_sk, sensor_id, started_at, detected_at)),
    unique_values(columns := (anomaly_sk)),
    accepted_values(
      column := anomaly_kind,
      is_in := ('door_open', 'flatline', 'silent', 'compressor_failure')
    ),
    forall(criteria := (detected_at >= started_at))
  )
);

SELECT
  @surrogate_key(sensor_id, anomaly_kind, started_at, detected_at) AS anomaly_sk,
  sensor_id,
  store_id,
  anomaly_kind,
  started_at,
  detected_at,
  CAST(
    EPOCH(DATE_TRUNC('second', detected_at)) - EPOCH(DATE_TRUNC('second', started_at)) AS DOUBLE
  ) / 60 AS detection_minutes,
  score,
  CAST(started_at AS DATE) AS anomaly_date,
  loaded_on
FROM sqlmesh_staging.stg_sensors__anomalies
