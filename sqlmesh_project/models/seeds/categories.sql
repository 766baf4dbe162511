-- Product categories from the shared seeds/ folder (the same file dbt seeds).
MODEL (
  name sqlmesh_seeds.categories,
  kind SEED (path '../../../seeds/categories.csv'),
  columns (category_id BIGINT, category_name VARCHAR, department VARCHAR),
  grain category_id,
  audits (not_null(columns := (category_id)), unique_values(columns := (category_id)))
);
