"""Validated read of one landing day with Spark: PERMISSIVE parsing, a corrupt-record column, rules, quarantine.

Lines are read as text first so each keeps its physical line number (the quarantine contract needs it, and
`spark.read.csv` cannot give it): a line's number is the rows of earlier blocks of its file plus its position in
its block (`input_file_block_start` + `monotonically_increasing_id`, both free). Each line is then parsed with
`from_csv` in PERMISSIVE mode with `_corrupt_record`, and checked in the ingest's order of precedence:
invalid UTF-8 (`is_valid_utf8`: Spark strings keep the raw bytes) → broken quoting → column count → unparsable value → missing value → domain rule → unknown
foreign key → duplicate key (the first valid occurrence of a key is kept, as in the ingest).
Rows in = rows out + quarantined is checked before anything is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from python_jobs.batch.semantics import landing_files
from python_jobs.batch.spark.df import LINE_SCHEMA, ORDER_SCHEMA, TIMESTAMP_FORMAT

SCHEMAS = {"orders": ORDER_SCHEMA, "order_lines": LINE_SCHEMA}
KEYS = {"orders": ("order_id",), "order_lines": ("order_id", "line_number")}
QUARANTINE_SOURCE_PREFIX = "batch_spark."  # ingest.quarantine rows of this job, beside the ingest's own
QUARANTINE_COLUMNS = (
    "source",
    "load_date",
    "source_file",
    "source_line",
    "column_name",
    "reason",
    "raw_line",
)


class ReconciliationError(Exception):
    pass


@dataclass(frozen=True)
class Counts:
    source: str
    rows_in: int
    rows_out: int
    quarantined: int
    empty_files: int


def _rules(source: str) -> list[tuple[str, Column, str]]:
    """(column, failing condition, reason) checked on parsed, non-null values, in column order."""
    if source == "orders":
        return [
            ("order_id", F.col("order_id") < 1, "must be >= 1"),
            (
                "status",
                ~F.col("status").isin("placed", "picked", "delivered", "cancelled"),
                "not one of placed, picked, delivered, cancelled",
            ),
            ("delivery_fee", F.col("delivery_fee") < 0, "must be >= 0"),
        ]
    return [
        ("line_number", F.col("line_number") < 1, "must be >= 1"),
        ("quantity", F.col("quantity") <= 0, "must be > 0"),
        ("unit_price", F.col("unit_price") < 0, "must be >= 0"),
    ]


def _first(cases: list[tuple[Column, Column]]) -> Column:
    """The value of the first case whose condition holds (NULL if none)."""
    expr = None
    for condition, value in cases:
        expr = F.when(condition, value) if expr is None else expr.when(condition, value)
    return expr


def read_positioned(spark: SparkSession, paths: list[Path]) -> DataFrame:
    """Every physical line with its file (relative to the landing folder) and 1-based line number."""
    raw = spark.read.text([str(p) for p in paths]).select(
        "value",
        F.regexp_extract(F.input_file_name(), r"(\d{4}-\d{2}-\d{2}/[^/]+)$", 1).alias("source_file"),
        F.input_file_block_start().alias("block"),
        F.monotonically_increasing_id().alias("row_id"),
    )
    blocks = raw.groupBy("source_file", "block").agg(
        F.count(F.lit(1)).alias("n"), F.min("row_id").alias("first_id")
    )
    earlier = Window.partitionBy("source_file").orderBy("block").rowsBetween(Window.unboundedPreceding, -1)
    blocks = blocks.withColumn("before", F.coalesce(F.sum("n").over(earlier), F.lit(0)))
    return raw.join(F.broadcast(blocks), ["source_file", "block"]).select(
        "value",
        "source_file",
        "block",
        "row_id",
        (F.col("before") + F.col("row_id") - F.col("first_id") + 1).alias("source_line"),
    )


def classify(spark: SparkSession, source: str, lines: DataFrame, known: dict[str, DataFrame]) -> DataFrame:
    """Parse and check every data line; `reason` and `column_name` are NULL for a good row."""
    schema = SCHEMAS[source]
    names = schema.fieldNames()
    with_corrupt = T.StructType([*schema.fields, T.StructField("_corrupt_record", T.StringType())])
    options = {
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": "_corrupt_record",
        "timestampFormat": TIMESTAMP_FORMAT,
    }
    parsed = lines.where(F.col("source_line") > 1).select(
        "*",
        F.from_csv("value", with_corrupt.simpleString(), options).alias("p"),
        F.split("value", ",", -1).alias("tokens"),
    )
    parsed = parsed.select("value", "source_file", "block", "row_id", "source_line", "tokens", "p.*")
    kinds = {f.name: f.dataType.simpleString() for f in schema.fields}
    token = {n: F.col("tokens")[i] for i, n in enumerate(names)}
    cases: list[tuple[Column, Column]] = [
        (~F.is_valid_utf8("value"), F.array(F.lit(None).cast("string"), F.lit("invalid UTF-8"))),
        (
            (F.length("value") - F.length(F.regexp_replace("value", '"', ""))) % 2 == 1,
            F.array(F.lit(None).cast("string"), F.lit("broken quoting: unterminated quote")),
        ),
        (
            F.size("tokens") != len(names),
            F.array(
                F.lit(None).cast("string"),
                F.format_string(f"wrong column count: %d fields, expected {len(names)}", F.size("tokens")),
            ),
        ),
    ]
    for n in names:
        label = "timestamp" if kinds[n] == "timestamp" else kinds[n]
        cases.append((F.col(n).isNull() & (token[n] != ""), F.array(F.lit(n), F.lit(f"malformed {label}"))))
    cases += [(F.col(n).isNull(), F.array(F.lit(n), F.lit("missing value"))) for n in names]
    cases += [(condition, F.array(F.lit(n), F.lit(reason))) for n, condition, reason in _rules(source)]
    checked = parsed.withColumn("failure", _first(cases))

    # Foreign keys: ids that exist in the reference (left anti join semantics, kept as a flag).
    for column, ref in known.items():
        ref_ids = ref.select(
            F.col(ref.columns[0]).alias("_ref_id"), F.lit(True).alias(f"_known_{column}")
        ).distinct()
        # Reference ids are few (customers, products): broadcast them rather than shuffle the day's rows.
        checked = checked.join(F.broadcast(ref_ids), checked[column] == F.col("_ref_id"), "left").drop(
            "_ref_id"
        )
        checked = checked.withColumn(
            "failure",
            F.coalesce(
                "failure",
                F.when(
                    F.col(f"_known_{column}").isNull(), F.array(F.lit(column), F.lit(f"unknown {column}"))
                ),
            ),
        )
    # Duplicates among otherwise valid rows: the first occurrence in file order wins.
    first = Window.partitionBy(*KEYS[source], F.col("failure").isNull()).orderBy(
        "source_file", "block", "row_id"
    )
    checked = checked.withColumn(
        "failure",
        F.coalesce(
            "failure",
            F.when(F.row_number().over(first) > 1, F.array(F.lit(KEYS[source][-1]), F.lit("duplicate key"))),
        ),
    )
    return checked.select(
        *names,
        "value",
        "source_file",
        "source_line",
        F.col("failure")[0].alias("column_name"),
        F.col("failure")[1].alias("reason"),
    )


def stage_day(
    spark: SparkSession, landing_dir: Path, day: date, products: DataFrame
) -> tuple[dict[str, DataFrame], DataFrame, list[Counts]]:
    """Good rows per source (typed, with load_date) and the quarantine rows of one landing day."""
    customers = [
        str(p)
        for d in sorted(landing_dir.iterdir())
        if d.name <= day.isoformat()
        for p in d.glob("customers*.csv")
        if p.stat().st_size > 0
    ]
    customer_ids = (
        spark.read.text(customers)
        .select(F.substring_index("value", ",", 1).try_cast("long").alias("customer_id"))
        .where(F.col("customer_id").isNotNull())
    )
    known = {
        "orders": {"customer_id": customer_ids},
        "order_lines": {"product_id": products.select("product_id")},
    }
    good: dict[str, DataFrame] = {}
    quarantine: list[DataFrame] = []
    counts: list[Counts] = []
    day_literal = F.lit(day)
    for source in ("orders", "order_lines"):
        files = landing_files(landing_dir, [day], source, non_empty=False)
        empty = [f for f in files if f.path.stat().st_size == 0]
        # Cached: the header check, the input count and the classification all read these lines.
        lines = read_positioned(spark, [f.path for f in files if f not in empty]).cache()
        expected = ",".join(SCHEMAS[source].fieldNames())
        header_ok, rows_in = lines.agg(
            F.coalesce(F.min(F.when(F.col("source_line") == 1, F.col("value") == expected)), F.lit(True)),
            F.count(F.when(F.col("source_line") > 1, 1)),
        ).first()
        if not header_ok:
            raise ReconciliationError(f"{source} {day}: a file's header is not {expected!r}")
        checked = classify(spark, source, lines, known[source]).cache()
        good[source] = (
            checked.where(F.col("reason").isNull())
            .select(*SCHEMAS[source].fieldNames())
            .withColumn("load_date", day_literal)
        )
        bad = checked.where(F.col("reason").isNotNull()).select(
            F.lit(QUARANTINE_SOURCE_PREFIX + source).alias("source"),
            day_literal.alias("load_date"),
            "source_file",
            F.col("source_line").cast("long").alias("source_line"),
            "column_name",
            "reason",
            # Spark keeps the raw bytes: decode with replacement characters, as the ingest does.
            F.make_valid_utf8("value").alias("raw_line"),
        )
        if empty:
            rows = [
                (
                    QUARANTINE_SOURCE_PREFIX + source,
                    day,
                    f"{day.isoformat()}/{f.path.name}",
                    0,
                    None,
                    "empty file",
                    "",
                )
                for f in empty
            ]
            bad = bad.unionByName(spark.createDataFrame(rows, bad.schema))
        totals = {
            r["bad"]: r["n"]
            for r in checked.groupBy(F.col("reason").isNotNull().alias("bad"))
            .agg(F.count(F.lit(1)).alias("n"))
            .collect()
        }
        count = Counts(source, rows_in, totals.get(False, 0), totals.get(True, 0), len(empty))
        if count.rows_in != count.rows_out + count.quarantined:
            raise ReconciliationError(f"{source} {day}: {count}")
        counts.append(count)
        quarantine.append(bad)
    return good, quarantine[0].unionByName(quarantine[1]), counts
