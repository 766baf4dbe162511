-- Staging over the geo step's raw.geo_rejects (rows it could not place, with a reason): rename and cast only;
-- replaced whole, so no load-day filter (see stg_geo__tracts).
MODEL (
  name sqlmesh_staging.stg_geo__rejects,
  kind EMBEDDED
);

SELECT
  CAST(layer AS VARCHAR) AS layer,
  CAST(feature_id AS VARCHAR) AS feature_id,
  CAST(kind AS VARCHAR) AS kind,
  CAST(reason AS VARCHAR) AS reason,
  CAST(_load_date AS DATE) AS loaded_on,
  CAST(_source_file AS VARCHAR) AS source_file
FROM @optional_raw(raw.geo_rejects) AS geo_rejects
