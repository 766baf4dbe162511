-- Staging: cast and rename. raw.geo_rejects is replaced whole by the geo step (no load day).
{{ optional_source(source('geo', 'geo_rejects'), {
    'layer': 'varchar',
    'feature_id': 'varchar',
    'kind': 'varchar',
    'reason': 'varchar',
}, by_day=false) }}
