-- One row per hard delete seen in the daily customer extracts: the customer was in the extract of one load
-- day and is missing from the next one. Computed from the extracts alone, independently of the snapshot, so
-- dim_customers.closed_by_delete (and the scd2_no_gaps test built on it) can check the snapshot's work.
-- A customer deleted twice (deleted, returned, deleted again) has two rows.
--
-- Incremental, as the SQLMesh twin (by time range on deleted_on): a delete found on day D only compares the
-- extract of D with the one before it, so a run computes the deletes of the last lookback_days days up to
-- run_date from those extracts and the one before them, instead of comparing every pair of extracts of the
-- history (as a view that ran once for dim_customers and once per test; as a table, once a run: both grow
-- with the history, docs/measurements.md). The extract before the window is looked for in the week
-- before it first, which the load-day index answers from a few blocks, and in the whole history only if that
-- week has none. A day's deletes never change once its extracts are in, so re-running a day is idempotent.
{{
    config(
        materialized='incremental',
        unique_key=['customer_id', 'deleted_on'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set window_start -%}
    ({{ run_date_literal() }} - {{ var('lookback_days') | int }})
{%- endset %}

{%- set presence -%}
    select distinct customer_id, loaded_on
    from {{ ref('stg_shop__customers') }}
    {% if is_incremental() %}
    where loaded_on >= coalesce(
        (
            select max(loaded_on) from {{ ref('stg_shop__customers') }}
            where loaded_on >= {{ window_start }} - 7 and loaded_on < {{ window_start }}
        ),
        (select max(loaded_on) from {{ ref('stg_shop__customers') }} where loaded_on < {{ window_start }}),
        {{ window_start }}
    )
    {% endif %}
{%- endset %}

{{ hard_deletes(presence, 'customer_id', since=window_start if is_incremental() else none) }}
