-- Staging: rename and cast only (plus the load-day filter; EMBEDDED for the reason in stg_shop__customers).
MODEL (
  name sqlmesh_staging.stg_shop__stores,
  kind EMBEDDED
);

SELECT
  CAST(store_id AS BIGINT) AS store_id,
  CAST(store_name AS VARCHAR) AS store_name,
  CAST(store_format AS VARCHAR) AS store_format,
  CAST(size_sqm AS INT) AS size_sqm,
  CAST(city AS VARCHAR) AS city,
  CAST(opened_date AS DATE) AS opened_on,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file,
  CAST(_source_line AS BIGINT) AS source_line
FROM raw.stores
WHERE
  @loaded_as_of(_load_date)
