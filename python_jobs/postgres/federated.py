"""A federated query: DuckDB joins marts served by PostgreSQL with a local Parquet file and local DuckDB tables.

The story: the marts live in PostgreSQL (where the BI tool reads them), the order lines are archived as Parquet
in the lake, and the product catalogue sits in the local DuckDB warehouse. One DuckDB query joins all three;
DuckDB pulls the Postgres rows with its postgres extension (binary COPY) and pushes the filter on order status
down to Postgres, so only delivered orders cross the wire.

Question answered: revenue and delivered orders per department and loyalty tier (the tier the customer had when
ordering, through the SCD2 surrogate key).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

REVENUE_BY_DEPARTMENT_AND_TIER = """
SELECT
    categories.department,
    customers.loyalty_tier,
    count(DISTINCT orders.order_id) AS delivered_orders,
    sum(lines.quantity) AS items,
    sum(lines.quantity * lines.unit_price) AS revenue
FROM {marts}.fct_orders AS orders
JOIN {marts}.dim_customers AS customers ON customers.customer_sk = orders.customer_sk
JOIN read_parquet('{parquet}') AS lines ON lines.order_id = orders.order_id
JOIN {local}.seeds.products AS products ON products.product_id = lines.product_id
JOIN {local}.seeds.categories AS categories ON categories.category_id = products.category_id
WHERE orders.order_status = 'delivered'
GROUP BY ALL
ORDER BY ALL
"""


def export_order_lines(con: duckdb.DuckDBPyConnection, catalog: str, parquet: Path) -> int:
    """Write the warehouse's order lines to a Parquet file (the 'lake' side of the example); returns rows."""
    parquet.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f'COPY (SELECT order_id, line_number, product_id, quantity, unit_price FROM "{catalog}".raw.order_lines '
        f"ORDER BY order_id, line_number) TO '{parquet.as_posix()}' (FORMAT parquet)"
    )
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet('{parquet.as_posix()}')").fetchone()
    return int(rows)


def revenue_query(parquet: Path, local_catalog: str, marts: str = "pg.marts") -> str:
    """The query with the marts read from `marts` (Postgres by default) and the catalogue from DuckDB."""
    return REVENUE_BY_DEPARTMENT_AND_TIER.format(
        marts=marts, parquet=parquet.as_posix(), local=f'"{local_catalog}"'
    )


def physical_plan(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """DuckDB's physical plan: its POSTGRES_SCAN nodes list the columns and filters sent to Postgres."""
    return "\n".join(str(row[1]) for row in con.execute(f"EXPLAIN {sql}").fetchall())
