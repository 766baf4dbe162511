"""The daily Spark job of the pipeline: stage each landing day once, then rebuild the outputs of a run day.

Layout under `<data>/batch/spark/` (every table Parquet, partitioned by `day=YYYY-MM-DD`):
  staged/{orders,order_lines}   validated rows of each landing day (the job's own bronze layer)
  quarantine                    rejected lines of each landing day, loaded into ingest.quarantine
  product_daily, store_daily    partitions day-WINDOW_DAYS..day rewritten by the run of `day`
  customer_rfm                  partition `day` = RFM as of that day
  runs/<day>/<table>/day=...    what the run of `day` committed, as hard links: the loader's input (below)
  _done/                        completion markers: a day is skipped when its marker matches its inputs

Idempotency: every write is a dynamic partition overwrite committed by Spark's output committer (task files go
to a staging folder and are moved in on job commit), so a re-run replaces exactly the partitions it writes and
a killed run leaves no visible half-partition. A marker is written (atomically) only after all of a day's
outputs are committed, so a killed run is resumed from the first unfinished day.

Versions: the run of day D rewrites order days D-3..D in place, so the table folders hold only the latest
run's version of an order day. Each run therefore also publishes the files it committed under `runs/<D>/`
(hard links: no copy, and the committer replaces files rather than rewriting them, so a link keeps run D's
bytes after a later run). Loading run day D reads that folder, whatever ran since: a pipeline re-run can skip
every finished Spark day and still load each day's own version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from python_jobs.batch.atomic import write_atomic
from python_jobs.batch.semantics import WINDOW_DAYS, landing_days, landing_files
from python_jobs.batch.spark import df as spark_df
from python_jobs.batch.spark.landing import stage_day
from python_jobs.config import Settings, SparkSettings

DAILY_OUTPUTS = ("product_daily", "store_daily", "customer_rfm")


class InjectedFault(RuntimeError):
    pass


def root(settings: Settings) -> Path:
    return settings.data_dir / "batch" / "spark"


def fingerprint(landing_dir: Path, days: list[date]) -> str:
    """Names, sizes and modification times of the inputs: a regenerated landing day invalidates its marker."""
    digest = hashlib.sha256()
    for source in ("orders", "order_lines", "customers"):
        for f in landing_files(landing_dir, days, source, non_empty=False):
            stat = f.path.stat()
            digest.update(f"{f.path.parent.name}/{f.path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def is_completed(settings: Settings, day: date) -> bool:
    """Whether the run of `day` is committed, published, and its marker matches the landing files up to it."""
    history = landing_days(settings.landing_dir, day)
    return _run_is_done(root(settings), day, fingerprint(settings.landing_dir, history))


def run_folder(base: Path, day: date) -> Path:
    return base / "runs" / day.isoformat()


def _run_is_done(base: Path, day: date, print_: str) -> bool:
    return _is_done(_marker(base, f"day-{day}"), print_) and run_folder(base, day).is_dir()


def run_partitions(table: str, day: date, window_days: int) -> list[str]:
    """The partitions of `table` the run of `day` rewrites."""
    days = [day] if table == "customer_rfm" else [day - timedelta(days=n) for n in range(window_days, -1, -1)]
    return [f"day={when.isoformat()}" for when in days]


def publish_run(base: Path, day: date, window_days: int) -> Path:
    """Hard-link the files the run of `day` committed into `runs/<day>/`, swapped in as a whole."""
    final = run_folder(base, day)
    temp = final.with_name(f".tmp-{day}-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    for table in DAILY_OUTPUTS:
        for partition in run_partitions(table, day, window_days):
            target = temp / table / partition
            target.mkdir(parents=True)
            for f in sorted((base / table / partition).glob("*.parquet")):
                try:
                    os.link(f, target / f.name)
                except OSError:  # a file system without hard links: a copy holds the same version
                    shutil.copy2(f, target / f.name)
    if final.exists():
        old = final.with_name(f".old-{day}-{os.getpid()}")
        final.rename(old)
        temp.rename(final)
        shutil.rmtree(old)
    else:
        temp.rename(final)
    return final


def _marker(base: Path, name: str) -> Path:
    return base / "_done" / f"{name}.json"


def _is_done(marker: Path, print_: str) -> bool:
    return marker.exists() and json.loads(marker.read_text()).get("fingerprint") == print_


def _mark(marker: Path, print_: str, **facts: object) -> None:
    payload = json.dumps({"fingerprint": print_, **facts}, indent=2, default=str)
    write_atomic(marker, lambda p: p.write_text(payload))


def remove_uncommitted(base: Path) -> None:
    """Staging folders a killed job left (Spark never reads them, but they waste space and confuse people)."""
    for leftover in [
        *base.glob("runs/.tmp-*"),
        *base.glob("runs/.old-*"),
        *base.glob("*/.spark-staging-*"),
        *base.glob("*/_temporary"),
        *base.glob("staged/*/.spark-staging-*"),
    ]:
        shutil.rmtree(leftover, ignore_errors=True)


def _fault(spark_settings: SparkSettings, mode: str, table: str, day: date) -> bool:
    return spark_settings.fail_at == f"{mode}:{table}:{day.isoformat()}"


def _failing_task(df: DataFrame) -> DataFrame:
    """Make the last write task raise after the others have written their files: the job must abort cleanly."""
    partitions = max(df.rdd.getNumPartitions(), 1)

    @F.udf("boolean")
    def keep(partition_id: int) -> bool:
        if partition_id == partitions - 1:
            raise InjectedFault("fault injected by GROCERY_BATCH_FAIL_AT")
        return True

    return df.where(keep(F.spark_partition_id()))


def _write(
    spark_settings: SparkSettings,
    df: DataFrame,
    base: Path,
    table: str,
    day: date,
    on_written: Callable[[], None],
) -> None:
    if _fault(spark_settings, "task", table, day):
        df = _failing_task(df.repartition(4))
        df.write.mode("overwrite").partitionBy("day").parquet(str(base / table))
    else:
        spark_df.write_partitioned(df, str(base / table))
    on_written()
    if _fault(spark_settings, "exit", table, day):
        os._exit(17)  # a crash of the driver between two outputs: no cleanup, no marker


def stage(
    spark: SparkSession, settings: Settings, spark_settings: SparkSettings, day: date, products: DataFrame
) -> list[dict]:
    base = root(settings)
    good, quarantine, counts = stage_day(spark, settings.landing_dir, day, products)
    tag = F.lit(day.isoformat())
    for source, frame in good.items():
        _write(spark_settings, frame.withColumn("day", tag), base / "staged", source, day, lambda: None)
    _write(spark_settings, quarantine.withColumn("day", tag), base, "quarantine", day, lambda: None)
    return [asdict(c) for c in counts]


def run_day(
    spark: SparkSession,
    settings: Settings,
    spark_settings: SparkSettings,
    day: date,
    *,
    window_days: int = WINDOW_DAYS,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> bool:
    """Stage the landing days up to `day` that need it, then rebuild `day`'s outputs. False if already done."""
    base = root(settings)
    remove_uncommitted(base)
    history = landing_days(settings.landing_dir, day)
    if not history or history[-1] != day:
        raise FileNotFoundError(f"no landing folder for {day} under {settings.landing_dir}")
    day_print = fingerprint(settings.landing_dir, history)
    if not force and _run_is_done(base, day, day_print):
        log(f"{day}: already done, skipped")
        return False
    products = spark_df.read_products(spark, str(settings.seeds_dir / "products.csv")).cache()
    for landing_day in history:
        stage_print = fingerprint(settings.landing_dir, [landing_day])
        marker = _marker(base, f"staged-{landing_day}")
        if (force and landing_day == day) or not _is_done(marker, stage_print):
            counts = stage(spark, settings, spark_settings, landing_day, products)
            _mark(marker, stage_print, counts=counts)
            log(f"{landing_day}: staged {counts}")
    read = spark.read.option("basePath", str(base / "staged"))
    orders = read.parquet(str(base / "staged" / "orders")).where(F.col("day") <= day.isoformat()).drop("day")
    lines = (
        read.parquet(str(base / "staged" / "order_lines")).where(F.col("day") <= day.isoformat()).drop("day")
    )
    facts = spark_df.line_facts(orders, lines, products).cache()  # read by the three outputs' jobs
    outputs = spark_df.compute(facts, as_of=day, from_date=day - timedelta(days=window_days))
    for table in DAILY_OUTPUTS:
        _write(
            spark_settings,
            outputs[table],
            base,
            table,
            day,
            lambda table=table: log(f"{day}: {table} committed"),
        )
    facts.unpersist()
    publish_run(base, day, window_days)
    _mark(_marker(base, f"day-{day}"), day_print, window_days=window_days)
    return True
