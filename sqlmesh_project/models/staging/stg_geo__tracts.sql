-- Staging over the geo step's raw.geo_tracts: rename and cast only. The map is static for a run, so the table is
-- replaced whole (_load_date is NULL) and every row is visible: no load-day filter, unlike the daily tables.
-- The table exists only once the geo step has run: see stg_batch__product_daily for @optional_raw.
MODEL (
  name sqlmesh_staging.stg_geo__tracts,
  kind EMBEDDED
);

SELECT
  CAST(tract_id AS VARCHAR) AS tract_id,
  CAST(area_km2 AS DOUBLE) AS area_km2,
  CAST(customers AS BIGINT) AS customers,
  CAST(centroid_lon AS DOUBLE) AS centroid_lon,
  CAST(centroid_lat AS DOUBLE) AS centroid_lat,
  CAST(geometry_wkb_hex AS VARCHAR) AS geometry_wkb_hex,
  CAST(crs AS VARCHAR) AS crs,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file
FROM @optional_raw(raw.geo_tracts) AS geo_tracts
