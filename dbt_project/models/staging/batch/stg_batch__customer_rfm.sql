-- Staging: cast and rename; only snapshots (as_of days) loaded up to run_date are visible.
-- The raw table exists only after the Spark step ran: without it, an empty result of the same shape.
{{ optional_source(source('batch', 'batch_customer_rfm'), {
    'as_of': 'date',
    'customer_id': 'bigint',
    'last_order_date': 'date',
    'recency_days': 'bigint',
    'frequency': 'bigint',
    'monetary_cents': 'bigint',
    'avg_order_cents': 'double precision',
}) }}
