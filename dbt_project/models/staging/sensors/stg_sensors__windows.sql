-- Staging: cast and rename; only rows loaded up to run_date are visible (like every staging model).
-- The raw table exists only after a streaming step ran: without it, an empty result of the same shape.
{{ optional_source(source('sensors', 'sensor_windows'), {
    'sensor_id': 'varchar',
    'store_id': 'bigint',
    'window_kind': 'varchar',
    'window_start': 'timestamp',
    'window_end': 'timestamp',
    'events': 'bigint',
    'temp_mean': 'double precision',
    'temp_min': 'double precision',
    'temp_max': 'double precision',
    'door_open_events': 'bigint',
    'temp_zscore': 'double precision',
}) }}
