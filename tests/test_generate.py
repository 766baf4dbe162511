"""Tests of the seeded data generator against docs/contracts.md, on real files in a temporary folder."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from python_jobs.config import Settings, load_settings
from python_jobs.generate import generate_day
from python_jobs.generate.cli import app
from python_jobs.generate.corruption import SOURCES
from python_jobs.generate.writer import AtomicFile

DAYS = 4
BAD_KINDS = {
    "customers": {"malformed_date", "duplicate_key", "wrong_column_count", "broken_quoting", "invalid_utf8"},
    "stores": {"malformed_date", "duplicate_key", "wrong_column_count", "broken_quoting", "invalid_utf8"},
    "orders": {
        "malformed_date", "unknown_foreign_key", "duplicate_key", "wrong_column_count", "broken_quoting",
        "invalid_utf8",
    },
    "order_lines": {
        "negative_quantity", "unknown_foreign_key", "duplicate_key", "wrong_column_count", "broken_quoting",
        "invalid_utf8",
    },
}  # fmt: skip
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def settings_for(folder: Path, **changes: object) -> Settings:
    """Defaults of the code, not of the environment running the tests, then the test's own values."""
    return load_settings(env={}).with_(
        **{"data_dir": folder, "seed": 7, "scale": 0.3, "bad_share": 0.02, **changes}
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Days 1..4 generated once for the whole module, in order."""
    settings = settings_for(tmp_path_factory.mktemp("generated"))
    for day in range(1, DAYS + 1):
        generate_day(settings, day)
    return settings


# --- reading the output back ------------------------------------------------------------------------------


def landing(settings: Settings, day: int) -> Path:
    return settings.landing_dir / settings.day_date(day).isoformat()


def truth(settings: Settings, day: int) -> Path:
    return settings.truth_dir / settings.day_date(day).isoformat()


def physical_lines(path: Path) -> list[bytes]:
    """Line i + 1 of the file is element i; the file ends with a line end."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def bad_records(settings: Settings, day: int) -> list[dict[str, str]]:
    return read_csv(truth(settings, day) / "bad_records.csv")


def genuine_rows(settings: Settings, day: int, source: str) -> list[dict[str, str]]:
    """The rows of `<source>.csv` that bad_records.csv does not list: what the ingest must load."""
    path = landing(settings, day) / f"{source}.csv"
    relative = f"{path.parent.name}/{path.name}"
    bad = {int(r["line"]) for r in bad_records(settings, day) if r["file"] == relative}
    lines = physical_lines(path)
    header = lines[0].decode("utf-8").split(",")
    kept = [line.decode("utf-8") for number, line in enumerate(lines[1:], start=2) if number not in bad]
    return [dict(zip(header, fields, strict=True)) for fields in csv.reader(kept)]


def extract(settings: Settings, day: int, source: str, key: str) -> dict[str, dict[str, str]]:
    return {row[key]: row for row in genuine_rows(settings, day, source)}


def is_timestamp(value: str) -> bool:
    try:
        return bool(TIMESTAMP.match(value)) and bool(datetime.strptime(value, "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return False


def is_date(value: str) -> bool:
    try:
        return bool(DATE.match(value)) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")


# --- determinism ------------------------------------------------------------------------------------------


def files_of(settings: Settings, day: int) -> dict[str, bytes]:
    folders = (landing(settings, day), truth(settings, day))
    return {
        f"{folder.parent.name}/{path.name}": path.read_bytes()
        for folder in folders
        for path in folder.iterdir()
    }


def test_same_seed_gives_identical_bytes_whatever_was_generated_before(
    generated: Settings, tmp_path: Path
) -> None:
    alone = settings_for(tmp_path)
    generate_day(alone, 3)  # without days 1 and 2
    assert files_of(alone, 3) == files_of(generated, 3)
    stamps = {p: p.stat().st_mtime_ns for p in landing(alone, 3).iterdir()}
    generate_day(alone, 3)  # and regenerating over existing files changes nothing, not even their mtimes,
    assert files_of(alone, 3) == files_of(generated, 3)
    # which is what tells the Spark job's day markers that the day needs no recomputation.
    assert {p: p.stat().st_mtime_ns for p in landing(alone, 3).iterdir()} == stamps


def test_atomic_file_replaces_a_file_whose_content_changed(tmp_path: Path) -> None:
    target = tmp_path / "orders.csv"
    for rows in (b"1,2\n", b"1,2\n", b"1,3\n"):
        with AtomicFile(target, ["a", "b"]) as out:
            out.write(rows)
        assert target.read_bytes() == b"a,b\n" + rows
    assert [p.name for p in tmp_path.iterdir()] == ["orders.csv"]


def test_different_seed_gives_different_files(generated: Settings, tmp_path: Path) -> None:
    other = settings_for(tmp_path, seed=8)
    generate_day(other, 1)
    for name in ("customers.csv", "orders.csv", "order_lines.csv"):
        assert (landing(other, 1) / name).read_bytes() != (landing(generated, 1) / name).read_bytes()


def test_genuine_rows_do_not_depend_on_bad_share(generated: Settings, tmp_path: Path) -> None:
    clean = settings_for(tmp_path, bad_share=0.0)
    generate_day(clean, 2)
    assert bad_records(clean, 2) == []
    assert sorted(p.name for p in landing(clean, 2).iterdir()) == [
        "customers.csv", "order_lines.csv", "orders.csv", "stores.csv",
    ]  # fmt: skip
    for source in SOURCES:
        assert genuine_rows(clean, 2, source) == genuine_rows(generated, 2, source)


# --- bad records ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", range(1, DAYS + 1))
def test_every_bad_kind_appears_every_day(generated: Settings, day: int) -> None:
    records = bad_records(generated, day)
    for source, kinds in BAD_KINDS.items():
        assert {r["kind"] for r in records if r["source"] == source and r["line"] != "0"} == kinds
    empty = [r for r in records if r["kind"] == "empty_file"]
    assert len(empty) == 1 and empty[0]["line"] == "0"
    assert (generated.landing_dir / empty[0]["file"]).stat().st_size == 0


@pytest.mark.parametrize("day", range(1, DAYS + 1))
def test_bad_records_point_at_lines_that_really_are_bad(generated: Settings, day: int) -> None:
    products = {row["product_id"] for row in read_csv(generated.seeds_dir / "products.csv")}
    customers_ever = set().union(
        *(extract(generated, d, "customers", "customer_id") for d in range(1, DAYS + 1))
    )
    first_line_of_key: dict[str, dict[str, int]] = {}  # file -> key -> first line with that key
    for record in bad_records(generated, day):
        if record["kind"] == "empty_file":
            continue
        spec = SOURCES[record["source"]]
        lines = physical_lines(generated.landing_dir / record["file"])
        if record["file"] not in first_line_of_key:
            keys: dict[str, int] = {}
            for number, raw in enumerate(lines[1:], start=2):
                fields = next(csv.reader([raw.decode("utf-8", errors="replace")]))
                keys.setdefault(":".join(fields[c] for c in spec.key_columns), number)
            first_line_of_key[record["file"]] = keys
        first_line = first_line_of_key[record["file"]]
        number = int(record["line"])
        line = lines[number - 1]
        kind = record["kind"]
        if kind == "invalid_utf8":
            with pytest.raises(UnicodeDecodeError):
                line.decode("utf-8")
            continue
        text = line.decode("utf-8")
        if kind == "broken_quoting":
            assert text.count('"') % 2 == 1, text
            continue
        fields = next(csv.reader([text]))
        if kind == "wrong_column_count":
            assert len(fields) != len(spec.columns), text
            continue
        assert len(fields) == len(spec.columns), text
        row = dict(zip(spec.columns, fields, strict=True))
        key = ":".join(fields[c] for c in spec.key_columns)
        assert key == record["key"]
        if kind == "malformed_date":
            columns = [spec.columns[c] for c in spec.date_columns]
            assert not all(is_timestamp(row[c]) or is_date(row[c]) for c in columns), text
        elif kind == "negative_quantity":
            assert int(row["quantity"]) < 0
        elif kind == "duplicate_key":
            assert first_line[key] < number, "a duplicate comes after its original"
        elif kind == "unknown_foreign_key":
            assert first_line[key] == number, "an unknown foreign key comes with a key of its own"
            if record["source"] == "orders":
                assert row["customer_id"] not in customers_ever
            else:
                assert row["product_id"] not in products
        else:
            pytest.fail(f"unexpected kind {kind}")


@pytest.mark.parametrize("day", range(1, DAYS + 1))
def test_genuine_rows_are_clean_and_summary_matches(generated: Settings, day: int) -> None:
    summary = json.loads((truth(generated, day) / "summary.json").read_text())
    assert summary["day"] == generated.day_date(day).isoformat()
    assert (summary["seed"], summary["scale"]) == (generated.seed, generated.scale)
    for source, spec in SOURCES.items():
        rows = genuine_rows(generated, day, source)
        assert len(rows) == summary["genuine_rows"][source] > 0
        keys = [":".join(row[spec.columns[c]] for c in spec.key_columns) for row in rows]
        assert len(set(keys)) == len(keys), f"{source}: genuine keys are unique"
        for row in rows:
            for c in spec.date_columns:
                assert is_timestamp(row[spec.columns[c]]) or is_date(row[spec.columns[c]])
        n_bad = sum(1 for r in bad_records(generated, day) if r["source"] == source and r["line"] != "0")
        assert n_bad == summary["bad_rows"][source]
        total_lines = len(physical_lines(landing(generated, day) / f"{source}.csv"))
        assert total_lines == 1 + len(rows) + n_bad
    for name, digest in summary["files"].items():
        assert hashlib.sha256((generated.landing_dir / name).read_bytes()).hexdigest() == digest
    assert sorted(summary["files"]) == sorted(
        f"{landing(generated, day).name}/{p.name}" for p in landing(generated, day).iterdir()
    )


# --- customers and stores ---------------------------------------------------------------------------------


def test_day_one_creates_every_customer(generated: Settings) -> None:
    changes = read_csv(truth(generated, 1) / "customer_changes.csv")
    assert {c["change_kind"] for c in changes} == {"created"}
    assert {c["customer_id"] for c in changes} == set(extract(generated, 1, "customers", "customer_id"))


@pytest.mark.parametrize("day", range(2, DAYS + 1))
def test_customer_changes_match_the_difference_of_consecutive_extracts(generated: Settings, day: int) -> None:
    before = extract(generated, day - 1, "customers", "customer_id")
    after = extract(generated, day, "customers", "customer_id")
    last_seen: dict[str, dict[str, str]] = {}  # customer_id -> row in the latest earlier extract having it
    for earlier in range(1, day):
        last_seen.update(extract(generated, earlier, "customers", "customer_id"))
    changes = read_csv(truth(generated, day) / "customer_changes.csv")
    by_customer: dict[str, list[dict[str, str]]] = defaultdict(list)
    for change in changes:
        by_customer[change["customer_id"]].append(change)

    # At most one change per customer and day (an address move logs one row per field, same change).
    for rows in by_customer.values():
        assert len({(r["change_kind"], r["updated_at"]) for r in rows}) == 1
    kind = {cid: rows[0]["change_kind"] for cid, rows in by_customer.items()}
    day_start = datetime.combine(generated.day_date(day), datetime.min.time())
    for rows in by_customer.values():
        assert day_start <= ts(rows[0]["updated_at"]) < day_start + timedelta(days=1)

    appeared, disappeared = set(after) - set(before), set(before) - set(after)
    assert {c for c in appeared if c in last_seen} == {c for c, k in kind.items() if k == "returned"}
    assert {c for c in appeared if c not in last_seen} == {c for c, k in kind.items() if k == "created"}
    assert disappeared == {c for c, k in kind.items() if k == "deleted"}
    for cid in appeared:
        assert after[cid]["updated_at"] == by_customer[cid][0]["updated_at"]
        if cid in last_seen:  # a returning customer comes back as they were, with a new updated_at
            assert {**after[cid], "updated_at": ""} == {**last_seen[cid], "updated_at": ""}

    for cid in set(before) & set(after):
        diff = {
            column: (before[cid][column], after[cid][column])
            for column in before[cid]
            if column != "updated_at" and before[cid][column] != after[cid][column]
        }
        logged = {r["field"]: (r["old_value"], r["new_value"]) for r in by_customer.get(cid, [])}
        assert diff == logged, cid
        bumped = before[cid]["updated_at"] != after[cid]["updated_at"]
        assert bumped == (cid in by_customer), cid
        if bumped:
            assert after[cid]["updated_at"] == by_customer[cid][0]["updated_at"]
            assert ts(after[cid]["updated_at"]) > ts(before[cid]["updated_at"])


def test_customers_get_deleted_and_come_back(generated: Settings) -> None:
    kinds_by_day = {
        day: {c["change_kind"] for c in read_csv(truth(generated, day) / "customer_changes.csv")}
        for day in range(2, DAYS + 1)
    }
    assert "deleted" in kinds_by_day[2]
    assert "returned" in kinds_by_day[3]
    for kinds in kinds_by_day.values():
        assert {"created", "deleted", "address_move", "tier_change", "email_fix"} <= kinds


def test_store_changes_match_the_extracts(generated: Settings) -> None:
    changed_early = 0
    for day in range(2, DAYS + 1):
        before = extract(generated, day - 1, "stores", "store_id")
        after = extract(generated, day, "stores", "store_id")
        assert set(before) == set(after) and len(after) == 12
        logged = {
            (c["store_id"], c["field"]): (c["old_value"], c["new_value"])
            for c in read_csv(truth(generated, day) / "store_changes.csv")
        }
        diff = {
            (sid, column): (before[sid][column], after[sid][column])
            for sid in after
            for column in after[sid]
            if before[sid][column] != after[sid][column]
        }
        assert diff == logged
        changed_early += len(diff) if day <= 3 else 0
    assert changed_early >= 1


# --- orders -----------------------------------------------------------------------------------------------


def test_orders_follow_the_contract(generated: Settings) -> None:
    prices = {
        row["product_id"]: Decimal(row["unit_price"])
        for row in read_csv(generated.seeds_dir / "products.csv")
    }
    first_delivered: dict[str, int] = {}  # order_id -> day
    last_status: dict[str, str] = {}
    n_updates = n_late = 0
    for day in range(1, DAYS + 1):
        midnight = datetime.combine(generated.day_date(day), datetime.min.time())
        customers_today = set(extract(generated, day, "customers", "customer_id"))
        orders = genuine_rows(generated, day, "orders")
        lines = genuine_rows(generated, day, "order_lines")
        delivered_today: set[str] = set()
        for order in orders:
            order_ts, updated_at = ts(order["order_ts"]), ts(order["updated_at"])
            assert updated_at >= order_ts
            assert 1 <= int(order["store_id"]) <= 12 and Decimal(order["delivery_fee"]) >= 0
            oid = order["order_id"]
            if oid in first_delivered:  # a re-sent update of an order from the previous three days
                assert day - 3 <= first_delivered[oid] < day
                assert order["status"] != last_status[oid]
                assert midnight <= updated_at < midnight + timedelta(days=1)
                n_updates += 1
            else:
                assert int(oid) // 10**9 == day
                assert order["customer_id"] in customers_today
                if order_ts < midnight:  # late-arriving: placed 1-3 days ago, updated_at = order_ts
                    assert midnight - timedelta(days=3) <= order_ts and updated_at == order_ts
                    n_late += 1
                else:
                    assert order_ts < midnight + timedelta(days=1)
                first_delivered[oid] = day
                delivered_today.add(oid)
            last_status[oid] = order["status"]
        line_keys = [(line["order_id"], line["line_number"]) for line in lines]
        assert len(set(line_keys)) == len(line_keys)
        assert {oid for oid, _ in line_keys} == delivered_today, "lines come with first deliveries only"
        for line in lines:
            assert int(line["quantity"]) > 0 and 1 <= int(line["line_number"]) <= 8
            assert Decimal(line["unit_price"]) <= prices[line["product_id"]]
    assert n_updates > 0 and n_late > 0


# --- command line and writer ------------------------------------------------------------------------------


def test_cli_generates_days_and_reads_a_day_either_way(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--help"]).exit_code == 0
    common = ["--scale", "0.05", "--seed", "3", "--bad-share", "0", "--data-dir", str(tmp_path)]
    result = runner.invoke(app, ["days", "--days", "2", *common])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "truth" / "2026-01-06" / "summary.json").exists()
    result = runner.invoke(app, ["day", "--day", "2026-01-07", *common])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "truth" / "2026-01-07" / "summary.json").read_text())["day_number"] == 3
    # The day number is the same day (one conversion, Settings.parse_day); anything else is refused.
    result = runner.invoke(app, ["day", "--day", "3", *common])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["day", "--day", "2026-1-7", *common]).exit_code != 0
    assert runner.invoke(app, ["day", "--day", "0", *common]).exit_code != 0


def test_atomic_file_publishes_nothing_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "orders.csv"
    with pytest.raises(RuntimeError), AtomicFile(target, ["a", "b"]) as out:
        out.write(b"1,2\n")
        raise RuntimeError("crash mid-file")
    assert list(tmp_path.iterdir()) == []
