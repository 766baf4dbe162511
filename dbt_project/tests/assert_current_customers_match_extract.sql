-- The current versions of dim_customers are exactly the customers of the current extract, attribute for
-- attribute (EXCEPT in both directions). This checks the whole chain extract -> snapshot -> dimension:
-- a missed change, a missed delete or a missed return shows up here.
with current_versions as (
    select customer_id, first_name, last_name, email, street_address, city, postal_code, loyalty_tier,
           signed_up_on
    from {{ ref('dim_customers') }}
    where is_current
),

current_extract as (
    select customer_id, first_name, last_name, email, street_address, city, postal_code, loyalty_tier,
           signed_up_on
    from {{ ref('int_customers__current_extract') }}
),

only_in_dim as (
    select 'only in dim_customers' as problem, * from (select * from current_versions except select * from current_extract) as d
),

only_in_extract as (
    select 'only in the extract' as problem, * from (select * from current_extract except select * from current_versions) as e
)

select * from only_in_dim
union all
select * from only_in_extract
