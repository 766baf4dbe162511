-- Staging: cast and rename. raw.geo_tracts is replaced whole by the geo step (no load day): every row is visible.
{{ optional_source(source('geo', 'geo_tracts'), {
    'tract_id': 'varchar',
    'area_km2': 'double precision',
    'customers': 'bigint',
    'centroid_lon': 'double precision',
    'centroid_lat': 'double precision',
    'geometry_wkb_hex': 'varchar',
    'crs': 'varchar',
}, by_day=false) }}
