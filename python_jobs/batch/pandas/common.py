"""Pieces the pandas engines share: typed CSV reading, the order and line rules, output writing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import ModuleType

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from python_jobs.batch.atomic import atomic_path
from python_jobs.batch.semantics import LINE_COLUMNS, ORDER_COLUMNS, OUTPUTS, LandingFile

ORDER_DTYPES = {"order_id": "int64", "customer_id": "int64", "store_id": "int64", "status": "string"}
LINE_DTYPES = {"order_id": "int64", "product_id": "int64", "quantity": "int64", "unit_price": "float64"}
# Only the columns the computation needs: less to parse, less to hold.
ORDER_USECOLS = ["order_id", "customer_id", "store_id", "order_ts", "status", "updated_at"]
LINE_USECOLS = ["order_id", "product_id", "quantity", "unit_price"]
assert set(ORDER_USECOLS) <= set(ORDER_COLUMNS) and set(LINE_USECOLS) <= set(LINE_COLUMNS)


def products(seeds_dir: Path) -> pd.DataFrame:
    return pd.read_csv(seeds_dir / "products.csv", usecols=["product_id", "category_id"], dtype="int64")


def prepare_orders(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    """Typed order versions with their landing day; timestamps as int64 ns (cheap to sort and compare)."""
    return pd.DataFrame(
        {
            "order_id": frame["order_id"].to_numpy(),
            "customer_id": frame["customer_id"].to_numpy(),
            "store_id": frame["store_id"].to_numpy(),
            "order_date": pd.to_datetime(frame["order_ts"], format="%Y-%m-%d %H:%M:%S").dt.normalize(),
            "cancelled": (frame["status"] == "cancelled").to_numpy(),
            "updated_at": pd.to_datetime(frame["updated_at"], format="%Y-%m-%d %H:%M:%S"),
            "load_date": pd.Timestamp(day),
        }
    )


def prepare_lines(frame: pd.DataFrame) -> pd.DataFrame:
    # Prices have two decimals: rounding price x 100 gives the exact cents, whatever the float error.
    cents = (frame["unit_price"].to_numpy() * 100).round().astype("int64")
    quantity = frame["quantity"].to_numpy()
    return pd.DataFrame(
        {
            "order_id": frame["order_id"].to_numpy(),
            "product_id": frame["product_id"].to_numpy(),
            "quantity": quantity,
            "cents": cents * quantity,
        }
    )


def read_orders(files: list[LandingFile], pd_module: ModuleType = pd) -> pd.DataFrame:
    parts = [
        prepare_orders(pd_module.read_csv(f.path, usecols=ORDER_USECOLS, dtype=ORDER_DTYPES), f.day)
        for f in files
    ]
    return pd_module.concat(parts, ignore_index=True)


def latest_counted(orders: pd.DataFrame) -> pd.DataFrame:
    """The latest version of each order, cancelled ones dropped (semantics.py)."""
    latest = orders.sort_values(["order_id", "updated_at", "load_date"]).drop_duplicates(
        "order_id", keep="last"
    )
    return latest.loc[~latest["cancelled"], ["order_id", "customer_id", "store_id", "order_date"]]


def line_facts(lines: pd.DataFrame, counted: pd.DataFrame, products_: pd.DataFrame) -> pd.DataFrame:
    return lines.merge(counted, on="order_id", how="inner").merge(products_, on="product_id", how="inner")


def product_partials(facts: pd.DataFrame) -> pd.DataFrame:
    """Sums and counts per (day, store, product): exact to merge by summing when each order is in one part."""
    keys = ["order_date", "store_id", "product_id", "category_id"]
    grouped = facts.groupby(keys, sort=False)
    out = grouped.agg(
        order_count=("order_id", "nunique"),
        line_count=("order_id", "size"),
        item_count=("quantity", "sum"),
        revenue_cents=("cents", "sum"),
    )
    return out.reset_index()


def baskets(facts: pd.DataFrame) -> pd.DataFrame:
    """One row per counted order: its customer, store, day, and basket totals."""
    return (
        facts.groupby("order_id", sort=False)
        .agg(
            customer_id=("customer_id", "first"),
            store_id=("store_id", "first"),
            order_date=("order_date", "first"),
            lines=("quantity", "size"),
            items=("quantity", "sum"),
            cents=("cents", "sum"),
        )
        .reset_index()
    )


def store_partials(basket: pd.DataFrame) -> pd.DataFrame:
    """Per (day, store): sums, and the distinct customers (exact when each customer is in one part)."""
    return (
        basket.groupby(["order_date", "store_id"], sort=False)
        .agg(
            order_count=("order_id", "size"),
            customer_count=("customer_id", "nunique"),
            line_count=("lines", "sum"),
            item_count=("items", "sum"),
            revenue_cents=("cents", "sum"),
        )
        .reset_index()
    )


def finish_product(partials: pd.DataFrame) -> pd.DataFrame:
    out = (
        partials.groupby(["order_date", "store_id", "product_id", "category_id"], sort=False)
        .sum()
        .reset_index()
    )
    out["avg_quantity"] = out["item_count"] / out["line_count"]
    return out[list(OUTPUTS["product_daily"])]


def finish_store(partials: pd.DataFrame) -> pd.DataFrame:
    out = partials.groupby(["order_date", "store_id"], sort=False).sum().reset_index()
    out["avg_basket_items"] = out["item_count"] / out["order_count"]
    out["avg_basket_cents"] = out["revenue_cents"] / out["order_count"]
    return out[list(OUTPUTS["store_daily"])]


def rfm(basket: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """RFM of the customers in `basket` (exact when all of a customer's orders are in it)."""
    out = (
        basket.groupby("customer_id", sort=False)
        .agg(
            last_order_date=("order_date", "max"),
            frequency=("order_id", "size"),
            monetary_cents=("cents", "sum"),
        )
        .reset_index()
    )
    stamp = pd.Timestamp(as_of)
    out.insert(0, "as_of", stamp)
    out["recency_days"] = (stamp - out["last_order_date"]).dt.days.astype("int64")
    out["avg_order_cents"] = out["monetary_cents"] / out["frequency"]
    return out[list(OUTPUTS["customer_rfm"])]


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Dates as DATE, not timestamps: the same physical type every other engine writes.
    for name in ("order_date", "as_of", "last_order_date"):
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, table.column(name).cast(pa.timestamp("ns")).cast(pa.date32()))
    return table


def write_frame(out_dir: Path, table: str, frame: pd.DataFrame) -> None:
    with atomic_path(out_dir / f"{table}.parquet") as temp:
        pq.write_table(to_arrow(frame), temp)
