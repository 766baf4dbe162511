-- One row per census tract of the seeded metro (the twin of dbt's marts.dim_tracts): area measured by the geo
-- step in the metric CRS, centroid, latest census population, customers, and the polygon as hex WKB (EPSG:4326).
-- FULL: the map is static for a run, a few hundred rows.
MODEL (
  name sqlmesh_marts.dim_tracts,
  kind FULL,
  signals [raw_loaded()],
  grain tract_id,
  audits (
    not_null(columns := (tract_id, area_km2, geometry_wkb_hex)),
    unique_values(columns := (tract_id)),
    forall(criteria := (area_km2 > 0 AND customers >= 0 AND centroid_lat BETWEEN -90 AND 90))
  )
);

WITH latest AS (
  SELECT
    tract_id,
    year,
    population
  FROM sqlmesh_staging.stg_geo__tract_years
  WHERE
    year = (
      SELECT
        MAX(year)
      FROM sqlmesh_staging.stg_geo__tract_years
    )
)
SELECT
  tracts.tract_id,
  tracts.area_km2,
  tracts.centroid_lon,
  tracts.centroid_lat,
  latest.year AS population_year,
  latest.population,
  CASE WHEN tracts.area_km2 > 0 THEN latest.population / tracts.area_km2 END AS population_density_per_km2,
  tracts.customers,
  CASE
    WHEN latest.population > 0
    THEN CAST(tracts.customers AS DOUBLE) * 1000 / latest.population
  END AS customers_per_1000_people,
  tracts.geometry_wkb_hex,
  tracts.crs
FROM sqlmesh_staging.stg_geo__tracts AS tracts
LEFT JOIN latest
  ON tracts.tract_id = latest.tract_id
