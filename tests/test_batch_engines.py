"""Every engine computes the same outputs; the Spark job's validation matches the generator's ground truth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from python_jobs.batch.canonical import differences, summarise_all
from python_jobs.batch.engines import ENGINES, get_engine, run_engine
from python_jobs.batch.pandas import chunked as pandas_chunked
from python_jobs.batch.semantics import landing_days
from python_jobs.batch.spark.job import root, run_day, run_folder
from python_jobs.config import Settings
from tests.batch_support import DAYS, copy_data, landing, reference_run, session, spark_settings


@pytest.fixture(scope="module")
def spark():
    return session()


@pytest.fixture(scope="module")
def clean() -> Settings:
    return landing(0.0)


@pytest.fixture(scope="module")
def dirty(spark) -> Settings:
    """Same seed with bad lines, run through the daily Spark job (validation, staging, outputs); read-only."""
    return reference_run()


@pytest.fixture(scope="module")
def reference(clean: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "duckdb"
    run_engine("duckdb", clean.landing_dir, clean.seeds_dir, out)
    return out


def _assert_same(reference: Path, other: Path) -> None:
    expected, actual = summarise_all(reference), summarise_all(other)
    for table, summary in expected.items():
        assert summary.rows > 0
        assert actual[table] == summary, differences(reference, other, table)


@pytest.mark.parametrize("engine", ["pandas", "polars", "spark-df", "spark-sql", "spark-rdd"])
def test_engine_matches_duckdb(engine: str, clean: Settings, reference: Path, tmp_path: Path, spark) -> None:
    run_engine(engine, clean.landing_dir, clean.seeds_dir, tmp_path / engine, spark=spark)
    _assert_same(reference, tmp_path / engine)


def test_registry_runners_resolve_and_unknown_names_list_the_engines() -> None:
    # The "module:function" strings are imported only when an engine runs: check each one points at a function.
    for engine in ENGINES.values():
        assert callable(engine.runner()), engine
    with pytest.raises(ValueError, match=r"one of spark-df, .*, modin$"):
        get_engine("spark")


def test_pandas_chunked_merges_partials_exactly(clean: Settings, reference: Path, tmp_path: Path) -> None:
    # Tiny chunks and buckets: orders, customers and products are spread over many partial aggregates.
    spilled = pandas_chunked.run(
        clean.landing_dir,
        clean.seeds_dir,
        landing_days(clean.landing_dir),
        tmp_path / "chunked",
        tmp_path / "spill",
        chunk_rows=997,
        bucket_bytes=10_000,
    )
    assert spilled > 0
    assert pandas_chunked.bucket_count(clean.landing_dir, landing_days(clean.landing_dir), 10_000) > 10
    _assert_same(reference, tmp_path / "chunked")


def test_spark_job_on_bad_data_equals_engines_on_clean_data(
    dirty: Settings, reference: Path, tmp_path: Path
) -> None:
    """Bad lines are extra lines: once quarantined, what is left is exactly the clean data set's rows."""
    base, compare = root(dirty), tmp_path / "compare"
    last = landing_days(dirty.landing_dir)[-1].isoformat()
    for table in ("product_daily", "store_daily"):
        shutil.copytree(base / table, compare / table)
    shutil.copytree(base / "customer_rfm" / f"day={last}", compare / "customer_rfm" / f"day={last}")
    _assert_same(reference, compare)


def test_quarantine_reconciles_with_ground_truth(dirty: Settings) -> None:
    base = root(dirty)
    quarantine = pd.read_parquet(base / "quarantine")
    quarantine["source"] = quarantine["source"].str.removeprefix("batch_spark.")
    days = landing_days(dirty.landing_dir)
    truth = pd.concat(pd.read_csv(dirty.truth_dir / d.isoformat() / "bad_records.csv") for d in days)
    truth = truth[truth["source"].isin(["orders", "order_lines"])]
    got = set(zip(quarantine["source"], quarantine["source_file"], quarantine["source_line"], strict=True))
    want = set(zip(truth["source"], truth["file"], truth["line"], strict=True))
    assert got == want
    assert len(quarantine) == len(truth)
    reasons = quarantine.merge(truth, left_on=["source_file", "source_line"], right_on=["file", "line"])
    expected_reason = {
        "invalid_utf8": "invalid UTF-8",
        "broken_quoting": "broken quoting",
        "wrong_column_count": "wrong column count",
        "malformed_date": "malformed timestamp",
        "negative_quantity": "must be > 0",
        "unknown_foreign_key": "unknown ",
        "duplicate_key": "duplicate key",
        "empty_file": "empty file",
    }
    for kind, reason in zip(reasons["kind"], reasons["reason"], strict=True):
        assert reason.startswith(expected_reason[kind]), (kind, reason)
    # Rows in = rows out + quarantined, and rows out = the generator's genuine rows, per landing day.
    for day in days:
        marker = json.loads((base / "_done" / f"staged-{day}.json").read_text())
        genuine = json.loads((dirty.truth_dir / day.isoformat() / "summary.json").read_text())["genuine_rows"]
        for counts in marker["counts"]:
            assert counts["rows_in"] == counts["rows_out"] + counts["quarantined"]
            assert counts["rows_out"] == genuine[counts["source"]]


def test_rerun_of_a_day_replaces_only_its_partitions(dirty: Settings, tmp_path: Path, spark) -> None:
    dirty = copy_data(dirty, tmp_path)  # the shared run stays as it was for the other tests
    base = root(dirty)
    days = landing_days(dirty.landing_dir)
    assert len(days) == DAYS >= 2

    def files(table: str) -> dict[str, set[str]]:
        return {p.name: {f.name for f in p.glob("*.parquet")} for p in sorted((base / table).glob("day=*"))}

    before = {t: files(t) for t in ("product_daily", "store_daily", "staged/orders", "quarantine")}
    summary_before = summarise_all(base)
    assert run_day(
        spark, dirty, spark_settings(dirty.data_dir), days[-1], window_days=0, force=True, log=lambda _: None
    )
    last = f"day={days[-1]}"
    for table, partitions in before.items():
        after = files(table)
        assert after.keys() == partitions.keys(), table  # no partition added or lost
        for name, names in partitions.items():
            # Spark names files after the writing job: new names = rewritten, same names = untouched.
            assert (after[name] != names) == (name == last), (table, name)
    assert summarise_all(base) == summary_before  # same content after the re-run


def test_loader_keeps_each_runs_version_even_after_a_later_run(dirty: Settings, tmp_path: Path) -> None:
    """Run day D's partitions (order days D-3..D) go to raw as run D's version, read from the hard links the run
    published: a later run rewrote the same order days in the table folders, but run D's files are still there."""
    from python_jobs.batch.load import RunNotDoneError, load_day

    dirty = copy_data(dirty, tmp_path)
    base = root(dirty)
    days = landing_days(dirty.landing_dir)
    first = f"day={days[0]}"
    # The last run rewrote order day 1: the table folder holds its files, runs/<day 1> still holds run 1's.
    published = {f.name for f in (run_folder(base, days[0]) / "product_daily" / first).glob("*.parquet")}
    current = {f.name for f in (base / "product_daily" / first).glob("*.parquet")}
    assert published and current and published.isdisjoint(current)
    for day in (days[-1], days[0]):  # the later run first: the order of loads does not matter
        assert load_day(dirty, day)[f"raw.batch_product_daily/{day}"] > 0
    con = duckdb.connect(str(dirty.warehouse_path), read_only=True)
    try:
        runs = con.execute(
            "SELECT DISTINCT _load_date, order_date, _source_file FROM raw.batch_product_daily ORDER BY 1, 2"
        ).fetchall()
    finally:
        con.close()
    # Run 1 holds order day 1 only; the last run holds every order day, each with its published folder as lineage.
    expected = [(days[0], days[0]), *((days[-1], d) for d in days)]
    assert [(str(r), str(o)) for r, o, _ in runs] == [(str(r), str(o)) for r, o in expected]
    assert [f for _, _, f in runs] == [f"batch/spark/runs/{r}/product_daily/day={o}" for r, o in expected]
    # A day the job never ran is refused with the command that fixes it.
    shutil.rmtree(run_folder(base, days[-1]))
    with pytest.raises(RunNotDoneError, match=f"spark-run --day {days[-1]}"):
        load_day(dirty, days[-1])
