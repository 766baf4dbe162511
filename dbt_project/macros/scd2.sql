{#-
    Helpers shared by the SCD Type 2 dimensions and their tests.
-#}

{#- The valid_to of a current version. It must match `dbt_valid_to_current` in snapshots/*.yml: a far-future
    date instead of NULL lets every "valid at time t" query be a plain `t >= valid_from and t < valid_to`. -#}
{% macro scd2_high_date() -%}
    cast('9999-12-31' as timestamp)
{%- endmacro %}


{#-
    The simulated day whose snapshot run closed a version, from its valid_to:
      - closed by a change (timestamp strategy): valid_to is the new version's updated_at, a time during the
        day whose extract delivered the change, so the day is simply the date of valid_to;
      - closed by a hard delete or a check-strategy change: valid_to is the snapshot clock, the midnight AFTER
        run_date (macros/snapshot_clock.sql), so the day is the date before.
    A change stamped exactly at midnight would be attributed to the day before; that day's extract still holds
    the entity, so such a version is (correctly) not "closed by delete" either way.
-#}
{% macro scd2_closing_day(valid_to) -%}
    case
        when {{ valid_to }} = cast(cast({{ valid_to }} as date) as timestamp)
            then cast(cast({{ valid_to }} as date) - interval '1 day' as date)
        else cast({{ valid_to }} as date)
    end
{%- endmacro %}
