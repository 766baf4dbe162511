"""Ingest: validation, quarantine reasons, reconciliation, drift, locks, atomicity and idempotent reloads.

These tests write small landing files by hand so each bad-input case is explicit; the reconciliation against the
generator's own ground truth is in test_ingest_truth.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from python_jobs.checksums import table_checksums
from python_jobs.config import REPO_ROOT, Settings
from python_jobs.ingest import loader
from python_jobs.ingest.loader import EmptyExtractError, load_day
from python_jobs.ingest.reader import LandingFileError
from python_jobs.ingest.schemas import ORDER_LINES
from python_jobs.ingest.validate import validate_chunk
from python_jobs.ingest.warehouse import WarehouseLockedError
from tests.conftest import run_module

DAY1 = date(2026, 1, 5)
DAY2 = date(2026, 1, 6)

HEADERS = {
    "customers": "customer_id,first_name,last_name,email,street_address,city,postal_code,loyalty_tier,signup_date,updated_at",
    "stores": "store_id,store_name,store_format,size_sqm,city,opened_date",
    "orders": "order_id,customer_id,store_id,order_ts,status,delivery_fee,updated_at",
    "order_lines": "order_id,line_number,product_id,quantity,unit_price",
}

GOOD = {
    "customers": [
        "1,Ann,Lee,ann@example.com,1 Main St,Metro,10001,gold,2025-01-01,2026-01-05 10:00:00",
        '2,Bob,"Ray, Jr",bob@example.com,2 Oak Ave,Metro,10002,silver,2025-02-01,2026-01-05 11:00:00',
    ],
    "stores": ["1,Central,express,300,Metro,2020-01-01"],
    "orders": [
        "10,1,1,2026-01-05 11:00:00,placed,2.50,2026-01-05 11:00:00",
        "11,2,1,2026-01-05 12:00:00,delivered,0.00,2026-01-05 13:00:00",
    ],
    "order_lines": ["10,1,1,2,1.20", "10,2,2,1,2.50", "11,1,2,3,2.50"],
}


def write_day(
    settings: Settings, when: date, rows: dict[str, list[bytes | str]], header_extra: str = ""
) -> Path:
    folder = settings.landing_dir / when.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    seeds = settings.seeds_dir
    assert seeds.exists()
    for source, header in HEADERS.items():
        lines = [(header + (header_extra if source == "customers" else "")).encode()]
        lines += [r if isinstance(r, bytes) else r.encode() for r in rows.get(source, GOOD[source])]
        (folder / f"{source}.csv").write_bytes(b"\n".join(lines) + b"\n")
    return folder


@pytest.fixture
def seeded(settings: Settings, tmp_path: Path) -> Settings:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "products.csv").write_text(
        "product_id,product_name,category_id,unit_price,is_perishable\n1,Milk,1,1.20,true\n2,Bread,2,2.50,true\n"
    )
    return settings.with_(seeds_dir=seeds)


def table(settings: Settings, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def quarantine_reasons(settings: Settings, source: str) -> dict[int, str]:
    df = table(settings, f"SELECT source_line, reason FROM ingest.quarantine WHERE source = '{source}'")
    return dict(zip(df.source_line, df.reason, strict=True))


def test_good_day_loads_every_row_with_lineage(seeded: Settings) -> None:
    write_day(seeded, DAY1, {})
    result = load_day(seeded, DAY1)
    assert [(s.source, s.rows_read, s.rows_loaded, s.rows_quarantined) for s in result.sources] == [
        ("customers", 2, 2, 0),
        ("stores", 1, 1, 0),
        ("orders", 2, 2, 0),
        ("order_lines", 3, 3, 0),
    ]
    customers = table(seeded, "SELECT * FROM raw.customers ORDER BY customer_id")
    assert customers.last_name.tolist() == ["Lee", "Ray, Jr"]
    assert customers._source_line.tolist() == [2, 3]
    assert set(customers._source_file) == {"2026-01-05/customers.csv"}
    assert str(customers.updated_at.dtype).startswith("datetime64")


def test_every_bad_kind_is_quarantined_with_its_reason(seeded: Settings) -> None:
    rows = {
        "customers": [
            *GOOD["customers"],
            "3,Cy,Doe,cy@example.com,3 Elm,Metro,10003,gold,2025-13-01,2026-01-05 10:00:00",  # line 4
            '4,Di,"Broken,di@example.com,4 Elm,Metro,10004,gold,2025-01-01,2026-01-05 10:00:00',  # line 5
            b"5,Ed,Z\xffrk,ed@example.com,5 Elm,Metro,10005,gold,2025-01-01,2026-01-05 10:00:00",  # line 6
            "6,Fay,Short",  # line 7
            GOOD["customers"][0].replace("Ann", "Anne"),  # line 8: conflicting duplicate of line 2
            "7,Gus,Poe,gus@example.com,7 Elm,Metro,10007,diamond,2025-01-01,2026-01-05 10:00:00",  # line 9
        ],
        "orders": [*GOOD["orders"], "12,999,1,2026-01-05 12:00:00,placed,1.00,2026-01-05 12:00:00"],
        "order_lines": [*GOOD["order_lines"], "11,2,1,-4,1.20", "11,3,77,1,1.20", "12,1,1,1,1.20"],
    }
    write_day(seeded, DAY1, rows)
    load_day(seeded, DAY1)
    reasons = quarantine_reasons(seeded, "customers")
    assert reasons[4] == "malformed date"
    assert reasons[5].startswith("broken quoting")
    assert reasons[6].startswith("invalid UTF-8")
    assert reasons[7] == "wrong column count: expected 10, found 3"
    assert reasons[8].startswith(
        "duplicate key (customer_id): first delivered in 2026-01-05/customers.csv line 2"
    )
    assert reasons[9].startswith("not one of bronze")
    assert table(
        seeded, "SELECT first_name FROM raw.customers WHERE customer_id = 1"
    ).first_name.tolist() == ["Ann"]
    assert quarantine_reasons(seeded, "orders") == {
        4: "unknown customer_id 999: not in raw.customers up to 2026-01-05"
    }
    lines = quarantine_reasons(seeded, "order_lines")
    assert lines[5] == "must be > 0"
    assert lines[6].startswith("unknown product_id 77")
    # Order 12 was itself quarantined, so its line has no order to belong to.
    assert lines[7].startswith("unknown order_id 12")
    raw_bytes = table(
        seeded, "SELECT raw_line FROM ingest.quarantine WHERE source_line = 6 AND source = 'customers'"
    )
    assert "\ufffd" in raw_bytes.raw_line[0]


def test_manifest_reconciles_and_empty_part_is_recorded(seeded: Settings) -> None:
    folder = write_day(seeded, DAY1, {"order_lines": [*GOOD["order_lines"], "oops"]})
    (folder / "order_lines-late.csv").write_bytes(b"")
    load_day(seeded, DAY1)
    manifest = table(seeded, "SELECT * FROM ingest.load_manifest ORDER BY source").set_index("source")
    assert (manifest.rows_read == manifest.rows_loaded + manifest.rows_quarantined).all()
    assert manifest.loc["order_lines", "files"] == 2
    assert manifest.loc["order_lines", "empty_files"] == 1
    assert manifest.loc["order_lines", "rows_quarantined"] == 1
    empty = table(seeded, "SELECT * FROM ingest.quarantine WHERE source_line = 0")
    assert empty.source_file.tolist() == ["2026-01-05/order_lines-late.csv"]
    assert empty.reason.tolist() == ["empty file (0 bytes)"]


def test_reloading_a_day_replaces_it(seeded: Settings) -> None:
    write_day(seeded, DAY1, {"orders": [*GOOD["orders"], "bad,line"]})
    load_day(seeded, DAY1)
    first = table(seeded, "SELECT * FROM raw.orders ORDER BY order_id")
    load_day(seeded, DAY1)
    assert table(seeded, "SELECT * FROM raw.orders ORDER BY order_id").equals(first)
    assert len(table(seeded, "SELECT * FROM ingest.quarantine")) == 1
    assert len(table(seeded, "SELECT * FROM ingest.load_manifest")) == 4


def test_schema_drift_is_recorded_and_values_kept(seeded: Settings) -> None:
    rows = {"customers": [r + ",VIP" for r in GOOD["customers"]]}
    write_day(seeded, DAY1, rows, header_extra=",segment")
    result = load_day(seeded, DAY1)
    assert result.sources[0].drift_columns == ("segment",)
    drift = table(seeded, "SELECT source, column_name, drift_kind FROM ingest.schema_drift")
    assert drift.values.tolist() == [["customers", "segment", "unexpected_column"]]
    assert set(table(seeded, "SELECT _extra_columns FROM raw.customers")._extra_columns) == {
        '{"segment": "VIP"}'
    }


def test_missing_declared_column_is_a_clear_error(seeded: Settings) -> None:
    folder = write_day(seeded, DAY1, {})
    (folder / "stores.csv").write_text("store_id,store_name\n1,Central\n")
    with pytest.raises(LandingFileError, match="size_sqm"):
        load_day(seeded, DAY1)


def test_empty_full_extract_is_refused(seeded: Settings) -> None:
    write_day(seeded, DAY1, {"customers": []})
    with pytest.raises(EmptyExtractError, match="every customer as deleted"):
        load_day(seeded, DAY1)


def test_failed_day_leaves_previous_state(seeded: Settings) -> None:
    write_day(seeded, DAY1, {})
    load_day(seeded, DAY1)
    before = table(seeded, "SELECT count(*) AS n FROM raw.order_lines").n[0]
    write_day(seeded, DAY2, {})
    (seeded.landing_dir / DAY2.isoformat() / "stores.csv").write_text("store_id\n1\n")
    with pytest.raises(LandingFileError):
        load_day(seeded, DAY2)
    assert table(seeded, "SELECT count(*) AS n FROM raw.order_lines").n[0] == before
    assert table(seeded, "SELECT DISTINCT _load_date FROM raw.customers")._load_date.tolist() == [
        pd.Timestamp(DAY1)
    ]


def test_locked_warehouse_gives_a_clear_message(seeded: Settings) -> None:
    write_day(seeded, DAY1, {})
    load_day(seeded, DAY1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(seeded.warehouse_path)!r}); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseLockedError, match=rf"locked by process {holder.pid}"):
            load_day(seeded, DAY1)
    finally:
        holder.kill()
        holder.wait()


def _snapshot(settings: Settings) -> dict[str, pd.DataFrame]:
    out = {}
    for name in (
        "raw.customers",
        "raw.orders",
        "raw.order_lines",
        "ingest.quarantine",
        "ingest.load_manifest",
    ):
        out[name] = table(settings, f"SELECT * FROM {name} ORDER BY ALL")
    return out


def test_failure_inside_the_transaction_rolls_back_everything(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception while publishing the second source, after the first source and the second's own rows were
    written in the open transaction: the warehouse is exactly as before (every raw and ingest table, row for
    row, including the earlier version of the day being reloaded), and the same load then succeeds."""
    write_day(seeded, DAY1, {})
    load_day(seeded, DAY1)
    write_day(seeded, DAY2, {})
    load_day(seeded, DAY2)
    before = table_checksums(seeded.warehouse_path, ("raw", "ingest"))
    # A new delivery of DAY2 that differs in every source, so that a leaked write shows as changed rows.
    changed = {
        "customers": [
            *GOOD["customers"],
            "3,Cy,Ng,cy@example.com,3 Elm St,Metro,10003,bronze,2025-03-01,2026-01-06 09:00:00",
        ],
        "stores": ["1,Central,supermarket,900,Metro,2020-01-01"],
        "orders": _many_lines(7),
        "order_lines": ["100,1,1,1,1.20"],
    }
    write_day(seeded, DAY2, changed)

    real_publish = loader._publish_source
    calls: list[str] = []

    def publish_then_fail_on_the_second(con, stage, settings, load_date):  # same signature as the real one
        result = real_publish(con, stage, settings, load_date)
        calls.append(stage.schema.name)
        if len(calls) == 2:
            raise RuntimeError(f"injected failure after publishing {stage.schema.name}")
        return result

    monkeypatch.setattr(loader, "_publish_source", publish_then_fail_on_the_second)
    with pytest.raises(RuntimeError, match="injected failure after publishing stores"):
        load_day(seeded, DAY2)
    assert calls == ["customers", "stores"]
    assert table_checksums(seeded.warehouse_path, ("raw", "ingest")) == before

    monkeypatch.setattr(loader, "_publish_source", real_publish)
    result = load_day(seeded, DAY2)
    assert [s.source for s in result.sources] == ["customers", "stores", "orders", "order_lines"]
    assert table(seeded, "SELECT count(*) AS n FROM raw.orders WHERE _load_date = '2026-01-06'").n[0] == 7
    assert table_checksums(seeded.warehouse_path, ("raw", "ingest")) != before


def _many_lines(n: int) -> list[str]:
    return [f"{100 + i},1,1,2026-01-06 10:00:00,placed,1.00,2026-01-06 10:00:00" for i in range(n)]


def test_sigkill_mid_load_keeps_previous_state_and_reload_recovers(seeded: Settings) -> None:
    write_day(seeded, DAY1, {})
    load_day(seeded, DAY1)
    before = _snapshot(seeded)
    write_day(seeded, DAY2, {"orders": _many_lines(500)})
    env = {"GROCERY_SEEDS_DIR": str(seeded.seeds_dir)}
    args = ["day", "--day", DAY2.isoformat(), "--data-dir", str(seeded.data_dir)]
    # Killed while staging chunks, and killed inside the open transaction after some sources were inserted.
    for point in ("stage:4", "publish:orders"):
        crashed = run_module(
            "python_jobs.ingest", *args, "--chunk-rows", "50", "--crash-at", point, env=env, check=False
        )
        assert crashed.returncode == -signal.SIGKILL, point
        after_crash = _snapshot(seeded)
        for name, frame in before.items():
            pd.testing.assert_frame_equal(after_crash[name], frame, obj=f"{name} after a crash at {point}")
    run_module("python_jobs.ingest", *args, "--chunk-rows", "50", env=env)
    assert table(seeded, "SELECT count(*) AS n FROM raw.orders WHERE _load_date = '2026-01-06'").n[0] == 500


def test_external_kill_is_all_or_nothing(seeded: Settings) -> None:
    """A real `kill -9` from outside at an arbitrary moment: the day is either fully there or not at all."""
    write_day(seeded, DAY1, {})
    load_day(seeded, DAY1)
    write_day(seeded, DAY2, {"orders": _many_lines(400_000)})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "python_jobs.ingest",
            "day",
            "--day",
            DAY2.isoformat(),
            "--data-dir",
            str(seeded.data_dir),
            "--chunk-rows",
            "5000",
        ],
        cwd=REPO_ROOT,
        env={
            **__import__("os").environ,
            "PYTHONPATH": str(REPO_ROOT),
            "GROCERY_SEEDS_DIR": str(seeded.seeds_dir),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.5)
    assert proc.poll() is None, "the load finished before the kill: make the day bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    day2 = table(seeded, "SELECT count(*) AS n FROM raw.orders WHERE _load_date = '2026-01-06'").n[0]
    manifest = table(
        seeded, "SELECT count(*) AS n FROM ingest.load_manifest WHERE load_date = '2026-01-06'"
    ).n[0]
    assert (day2, manifest) in {(0, 0), (400_000, 4)}
    assert table(seeded, "SELECT count(*) AS n FROM raw.orders WHERE _load_date = '2026-01-05'").n[0] == 2


def test_validation_is_vectorised_and_reports_first_failing_column() -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["1", "x", "3"],
            "line_number": ["1", "1", "0"],
            "product_id": ["1", "1", "1"],
            "quantity": ["2", "-1", "1"],
            "unit_price": ["1.20", "1.2", "1.234"],
        },
        dtype=object,
    )
    good, bad = validate_chunk(ORDER_LINES, frame)
    assert good.index.tolist() == [0]
    assert bad.to_dict("index") == {
        1: {"column_name": "order_id", "reason": "not a valid int"},
        2: {"column_name": "line_number", "reason": "must be >= 1"},
    }
