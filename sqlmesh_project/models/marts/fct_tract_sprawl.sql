-- One row per tract x image year (the twin of dbt's marts.fct_tract_sprawl): population, built-up land, growth
-- since the previous image year and the SDG 11.3.1 ratio LCR / PGR, with
--   LCR = ln(Urb_t / Urb_t-1) / y,   PGR = ln(Pop_t / Pop_t-1) / y,
-- defined only where both logarithms are and PGR <> 0. Urb is the cloud-filled estimate (built-up share of the
-- valid pixels x mapped area): clouds hide different pixels each year. FULL: static for a run.
MODEL (
  name sqlmesh_marts.fct_tract_sprawl,
  kind FULL,
  signals [raw_loaded()],
  grain tract_year_key,
  audits (
    not_null(columns := (tract_year_key, tract_id, year)),
    unique_values(columns := (tract_year_key)),
    unique_combination_of_columns(columns := (tract_id, year)),
    forall(
      criteria := (
        builtup_km2 <= valid_km2 + 1e-9 AND valid_km2 <= mapped_km2 + 1e-9 AND population >= 0,
        builtup_share BETWEEN 0 AND 1 AND builtup_km2_estimated >= builtup_km2 - 1e-9,
        previous_year IS NULL OR previous_year < year
      )
    )
  )
);

WITH years AS (
  SELECT
    ty.tract_id,
    ty.year,
    tracts.area_km2,
    ty.population,
    ty.mapped_km2,
    ty.valid_km2,
    ty.builtup_km2,
    CASE
      WHEN ty.valid_pixels > 0
      THEN CAST(ty.builtup_pixels AS DOUBLE) / ty.valid_pixels
    END AS builtup_share
  FROM sqlmesh_staging.stg_geo__tract_years AS ty
  INNER JOIN sqlmesh_staging.stg_geo__tracts AS tracts
    ON ty.tract_id = tracts.tract_id
), estimated AS (
  SELECT
    *,
    builtup_share * mapped_km2 AS builtup_km2_estimated
  FROM years
), with_previous AS (
  SELECT
    *,
    LAG(year) OVER (PARTITION BY tract_id ORDER BY year) AS previous_year,
    LAG(population) OVER (PARTITION BY tract_id ORDER BY year) AS previous_population,
    LAG(builtup_km2_estimated) OVER (PARTITION BY tract_id ORDER BY year) AS previous_builtup_km2_estimated
  FROM estimated
), rates AS (
  SELECT
    *,
    CASE
      WHEN builtup_km2_estimated > 0 AND previous_builtup_km2_estimated > 0
      THEN LN(builtup_km2_estimated / previous_builtup_km2_estimated) / (year - previous_year)
    END AS land_consumption_rate,
    CASE
      WHEN population > 0 AND previous_population > 0
      THEN LN(CAST(population AS DOUBLE) / previous_population) / (year - previous_year)
    END AS population_growth_rate
  FROM with_previous
)
SELECT
  @surrogate_key(tract_id, year) AS tract_year_key,
  tract_id,
  year,
  area_km2,
  population,
  CASE WHEN area_km2 > 0 THEN population / area_km2 END AS population_density_per_km2,
  mapped_km2,
  valid_km2,
  CASE WHEN mapped_km2 > 0 THEN valid_km2 / mapped_km2 END AS valid_share,
  builtup_km2,
  builtup_share,
  builtup_km2_estimated,
  CASE
    WHEN builtup_km2_estimated > 0
    THEN population / builtup_km2_estimated
  END AS people_per_builtup_km2,
  previous_year,
  population - previous_population AS population_growth,
  builtup_km2_estimated - previous_builtup_km2_estimated AS builtup_km2_growth,
  land_consumption_rate,
  population_growth_rate,
  CASE
    WHEN population_growth_rate <> 0
    THEN land_consumption_rate / population_growth_rate
  END AS lcr_pgr_ratio
FROM rates
