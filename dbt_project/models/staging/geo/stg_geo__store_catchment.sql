-- Staging: cast and rename. raw.geo_store_catchment is replaced whole by the geo step (no load day).
{{ optional_source(source('geo', 'geo_store_catchment'), {
    'store_id': 'bigint',
    'store_name': 'varchar',
    'store_format': 'varchar',
    'city': 'varchar',
    'lon': 'double precision',
    'lat': 'double precision',
    'geometry_wkb_hex': 'varchar',
    'crs': 'varchar',
    'nearest_customers': 'bigint',
    'nearest_mean_distance_m': 'double precision',
    'nearest_max_distance_m': 'double precision',
    'zone_customers': 'bigint',
    'zone_area_km2': 'double precision',
    'zone_population': 'double precision',
    'population_year': 'bigint',
}, by_day=false) }}
