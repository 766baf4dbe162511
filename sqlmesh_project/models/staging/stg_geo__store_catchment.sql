-- Staging over the geo step's raw.geo_store_catchment: rename and cast only; replaced whole, so no load-day
-- filter (see stg_geo__tracts).
MODEL (
  name sqlmesh_staging.stg_geo__store_catchment,
  kind EMBEDDED
);

SELECT
  CAST(store_id AS BIGINT) AS store_id,
  CAST(store_name AS VARCHAR) AS store_name,
  CAST(store_format AS VARCHAR) AS store_format,
  CAST(city AS VARCHAR) AS city,
  CAST(lon AS DOUBLE) AS lon,
  CAST(lat AS DOUBLE) AS lat,
  CAST(geometry_wkb_hex AS VARCHAR) AS geometry_wkb_hex,
  CAST(crs AS VARCHAR) AS crs,
  CAST(nearest_customers AS BIGINT) AS nearest_customers,
  CAST(nearest_mean_distance_m AS DOUBLE) AS nearest_mean_distance_m,
  CAST(nearest_max_distance_m AS DOUBLE) AS nearest_max_distance_m,
  CAST(zone_customers AS BIGINT) AS zone_customers,
  CAST(zone_area_km2 AS DOUBLE) AS zone_area_km2,
  CAST(zone_population AS DOUBLE) AS zone_population,
  CAST(population_year AS BIGINT) AS population_year,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file
FROM @optional_raw(raw.geo_store_catchment) AS geo_store_catchment
