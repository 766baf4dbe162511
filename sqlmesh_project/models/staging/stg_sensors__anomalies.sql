-- Staging over the Flink SQL job's CEP matches: rename and cast only, plus the load-day filter (EMBEDDED for the
-- reason in stg_shop__customers; @optional_raw as in stg_batch__product_daily).
MODEL (
  name sqlmesh_staging.stg_sensors__anomalies,
  kind EMBEDDED
);

SELECT
  CAST(sensor_id AS VARCHAR) AS sensor_id,
  CAST(store_id AS BIGINT) AS store_id,
  CAST(kind AS VARCHAR) AS anomaly_kind,
  CAST(start_time AS TIMESTAMP) AS started_at,
  CAST(detected_at AS TIMESTAMP) AS detected_at,
  CAST(score AS DOUBLE) AS score,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file
FROM @optional_raw(raw.sensor_anomalies) AS sensor_anomalies
WHERE
  @loaded_as_of(_load_date)
