-- One row per census tract of the seeded metro: its area (measured by the geo step in the metric CRS), centroid,
-- latest census population, the customers living in it, and its polygon as hex WKB (EPSG:4326, column crs).
with latest as (
    select
        tract_id,
        year,
        population
    from {{ ref('stg_geo__tract_years') }}
    where year = (select max(year) from {{ ref('stg_geo__tract_years') }})
)

select
    tracts.tract_id,
    tracts.area_km2,
    tracts.centroid_lon,
    tracts.centroid_lat,
    latest.year as population_year,
    latest.population,
    case when tracts.area_km2 > 0 then latest.population / tracts.area_km2 end as population_density_per_km2,
    tracts.customers,
    case
        when latest.population > 0 then cast(tracts.customers as double precision) * 1000 / latest.population
    end as customers_per_1000_people,
    tracts.geometry_wkb_hex,
    tracts.crs
from {{ ref('stg_geo__tracts') }} as tracts
left join latest on tracts.tract_id = latest.tract_id
