-- One row per store that disappears from the daily store extract (present on one load day, missing from the
-- next). Same logic as int_customers__hard_deletes; feeds dim_stores.closed_by_delete.
-- A table rebuilt every run, for the reason given in int_customers__hard_deletes.
{{ config(materialized='table') }}

{%- set presence -%}
    select distinct store_id, loaded_on
    from {{ ref('stg_shop__stores') }}
{%- endset %}

{{ hard_deletes(presence, 'store_id') }}
