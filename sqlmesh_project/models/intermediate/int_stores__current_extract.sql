-- The stores at the end of the day being processed: the latest full extract on or before it.
-- The query of snap_stores (by-column SCD2: stores have no change timestamp). EMBEDDED, see the customers twin.
MODEL (
  name sqlmesh_intermediate.int_stores__current_extract,
  kind EMBEDDED
);

WITH stores AS (
  SELECT * FROM sqlmesh_staging.stg_shop__stores
), latest_extract AS (
  SELECT MAX(loaded_on) AS loaded_on FROM stores
)
SELECT
  stores.store_id,
  stores.store_name,
  stores.store_format,
  stores.size_sqm,
  stores.city,
  stores.opened_on
FROM stores
INNER JOIN latest_extract
  ON stores.loaded_on = latest_extract.loaded_on
