-- Staging over the geo step's raw.geo_tract_years: rename and cast only; replaced whole, so no load-day filter
-- (see stg_geo__tracts).
MODEL (
  name sqlmesh_staging.stg_geo__tract_years,
  kind EMBEDDED
);

SELECT
  CAST(tract_id AS VARCHAR) AS tract_id,
  CAST(year AS BIGINT) AS year,
  CAST(population AS BIGINT) AS population,
  CAST(mapped_pixels AS BIGINT) AS mapped_pixels,
  CAST(valid_pixels AS BIGINT) AS valid_pixels,
  CAST(builtup_pixels AS BIGINT) AS builtup_pixels,
  CAST(mapped_km2 AS DOUBLE) AS mapped_km2,
  CAST(valid_km2 AS DOUBLE) AS valid_km2,
  CAST(builtup_km2 AS DOUBLE) AS builtup_km2,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file
FROM @optional_raw(raw.geo_tract_years) AS geo_tract_years
