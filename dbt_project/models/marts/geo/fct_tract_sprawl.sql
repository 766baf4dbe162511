-- One row per tract x image year: population, built-up land and their growth since the previous image year, with
-- the SDG 11.3.1 indicator "ratio of land consumption rate to population growth rate":
--   LCR = ln(Urb_t / Urb_t-1) / y,   PGR = ln(Pop_t / Pop_t-1) / y,   ratio = LCR / PGR,
-- y the years between the two images. Defined only where both logarithms are (positive values both years) and
-- PGR is not 0. Clouds differ from image to image, so Urb is the cloud-filled estimate: the tract's built-up
-- share of its valid (cloud-free) pixels times its mapped area; the observed built-up km² is kept beside it.
with years as (
    select
        ty.tract_id,
        ty.year,
        tracts.area_km2,
        ty.population,
        ty.mapped_km2,
        ty.valid_km2,
        ty.builtup_km2,
        case
            when ty.valid_pixels > 0 then cast(ty.builtup_pixels as double precision) / ty.valid_pixels
        end as builtup_share
    from {{ ref('stg_geo__tract_years') }} as ty
    inner join {{ ref('stg_geo__tracts') }} as tracts on ty.tract_id = tracts.tract_id
),

estimated as (
    select
        *,
        builtup_share * mapped_km2 as builtup_km2_estimated
    from years
),

with_previous as (
    select
        *,
        lag(year) over (partition by tract_id order by year) as previous_year,
        lag(population) over (partition by tract_id order by year) as previous_population,
        lag(builtup_km2_estimated) over (partition by tract_id order by year) as previous_builtup_km2_estimated
    from estimated
),

rates as (
    select
        *,
        case
            when builtup_km2_estimated > 0 and previous_builtup_km2_estimated > 0
                then ln(builtup_km2_estimated / previous_builtup_km2_estimated) / (year - previous_year)
        end as land_consumption_rate,
        case
            when population > 0 and previous_population > 0
                then ln(cast(population as double precision) / previous_population) / (year - previous_year)
        end as population_growth_rate
    from with_previous
)

select
    {{ surrogate_key(['tract_id', 'year']) }} as tract_year_key,
    tract_id,
    year,
    area_km2,
    population,
    case when area_km2 > 0 then population / area_km2 end as population_density_per_km2,
    mapped_km2,
    valid_km2,
    case when mapped_km2 > 0 then valid_km2 / mapped_km2 end as valid_share,
    builtup_km2,
    builtup_share,
    builtup_km2_estimated,
    case when builtup_km2_estimated > 0 then population / builtup_km2_estimated end as people_per_builtup_km2,
    previous_year,
    population - previous_population as population_growth,
    builtup_km2_estimated - previous_builtup_km2_estimated as builtup_km2_growth,
    land_consumption_rate,
    population_growth_rate,
    case
        when population_growth_rate <> 0 then land_consumption_rate / population_growth_rate
    end as lcr_pgr_ratio
from rates
