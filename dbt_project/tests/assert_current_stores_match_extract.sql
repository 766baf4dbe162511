-- The current versions of dim_stores are exactly the stores of the current extract (EXCEPT both ways).
with current_versions as (
    select store_id, store_name, store_format, size_sqm, city, opened_on
    from {{ ref('dim_stores') }}
    where is_current
),

current_extract as (
    select store_id, store_name, store_format, size_sqm, city, opened_on
    from {{ ref('int_stores__current_extract') }}
),

only_in_dim as (
    select 'only in dim_stores' as problem, * from (select * from current_versions except select * from current_extract) as d
),

only_in_extract as (
    select 'only in the extract' as problem, * from (select * from current_extract except select * from current_versions) as e
)

select * from only_in_dim
union all
select * from only_in_extract
