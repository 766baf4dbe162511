"""Ingest reconciled against the generator's ground truth: every bad line quarantined for its reason, every
genuine row loaded, nothing else, and the manifest agreeing with the files."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from python_jobs.config import Settings
from python_jobs.generate.day import generate_day
from python_jobs.ingest.loader import load_day

DAYS = 3

# Which quarantine reason each kind of bad line the generator makes must produce.
REASON_BY_KIND = {
    "broken_quoting": r"^broken quoting",
    "duplicate_key": r"^duplicate key",
    "empty_file": r"^empty file",
    "invalid_utf8": r"^invalid UTF-8",
    "malformed_date": r"^malformed (date|timestamp)",
    "negative_quantity": r"^must be > 0",
    "unknown_foreign_key": r"^unknown (customer_id|store_id|order_id|product_id)",
    "wrong_column_count": r"^wrong column count",
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from python_jobs.config import load_settings

    data = tmp_path_factory.mktemp("truth") / "data"
    settings = load_settings({}).with_(data_dir=data, warehouse_path=data / "warehouse.duckdb")
    for day in range(1, DAYS + 1):
        generate_day(settings, day)
        load_day(settings, settings.day_date(day))
    return settings


def _query(settings: Settings, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def _truth(settings: Settings, name: str) -> list:
    return [settings.truth_dir / settings.day_date(d).isoformat() / name for d in range(1, DAYS + 1)]


def test_quarantine_is_exactly_the_bad_lines_with_matching_reasons(loaded: Settings) -> None:
    truth = pd.concat(pd.read_csv(p) for p in _truth(loaded, "bad_records.csv"))
    quarantine = _query(
        loaded, "SELECT source, source_file AS file, source_line AS line, reason FROM ingest.quarantine"
    )
    merged = truth.merge(quarantine, on=["source", "file", "line"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head(20)
    assert set(truth["kind"]) == set(REASON_BY_KIND), "the generator must exercise every bad kind"
    for kind, pattern in REASON_BY_KIND.items():
        reasons = merged.loc[merged["kind"] == kind, "reason"]
        assert reasons.str.match(pattern).all(), (kind, reasons[~reasons.str.match(pattern)].head().tolist())


def test_every_genuine_row_is_loaded_and_the_manifest_reconciles(loaded: Settings) -> None:
    manifest = _query(loaded, "SELECT * FROM ingest.load_manifest")
    assert (manifest.rows_read == manifest.rows_loaded + manifest.rows_quarantined).all()
    for path in _truth(loaded, "summary.json"):
        summary = json.loads(path.read_text())
        day = manifest[manifest.load_date == pd.Timestamp(summary["day"])].set_index("source")
        assert day["rows_loaded"].to_dict() == summary["genuine_rows"]
        assert day["rows_quarantined"].to_dict() == summary["bad_rows"]
        shas = {}
        for files in day["sha256"]:
            shas.update(json.loads(files))
        assert shas == summary["files"]


def test_raw_keys_are_unique_per_load(loaded: Settings) -> None:
    dupes = _query(
        loaded,
        """SELECT 'customers' AS t, count(*) - count(DISTINCT (customer_id, _load_date)) AS d FROM raw.customers
           UNION ALL SELECT 'orders', count(*) - count(DISTINCT (order_id, _load_date)) FROM raw.orders
           UNION ALL SELECT 'order_lines', count(*) - count(DISTINCT (order_id, line_number)) FROM raw.order_lines""",
    )
    assert dupes.d.tolist() == [0, 0, 0]
