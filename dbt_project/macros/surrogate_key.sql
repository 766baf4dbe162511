{#-
    A deterministic surrogate key: md5 of the listed columns, cast to text, NULL-safe, separated by '|'.
    (dbt_utils.generate_surrogate_key does the same; this project uses no hub packages.)
    The same inputs always give the same key, so a full refresh and an incremental run agree.
-#}
{% macro surrogate_key(columns) -%}
    md5(
    {%- for column in columns %}
        coalesce(cast({{ column }} as varchar), '<null>')
        {%- if not loop.last %} || '|' ||{% endif %}
    {%- endfor %}
    )
{%- endmacro %}
