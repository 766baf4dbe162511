"""The report job's inputs, prepared once per dataset from the generator's landing files.

The fact is the batch module's line facts (`batch/spark/df.py`: the latest version of each order, cancelled
orders dropped, every line with its order's day, store and customer), written in the four layouts the job's
switches choose between: CSV or Parquet, flat or partitioned by `order_date`. The dimensions (customers with
their segment, stores) come from the landing extracts, as CSV and Parquet; products from the seed.

    <dataset>/tuning/fact/{csv,parquet}/{flat,by_date}/     the line facts
    <dataset>/tuning/dims/{customers,stores}.{csv,parquet}/  one row per customer / store
    <dataset>/tuning/inputs.json                             window, rows and bytes per layout

The report window is the last WINDOW_WEEKS whole weeks (Monday to Sunday) up to the last landing day: the filter
that pruning turns into fewer folders read.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from python_jobs.batch.atomic import write_atomic
from python_jobs.batch.semantics import landing_days, landing_files
from python_jobs.batch.spark.df import LINE_SCHEMA, ORDER_SCHEMA, line_facts, read_csv, read_products

WINDOW_WEEKS = 2
FACT_SCHEMA = T.StructType(
    [
        T.StructField("order_id", T.LongType()),
        T.StructField("customer_id", T.LongType()),
        T.StructField("store_id", T.LongType()),
        T.StructField("product_id", T.LongType()),
        T.StructField("quantity", T.LongType()),
        T.StructField("cents", T.LongType()),
        T.StructField("order_date", T.DateType()),  # last: where partition discovery puts it back
    ]
)
CUSTOMER_SCHEMA = "customer_id BIGINT, segment STRING"
STORE_SCHEMA = "store_id BIGINT, store_name STRING"
FORMATS = ("csv", "parquet")
LAYOUTS = ("flat", "by_date")


@dataclass(frozen=True)
class Inputs:
    root: Path  # <dataset>/tuning
    products_csv: Path  # the seed
    window_start: date
    window_end: date
    fact_rows: int
    fact_bytes: dict[str, int]  # "<format>/<layout>" -> bytes on disk
    window_parquet_bytes: int  # the Parquet bytes inside the window: what the sizes of the fixes follow

    def fact(self, fmt: str, layout: str) -> Path:
        return self.root / "fact" / fmt / layout

    def dim(self, name: str, fmt: str) -> Path:
        return self.root / "dims" / f"{name}.{fmt}"

    @classmethod
    def load(cls, dataset: Path, seeds_dir: Path) -> Inputs:
        path = dataset / "tuning" / "inputs.json"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: prepare the inputs first (python -m python_jobs.tuning prepare ...)"
            )
        raw = json.loads(path.read_text())
        return cls(
            root=dataset / "tuning",
            products_csv=seeds_dir / "products.csv",
            window_start=date.fromisoformat(raw["window_start"]),
            window_end=date.fromisoformat(raw["window_end"]),
            fact_rows=raw["fact_rows"],
            fact_bytes=raw["fact_bytes"],
            window_parquet_bytes=raw["window_parquet_bytes"],
        )


def report_window(last_day: date, weeks: int = WINDOW_WEEKS) -> tuple[date, date]:
    monday = last_day - timedelta(days=last_day.weekday())
    return monday - timedelta(days=7 * (weeks - 1)), last_day


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


def _dimensions(landing: Path, days: list[date]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each customer's segment (loyalty tier) and each store's name from the latest extract naming them: a
    customer deleted since still has the segment of the last extract that listed them."""
    customers = pd.concat(
        pd.read_csv(
            landing / d.isoformat() / "customers.csv", usecols=["customer_id", "loyalty_tier"]
        ).assign(day=d)
        for d in days
    )
    customers = (
        customers.sort_values(["customer_id", "day"])
        .drop_duplicates("customer_id", keep="last")
        .rename(columns={"loyalty_tier": "segment"})[["customer_id", "segment"]]
    )
    stores = pd.read_csv(landing / days[-1].isoformat() / "stores.csv", usecols=["store_id", "store_name"])
    return customers.reset_index(drop=True), stores


def prepare(spark: SparkSession, dataset: Path, seeds_dir: Path, *, files_per_layout: int = 4) -> Inputs:
    """Write every layout of the fact and the dimensions under <dataset>/tuning (replacing an older copy);
    inputs.json is written last, so a prepare that dies part-way leaves no inputs a job would read."""
    landing = dataset / "landing"
    days = landing_days(landing)
    if not days:
        raise FileNotFoundError(f"no landing days under {landing}")
    root = dataset / "tuning"
    (root / "inputs.json").unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    orders = read_csv(spark, landing_files(landing, days, "orders"), ORDER_SCHEMA)
    lines = read_csv(spark, landing_files(landing, days, "order_lines"), LINE_SCHEMA)
    products = read_products(spark, str(seeds_dir / "products.csv"))
    fact = line_facts(orders, lines, products).select(*FACT_SCHEMA.fieldNames())
    staged = root / "staged"
    fact.write.parquet(str(staged))  # once, so the four layouts are copies of the same rows
    fact = spark.read.schema(FACT_SCHEMA).parquet(str(staged))
    by_date = fact.repartition("order_date").sortWithinPartitions("order_date", "order_id")
    flat = fact.repartition(files_per_layout).sortWithinPartitions("order_id")
    for fmt in FORMATS:
        write = by_date.write.partitionBy("order_date")
        getattr(write.option("header", True) if fmt == "csv" else write, fmt)(
            str(root / "fact" / fmt / "by_date")
        )
        write = flat.write
        getattr(write.option("header", True) if fmt == "csv" else write, fmt)(
            str(root / "fact" / fmt / "flat")
        )
    customers, stores = _dimensions(landing, days)
    for name, frame in (("customers", customers), ("stores", stores)):
        dim = spark.createDataFrame(frame).coalesce(1)
        dim.write.option("header", True).csv(str(root / "dims" / f"{name}.csv"))
        dim.write.parquet(str(root / "dims" / f"{name}.parquet"))
    start, end = report_window(days[-1])
    window_bytes = sum(
        _size(p)
        for p in (root / "fact" / "parquet" / "by_date").glob("order_date=*")
        if start <= date.fromisoformat(p.name.split("=", 1)[1]) <= end
    )
    inputs = Inputs(
        root=root,
        products_csv=seeds_dir / "products.csv",
        window_start=start,
        window_end=end,
        fact_rows=fact.count(),
        fact_bytes={f"{fmt}/{lay}": _size(root / "fact" / fmt / lay) for fmt in FORMATS for lay in LAYOUTS},
        window_parquet_bytes=window_bytes,
    )
    shutil.rmtree(staged)
    record = {k: v for k, v in asdict(inputs).items() if k not in ("root", "products_csv")}
    record |= {"window_start": start.isoformat(), "window_end": end.isoformat(), "landing_days": len(days)}
    write_atomic(root / "inputs.json", lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))
    return inputs
