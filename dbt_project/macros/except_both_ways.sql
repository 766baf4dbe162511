{#-
    except_both_ways: the rows of `left` missing from `right` and those of `right` missing from `left` (EXCEPT in
    both directions), each with a `problem` column saying which side it is only in. For singular tests that
    assert two relations hold the same rows: no row returned, the test passes.

    left, right:              SQL of the two relations (same columns, same order);
    left_only, right_only:    the `problem` text of a row found only on that side.
-#}
{% macro except_both_ways(left, right, left_only, right_only) -%}
with left_side as (
    {{ left }}
),

right_side as (
    {{ right }}
),

only_in_left as (
    select '{{ left_only }}' as problem, * from (select * from left_side except select * from right_side) as d
),

only_in_right as (
    select '{{ right_only }}' as problem, * from (select * from right_side except select * from left_side) as e
)

select * from only_in_left
union all
select * from only_in_right
{%- endmacro %}
