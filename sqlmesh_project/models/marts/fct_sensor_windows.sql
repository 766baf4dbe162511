-- One row per sensor, store, window and load day: the cold-chain temperature facts of the Flink SQL job (the
-- twin of dbt's marts.fct_sensor_windows, a full rebuild). A window crossing midnight (a 5-minute hop from
-- 23:58) is computed by both days' replays, hence loaded_on in the key.
--
-- INCREMENTAL_BY_TIME_RANGE on loaded_on, the ARRIVAL day, without lookback: a replay of day D writes rows with
-- _load_date = D and no other day's, so each interval owns its rows and a processed day never changes. Restate
-- a day whose replay was re-run, or the days processed before raw.sensor_windows existed (@optional_raw read
-- nothing then). Compare fct_product_daily_sales, partitioned by the EVENT day, which needs a lookback because
-- its source rewrites past days.
--
-- window_seconds: DATE_DIFF('second', a, b) counts second boundaries on DuckDB (what dbt's datediff gives on
-- both engines), but sqlglot writes it for PostgreSQL as a cast of the exact epoch difference, which rounds
-- 130.5 s to 131. Truncating both ends to the second first is the same number on both engines.
MODEL (
  name sqlmesh_marts.fct_sensor_windows,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column loaded_on
  ),
  signals [raw_loaded()],
  grain window_sk,
  audits (
    not_null(columns := (window_sk, sensor_id, store_id)),
    unique_values(columns := (window_sk)),
    unique_combination_of_columns(columns := (sensor_id, store_id, window_kind, window_start, loaded_on)),
    accepted_values(column := window_kind, is_in := ('tumble_1m', 'hop_5m_1m', 'door_session')),
    forall(
      criteria := (
        window_end > window_start AND temp_min <= temp_mean + 1e-9 AND temp_mean <= temp_max + 1e-9,
        window_kind <> 'tumble_1m' OR window_seconds = 60,
        window_kind <> 'hop_5m_1m' OR window_seconds = 300,
        events > 0
      )
    )
  )
);

SELECT
  @surrogate_key(sensor_id, store_id, window_kind, window_start, loaded_on) AS window_sk,
  sensor_id,
  store_id,
  window_kind,
  window_start,
  window_end,
  CAST(
    EPOCH(DATE_TRUNC('second', window_end)) - EPOCH(DATE_TRUNC('second', window_start)) AS BIGINT
  ) AS window_seconds,
  events,
  temp_mean,
  temp_min,
  temp_max,
  door_open_events,
  temp_zscore,
  CAST(window_start AS DATE) AS window_date,
  loaded_on
FROM sqlmesh_staging.stg_sensors__windows
WHERE
  loaded_on BETWEEN @start_date AND @end_date
