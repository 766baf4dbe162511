-- The current versions of dim_stores are exactly the stores of the current extract (EXCEPT both ways).
{%- set columns = 'store_id, store_name, store_format, size_sqm, city, opened_on' %}

{{ except_both_ways(
    'select ' ~ columns ~ ' from ' ~ ref('dim_stores') ~ ' where is_current',
    'select ' ~ columns ~ ' from ' ~ ref('int_stores__current_extract'),
    'only in dim_stores',
    'only in the extract',
) }}
