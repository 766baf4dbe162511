-- One row per detected anomaly match: what happened, where, when it began and when the stream could tell.
select
    {{ surrogate_key(['sensor_id', 'anomaly_kind', 'started_at', 'detected_at']) }} as anomaly_sk,
    sensor_id,
    store_id,
    anomaly_kind,
    started_at,
    detected_at,
    cast({{ dbt.datediff('started_at', 'detected_at', 'second') }} as double precision) / 60 as detection_minutes,
    score,
    cast(started_at as date) as anomaly_date,
    loaded_on
from {{ ref('stg_sensors__anomalies') }}
