-- SCD2 invariants, the twins of dbt_project/tests/generic/scd2_*.sql. An audit returns the offending rows;
-- SQLMesh fails the model (and stops its downstream models) when any row comes back.
-- Open versions may be NULL (SQLMesh's SCD2 models) or 9999-12-31 (the dims): both count as "current".

AUDIT (
  name scd2_one_current_row,
  defaults (valid_to = valid_to)
);
-- Each key has at most one current version (it may have none: closed by a hard delete).
SELECT @key, COUNT(*) AS current_versions
FROM @this_model
WHERE COALESCE(@valid_to, CAST('9999-12-31' AS TIMESTAMP)) = CAST('9999-12-31' AS TIMESTAMP)
GROUP BY @key
HAVING COUNT(*) > 1;

AUDIT (
  name scd2_valid_window,
  defaults (valid_from = valid_from, valid_to = valid_to)
);
-- Every version covers a non-empty window: valid_from < valid_to (an open version ends in the far future).
SELECT *
FROM @this_model
WHERE @valid_from IS NULL
  OR NOT (@valid_from < COALESCE(@valid_to, CAST('9999-12-31' AS TIMESTAMP)));

AUDIT (
  name scd2_no_overlap,
  defaults (valid_from = valid_from, valid_to = valid_to)
);
-- The versions of one key never overlap, so "the version valid at time t" is unique.
SELECT *
FROM (
  SELECT
    @key AS scd2_key,
    @valid_from AS scd2_valid_from,
    COALESCE(@valid_to, CAST('9999-12-31' AS TIMESTAMP)) AS scd2_valid_to,
    LEAD(@valid_from) OVER (PARTITION BY @key ORDER BY @valid_from) AS next_valid_from
  FROM @this_model
) AS ordered
WHERE next_valid_from IS NOT NULL AND scd2_valid_to > next_valid_from;

AUDIT (
  name scd2_no_gaps,
  defaults (valid_from = valid_from, valid_to = valid_to, closed_by_delete = closed_by_delete)
);
-- Consecutive versions touch, unless the earlier one was closed by a hard delete. closed_by_delete comes from
-- the extracts, not from the SCD2 model, so this checks SQLMesh's history against the source.
SELECT *
FROM (
  SELECT
    @key AS scd2_key,
    COALESCE(@valid_to, CAST('9999-12-31' AS TIMESTAMP)) AS scd2_valid_to,
    @closed_by_delete AS scd2_closed_by_delete,
    LEAD(@valid_from) OVER (PARTITION BY @key ORDER BY @valid_from) AS next_valid_from
  FROM @this_model
) AS ordered
WHERE next_valid_from IS NOT NULL AND next_valid_from <> scd2_valid_to AND NOT scd2_closed_by_delete;
