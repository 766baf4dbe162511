-- One row per store: where it is (point as hex WKB, EPSG:4326), the customers for whom it is the nearest store
-- and how far they live, and its delivery zone's customers, area and people (tract populations shared by area).
-- Distances and areas come measured in metres from the geo step; here only ratios of them.
select
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
    case when zone_area_km2 > 0 then zone_population / zone_area_km2 end as zone_population_density_per_km2,
    case
        when zone_population > 0 then cast(zone_customers as double precision) * 1000 / zone_population
    end as zone_customers_per_1000_people
from {{ ref('stg_geo__store_catchment') }}
