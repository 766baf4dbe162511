-- Staging: cast and rename. raw.geo_tract_years is replaced whole by the geo step (no load day).
{{ optional_source(source('geo', 'geo_tract_years'), {
    'tract_id': 'varchar',
    'year': 'bigint',
    'population': 'bigint',
    'mapped_pixels': 'bigint',
    'valid_pixels': 'bigint',
    'builtup_pixels': 'bigint',
    'mapped_km2': 'double precision',
    'valid_km2': 'double precision',
    'builtup_km2': 'double precision',
}, by_day=false) }}
