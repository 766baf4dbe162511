{#-
    SCD2 invariant: every version covers a non-empty window, valid_from < valid_to, and neither end is NULL
    (current versions end at the high date, never NULL, in this project).
-#}
{% test scd2_valid_window(model, valid_from='valid_from', valid_to='valid_to') %}
select *
from {{ model }}
where {{ valid_from }} is null
   or {{ valid_to }} is null
   or not ({{ valid_from }} < {{ valid_to }})
{% endtest %}
