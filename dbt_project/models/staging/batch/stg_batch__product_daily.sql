-- Staging: cast and rename; only partitions loaded up to run_date are visible (like every staging model).
-- The raw table exists only after the Spark step ran: without it, an empty result of the same shape.
{{ optional_source(source('batch', 'batch_product_daily'), {
    'order_date': 'date',
    'store_id': 'bigint',
    'product_id': 'bigint',
    'category_id': 'bigint',
    'order_count': 'bigint',
    'line_count': 'bigint',
    'item_count': 'bigint',
    'revenue_cents': 'bigint',
    'avg_quantity': 'double precision',
}) }}
