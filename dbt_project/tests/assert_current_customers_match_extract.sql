-- The current versions of dim_customers are exactly the customers of the current extract, attribute for
-- attribute (EXCEPT in both directions). This checks the whole chain extract -> snapshot -> dimension:
-- a missed change, a missed delete or a missed return shows up here.
{%- set columns -%}
    customer_id, first_name, last_name, email, street_address, city, postal_code, loyalty_tier, signed_up_on
{%- endset %}

{{ except_both_ways(
    'select ' ~ columns ~ ' from ' ~ ref('dim_customers') ~ ' where is_current',
    'select ' ~ columns ~ ' from ' ~ ref('int_customers__current_extract'),
    'only in dim_customers',
    'only in the extract',
) }}
