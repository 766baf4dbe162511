-- One row per store (the twin of dbt's marts.fct_store_catchment): its point, the customers whose nearest store
-- it is and how far they live, and its delivery zone's customers, area and people. FULL: static for a run.
MODEL (
  name sqlmesh_marts.fct_store_catchment,
  kind FULL,
  signals [raw_loaded()],
  grain store_id,
  audits (
    not_null(columns := (store_id)),
    unique_values(columns := (store_id)),
    forall(
      criteria := (
        nearest_customers >= 0 AND zone_customers >= 0 AND zone_area_km2 >= 0 AND zone_population >= 0,
        nearest_customers = 0 OR nearest_mean_distance_m <= nearest_max_distance_m + 1e-9
      )
    )
  )
);

SELECT
  store_id,
  store_name,
  store_format,
  city,
  lon,
  lat,
  geometry_wkb_hex,
  crs,
  nearest_customers,
  nearest_mean_distance_m,
  nearest_max_distance_m,
  zone_customers,
  zone_area_km2,
  population_year,
  zone_population,
  CASE WHEN zone_area_km2 > 0 THEN zone_population / zone_area_km2 END AS zone_population_density_per_km2,
  CASE
    WHEN zone_population > 0
    THEN CAST(zone_customers AS DOUBLE) * 1000 / zone_population
  END AS zone_customers_per_1000_people
FROM sqlmesh_staging.stg_geo__store_catchment
