-- Product categories from the shared seeds/ folder (the same file dbt seeds).
MODEL (
  name sqlmesh_seeds.categories,
  kind SEED (path '../../../seeds/categories.csv'),
  columns (category_id BIGINT, category_name VARCHAR, department VARCHAR),
  grain category_id,
  audits (not_null(columns := (category_id)), unique_values(columns := (category_id)))
);

@INSERT_SEED();

-- Read by the marts in the run that loads it: PostgreSQL needs its statistics now (macros/planner.py).
@analyze_on_postgres()
