"""The whole-file pandas computation run by Modin (on Ray): the same code, `modin.pandas` in place of pandas.

Only the readers and the big merge go through Modin; the small group-bys use the same helpers as pandas.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from python_jobs.config import ModinSettings

if TYPE_CHECKING:
    from python_jobs.batch.engines import EngineJob


def run(landing_dir: Path, seeds_dir: Path, days: list[date], out_dir: Path, settings: ModinSettings) -> None:
    # Modin and Ray read their switches from this process's environment (Ray's workers inherit it): set before
    # they are imported.
    os.environ.update(settings.process_env())
    import modin.pandas as mpd
    import ray

    from python_jobs.batch.pandas import common as pc
    from python_jobs.batch.semantics import landing_files

    # Two CPUs here: Ray's default object store (30% of RAM) would reserve 7 GiB of shared memory up front.
    ray.init(
        num_cpus=os.cpu_count(), object_store_memory=2 * 2**30, include_dashboard=False, log_to_driver=False
    )
    try:
        orders = mpd.concat(
            [
                mpd.DataFrame(
                    pc.prepare_orders(
                        mpd.read_csv(f.path, usecols=pc.ORDER_USECOLS, dtype=pc.ORDER_DTYPES)._to_pandas(),
                        f.day,
                    )
                )
                for f in landing_files(landing_dir, days, "orders")
            ],
            ignore_index=True,
        )
        lines = mpd.concat(
            [
                mpd.DataFrame(
                    pc.prepare_lines(
                        mpd.read_csv(f.path, usecols=pc.LINE_USECOLS, dtype=pc.LINE_DTYPES)._to_pandas()
                    )
                )
                for f in landing_files(landing_dir, days, "order_lines")
            ],
            ignore_index=True,
        )
        latest = orders.sort_values(["order_id", "updated_at", "load_date"]).drop_duplicates(
            "order_id", keep="last"
        )
        counted = latest.loc[~latest["cancelled"], ["order_id", "customer_id", "store_id", "order_date"]]
        facts = lines.merge(counted, on="order_id").merge(
            mpd.DataFrame(pc.products(seeds_dir)), on="product_id"
        )
        facts = facts._to_pandas()
        basket = pc.baskets(facts)
        pc.write_frame(out_dir, "product_daily", pc.finish_product(pc.product_partials(facts)))
        pc.write_frame(out_dir, "store_daily", pc.finish_store(pc.store_partials(basket)))
        pc.write_frame(out_dir, "customer_rfm", pc.rfm(basket, days[-1]))
    finally:
        ray.shutdown()


def run_job(job: EngineJob) -> dict[str, object]:
    """The registry's entry (engines.py)."""
    run(job.landing_dir, job.seeds_dir, job.days, job.out_dir, job.modin)
    return {}
