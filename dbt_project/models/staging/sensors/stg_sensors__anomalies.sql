-- Staging: cast and rename; only rows loaded up to run_date are visible.
-- The raw table exists only after a streaming step ran: without it, an empty result of the same shape.
{{ optional_source(source('sensors', 'sensor_anomalies'), {
    'sensor_id': 'varchar',
    'store_id': 'bigint',
    'anomaly_kind': 'varchar',
    'started_at': 'timestamp',
    'detected_at': 'timestamp',
    'score': 'double precision',
}, renamed={'anomaly_kind': 'kind', 'started_at': 'start_time'}) }}
