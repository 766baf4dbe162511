-- Staging: cast and rename; only rows loaded up to run_date are visible (like every staging model).
-- The raw table exists only after a streaming step ran: without it, an empty result of the same shape.
{%- set src = source('sensors', 'sensor_windows') %}
{%- if execute and adapter.get_relation(src.database, src.schema, src.identifier) is not none %}
select
    cast(sensor_id as varchar) as sensor_id,
    cast(store_id as bigint) as store_id,
    cast(window_kind as varchar) as window_kind,
    cast(window_start as timestamp) as window_start,
    cast(window_end as timestamp) as window_end,
    cast(events as bigint) as events,
    cast(temp_mean as double precision) as temp_mean,
    cast(temp_min as double precision) as temp_min,
    cast(temp_max as double precision) as temp_max,
    cast(door_open_events as bigint) as door_open_events,
    cast(temp_zscore as double precision) as temp_zscore,
    cast(_load_date as date) as loaded_on,
    cast(_source_file as varchar) as source_file
from {{ src }}
where {{ loaded_as_of_run_date() }}
{%- else %}
select
    cast(null as varchar) as sensor_id, cast(null as bigint) as store_id, cast(null as varchar) as window_kind,
    cast(null as timestamp) as window_start, cast(null as timestamp) as window_end,
    cast(null as bigint) as events, cast(null as double precision) as temp_mean, cast(null as double precision) as temp_min,
    cast(null as double precision) as temp_max, cast(null as bigint) as door_open_events,
    cast(null as double precision) as temp_zscore, cast(null as date) as loaded_on, cast(null as varchar) as source_file
where false
{%- endif %}
