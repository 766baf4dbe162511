-- One row per sensor, store and window: the cold-chain temperature facts analysts chart.
-- A sensor that moved store mid-window has one row per store (the stream-table join is as of event time).
select
    {{ surrogate_key(['sensor_id', 'store_id', 'window_kind', 'window_start', 'loaded_on']) }} as window_sk,
    sensor_id,
    store_id,
    window_kind,
    window_start,
    window_end,
    cast({{ dbt.datediff('window_start', 'window_end', 'second') }} as bigint) as window_seconds,
    events,
    temp_mean,
    temp_min,
    temp_max,
    door_open_events,
    temp_zscore,
    cast(window_start as date) as window_date,
    loaded_on
from {{ ref('stg_sensors__windows') }}
