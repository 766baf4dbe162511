-- Every order in fct_orders carries the status (and updated_at) of its latest delivered version, and no
-- order is missing. This is what the incremental lookback has to guarantee: a re-sent update that the
-- lookback failed to pick up would leave an old status here. Returns the offending orders.
-- With var test_since (macros/test_scope.sql) only orders with a version delivered since then are compared: a
-- stale row in fct_orders then shows up as missing there, because its last_loaded_on is older.
select
    coalesce(fct.order_id, latest.order_id) as order_id,
    fct.order_status as fct_status,
    latest.order_status as latest_status,
    fct.updated_at as fct_updated_at,
    latest.updated_at as latest_updated_at
from (select * from {{ ref('fct_orders') }} where {{ test_since_filter('last_loaded_on') }}) as fct
full outer join (
    select * from {{ ref('int_orders__latest_version') }} where {{ test_since_filter('last_loaded_on') }}
) as latest
    on fct.order_id = latest.order_id
where fct.order_id is null
   or latest.order_id is null
   or fct.order_status <> latest.order_status
   or fct.updated_at <> latest.updated_at
