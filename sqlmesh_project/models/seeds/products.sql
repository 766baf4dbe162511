-- The product catalogue from the repository's one copy of the reference data (seeds/, shared with dbt).
MODEL (
  name sqlmesh_seeds.products,
  kind SEED (path '../../../seeds/products.csv'),
  columns (
    product_id BIGINT,
    product_name VARCHAR,
    category_id BIGINT,
    unit_price DECIMAL(10, 2),
    is_perishable BOOLEAN
  ),
  grain product_id,
  audits (not_null(columns := (product_id, category_id)), unique_values(columns := (product_id)))
);

@INSERT_SEED();

-- Read by the marts in the run that loads it: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
