"""The computation in pandas with bounded memory at any input size: a grace-hash plan in three passes.

Memory is bounded by the chunk size and the bucket size, never by the input:
1. Stream every CSV in chunks; spill each chunk's rows into K buckets by `order_id % K` (Arrow IPC files, one
   open writer per bucket). All versions of an order and all of its lines land in the same bucket.
2. Per order bucket: pick the latest version of each order, join its lines and the seed. Distinct orders per
   (day, store, product) are now exact per bucket, so partial sums merge by plain addition. One row per counted
   order (a basket) is spilled again, into K buckets by `customer_id % K`.
3. Per customer bucket: distinct customers per (day, store) and RFM per customer are exact per bucket (each
   customer lives in exactly one); RFM rows stream straight into the output file.
Means are never averaged: they are ratios of merged sums, computed at the very end.
"""

from __future__ import annotations

import math
import shutil
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from python_jobs.batch.atomic import atomic_path
from python_jobs.batch.pandas import common as pc
from python_jobs.batch.semantics import input_bytes, landing_files

if TYPE_CHECKING:
    from python_jobs.batch.engines import EngineJob

_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


class Spill:
    """K append-only Arrow IPC streams; a bucket is read back whole, one at a time."""

    def __init__(self, folder: Path, buckets: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = [folder / f"bucket-{k:04d}.arrow" for k in range(buckets)]
        self.writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self.bytes_written = 0

    def add(self, frame: pd.DataFrame, key: str) -> None:
        if frame.empty:
            return
        bucket = frame[key].to_numpy() % len(self.paths)
        for k, part in frame.groupby(bucket, sort=False):
            table = pa.Table.from_pandas(part, preserve_index=False)
            if k not in self.writers:
                self.writers[k] = pa.ipc.new_stream(self.paths[k], table.schema, options=_IPC)
            self.writers[k].write_table(table)
            self.bytes_written += table.nbytes

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()

    def read(self, k: int) -> pd.DataFrame | None:
        if k not in self.writers:
            return None
        with pa.ipc.open_stream(self.paths[k]) as reader:
            return reader.read_all().to_pandas()


def bucket_count(landing_dir: Path, days: list[date], bucket_bytes: int) -> int:
    return max(1, math.ceil(input_bytes(landing_dir, days) / bucket_bytes))


def run_job(job: EngineJob) -> dict[str, object]:
    """The registry's entry (engines.py)."""
    return {"spilled_bytes": run(job.landing_dir, job.seeds_dir, job.days, job.out_dir, job.work)}


def run(
    landing_dir: Path,
    seeds_dir: Path,
    days: list[date],
    out_dir: Path,
    spill_dir: Path,
    *,
    chunk_rows: int = 1_000_000,
    bucket_bytes: int = 192 * 2**20,
) -> int:
    """Run the three passes; returns the bytes spilled (the lab reports it)."""
    k = bucket_count(landing_dir, days, bucket_bytes)
    shutil.rmtree(spill_dir, ignore_errors=True)
    orders, lines, baskets = (Spill(spill_dir / name, k) for name in ("orders", "lines", "baskets"))
    try:
        # Pass 1: partition the inputs by order_id.
        for f in landing_files(landing_dir, days, "orders"):
            for chunk in pd.read_csv(
                f.path, usecols=pc.ORDER_USECOLS, dtype=pc.ORDER_DTYPES, chunksize=chunk_rows
            ):
                orders.add(pc.prepare_orders(chunk, f.day), "order_id")
        for f in landing_files(landing_dir, days, "order_lines"):
            for chunk in pd.read_csv(
                f.path, usecols=pc.LINE_USECOLS, dtype=pc.LINE_DTYPES, chunksize=chunk_rows
            ):
                lines.add(pc.prepare_lines(chunk), "order_id")
        orders.close()
        lines.close()

        # Pass 2: per order bucket, exact product partials; baskets re-partitioned by customer.
        products = pc.products(seeds_dir)
        product_acc = pd.DataFrame()
        for b in range(k):
            bucket_orders, bucket_lines = orders.read(b), lines.read(b)
            if bucket_orders is None or bucket_lines is None:
                continue
            facts = pc.line_facts(bucket_lines, pc.latest_counted(bucket_orders), products)
            del bucket_orders, bucket_lines
            product_acc = _merge(
                product_acc,
                pc.product_partials(facts),
                ["order_date", "store_id", "product_id", "category_id"],
            )
            baskets.add(pc.baskets(facts), "customer_id")
        baskets.close()

        # Pass 3: per customer bucket, exact distinct customers and RFM, streamed to the output.
        store_acc = pd.DataFrame()
        with atomic_path(out_dir / "customer_rfm.parquet") as temp:
            writer: pq.ParquetWriter | None = None
            for b in range(k):
                basket = baskets.read(b)
                if basket is None:
                    continue
                store_acc = _merge(store_acc, pc.store_partials(basket), ["order_date", "store_id"])
                table = pc.to_arrow(pc.rfm(basket, days[-1]))
                writer = writer or pq.ParquetWriter(temp, table.schema)
                writer.write_table(table)
            if writer is None:
                raise ValueError(f"no counted orders in {landing_dir} for {days[0]}..{days[-1]}")
            writer.close()
        pc.write_frame(out_dir, "product_daily", pc.finish_product(product_acc))
        pc.write_frame(out_dir, "store_daily", pc.finish_store(store_acc))
        return orders.bytes_written + lines.bytes_written + baskets.bytes_written
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)


def _merge(acc: pd.DataFrame, part: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Fold one bucket's partial sums into the running ones (both small: one row per group)."""
    if acc.empty:
        return part
    return pd.concat([acc, part], ignore_index=True).groupby(keys, sort=False).sum().reset_index()
