-- One row per order: its latest delivered version. Orders arrive as a delta in which the same order can
-- appear again (a re-sent update with a new status, or late). The latest version is the one with the
-- greatest updated_at; on a tie the one delivered last (_load_date, then its line in the file) wins, so the
-- choice is deterministic.
-- (Written with row_number() in a subquery rather than DuckDB's QUALIFY so it also runs on PostgreSQL.)
with versions as (
    select
        order_id,
        customer_id,
        store_id,
        ordered_at,
        order_status,
        delivery_fee,
        updated_at,
        loaded_on,
        count(*) over (partition by order_id) as version_count,
        min(loaded_on) over (partition by order_id) as first_loaded_on,
        row_number() over (
            partition by order_id
            order by updated_at desc, loaded_on desc, source_file desc, source_line desc
        ) as version_rank
    from {{ ref('stg_shop__orders') }}
)

select
    order_id,
    customer_id,
    store_id,
    ordered_at,
    order_status,
    delivery_fee,
    updated_at,
    first_loaded_on,
    loaded_on as last_loaded_on,
    version_count
from versions
where version_rank = 1
