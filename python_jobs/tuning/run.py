"""One variant of the report job in its own Spark application: outputs, plans, result.json with Spark's metrics.

The lab's unit of work (and `python -m python_jobs.tuning run`): a fresh SparkSession per variant, so each has its
own event log and nothing cached or compiled by one variant helps the next. result.json is written last, after
the session stopped and its event log was read: a run killed part-way leaves no result.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

from python_jobs.batch.atomic import write_atomic
from python_jobs.config import SparkSettings
from python_jobs.tuning.fixes import JobVariant, sized
from python_jobs.tuning.inputs import Inputs
from python_jobs.tuning.metrics import read_app
from python_jobs.tuning.report_job import RunResult, run_report


def cores_of(master: str) -> int:
    match = re.fullmatch(r"local\[(\d+|\*)(?:,\d+)?\]", master)
    if match and match.group(1) != "*":
        return int(match.group(1))
    return os.cpu_count() or 2


def sized_variant(variant: JobVariant, inputs: Inputs, master: str) -> JobVariant:
    """The variant with the fixes' sizes set from the report window's data, the cores and the variant's plan."""
    sizes = sized(inputs.window_parquet_bytes, cores_of(master), broadcast=variant.on("broadcast"))
    return replace(variant, **sizes)


def write_result(out: Path, result: RunResult, variant: JobVariant, extra: dict[str, object]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in result.outputs.items():
        write_atomic(out / f"{name}.parquet", lambda p, f=frame: f.to_parquet(p, index=False))
    (out / "plans").mkdir(exist_ok=True)
    for name, plan in result.plans.items():
        write_atomic(out / "plans" / f"{name}.txt", lambda p, t=plan: p.write_text(t + "\n"))
    record = {
        "variant": result.variant,
        "fixes": sorted(variant.fixes),
        "shuffle_partitions": variant.tuned_partitions
        if variant.on("partitions")
        else variant.slow_partitions,
        "storage_level": variant.storage_level if variant.on("cache") else None,
        "job_seconds": round(result.seconds, 3),
        "driver_rows": result.driver_rows,
        "checksums": result.checksums,
        **extra,
    }
    write_atomic(out / "result.json", lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))
    return record


def run_variant(dataset: Path, seeds_dir: Path, out: Path, variant: JobVariant, spark: SparkSettings) -> dict:
    from python_jobs.batch.spark.session import build_session

    inputs = Inputs.load(dataset, seeds_dir)
    (out / "result.json").unlink(missing_ok=True)
    local = out / "spark-local"
    local.mkdir(parents=True, exist_ok=True)
    # Spark refuses to collect more than 1 GiB of task results by default: the slow job's toPandas() of every
    # enriched line passes that from about 1 GB of input. The analyst's fix is to lift the limit (what this does,
    # for every variant alike); the lab refuses a size whose collect would not fit in memory instead.
    conf = {"spark.driver.maxResultSize": "0"}
    session = build_session(spark, f"tuning-{variant.label}", local_dir=local, conf=conf)
    try:
        result = run_report(session, inputs, variant)
    finally:
        session.stop()
        shutil.rmtree(local, ignore_errors=True)
    app = read_app(spark.event_log_dir, result.app_id) if spark.event_log_dir else None
    extra = {"metrics": app.summary(), "stages": app.stage_rows()} if app else {"metrics": {}}
    return write_result(out, result, variant, extra)
