-- Staging: rename and cast only, one row per raw row. The single row filter allowed in staging hides rows
-- delivered after the day being processed (macro loaded_as_of_run_date), so day D can be rebuilt exactly.
select
    cast(customer_id as bigint) as customer_id,
    cast(first_name as varchar) as first_name,
    cast(last_name as varchar) as last_name,
    cast(email as varchar) as email,
    cast(street_address as varchar) as street_address,
    cast(city as varchar) as city,
    cast(postal_code as varchar) as postal_code,
    cast(loyalty_tier as varchar) as loyalty_tier,
    cast(signup_date as date) as signed_up_on,
    cast(updated_at as timestamp) as updated_at,
    -- lineage: which delivery the row came from
    cast(_load_date as date) as loaded_on,
    cast(_source_file as varchar) as source_file,
    cast(_source_line as bigint) as source_line
from {{ source('shop', 'customers') }}
where {{ loaded_as_of_run_date() }}
