-- Staging: rename and cast only (plus the run_date visibility filter, see stg_shop__customers).
select
    cast(store_id as bigint) as store_id,
    cast(store_name as varchar) as store_name,
    cast(store_format as varchar) as store_format,
    cast(size_sqm as integer) as size_sqm,
    cast(city as varchar) as city,
    cast(opened_date as date) as opened_on,
    cast(_load_date as date) as loaded_on,
    cast(_source_file as varchar) as source_file,
    cast(_source_line as bigint) as source_line
from {{ source('shop', 'stores') }}
where {{ loaded_as_of_run_date() }}
