"""The computation in pandas, whole-file: every input row in memory at once (the simplest and the hungriest)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from python_jobs.batch.pandas import common as pc
from python_jobs.batch.semantics import landing_files

if TYPE_CHECKING:
    from python_jobs.batch.engines import EngineJob


def run(landing_dir: Path, seeds_dir: Path, days: list[date], out_dir: Path) -> None:
    orders = pc.read_orders(landing_files(landing_dir, days, "orders"))
    lines = pd.concat(
        [
            pc.prepare_lines(pd.read_csv(f.path, usecols=pc.LINE_USECOLS, dtype=pc.LINE_DTYPES))
            for f in landing_files(landing_dir, days, "order_lines")
        ],
        ignore_index=True,
    )
    facts = pc.line_facts(lines, pc.latest_counted(orders), pc.products(seeds_dir))
    del orders, lines
    basket = pc.baskets(facts)
    pc.write_frame(out_dir, "product_daily", pc.finish_product(pc.product_partials(facts)))
    pc.write_frame(out_dir, "store_daily", pc.finish_store(pc.store_partials(basket)))
    pc.write_frame(out_dir, "customer_rfm", pc.rfm(basket, days[-1]))


def run_job(job: EngineJob) -> dict[str, object]:
    """The registry's entry (engines.py)."""
    run(job.landing_dir, job.seeds_dir, job.days, job.out_dir)
    return {}
