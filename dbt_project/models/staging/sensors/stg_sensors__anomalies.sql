-- Staging: cast and rename; only rows loaded up to run_date are visible.
-- The raw table exists only after a streaming step ran: without it, an empty result of the same shape.
{%- set src = source('sensors', 'sensor_anomalies') %}
{%- if execute and adapter.get_relation(src.database, src.schema, src.identifier) is not none %}
select
    cast(sensor_id as varchar) as sensor_id,
    cast(store_id as bigint) as store_id,
    cast(kind as varchar) as anomaly_kind,
    cast(start_time as timestamp) as started_at,
    cast(detected_at as timestamp) as detected_at,
    cast(score as double precision) as score,
    cast(_load_date as date) as loaded_on,
    cast(_source_file as varchar) as source_file
from {{ src }}
where {{ loaded_as_of_run_date() }}
{%- else %}
select
    cast(null as varchar) as sensor_id, cast(null as bigint) as store_id, cast(null as varchar) as anomaly_kind,
    cast(null as timestamp) as started_at, cast(null as timestamp) as detected_at,
    cast(null as double precision) as score, cast(null as date) as loaded_on, cast(null as varchar) as source_file
where false
{%- endif %}
