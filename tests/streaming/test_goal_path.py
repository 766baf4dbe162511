"""The goal path's cheaper forms against the forms they replace, on one generated day with a sensor move."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from helpers import counted, generate, run_module

from streaming.evaluate import parse_ts, read_json_rows, read_truth
from streaming.sql_job import SqlJobConfig, _events, calibrate_sql

PARTS = ("--parts", "windows,anomalies,dead_letters")
RUNS = {
    # The forms as they were: Python UDFs, the hop over every reading, the store of every reading.
    "reference": ("--udfs", "python", "--hop-from", "events", "--join-on", "readings"),
    "sql_udfs_cascaded_hop": ("--udfs", "sql", "--hop-from", "minutes", "--join-on", "readings"),
    "join_on_minutes": ("--udfs", "sql", "--hop-from", "minutes", "--join-on", "minutes"),
    "event_time_dedup": (
        "--udfs",
        "sql",
        "--hop-from",
        "minutes",
        "--join-on",
        "minutes",
        "--dedup",
        "event-time",
    ),
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("goal")
    generate(root / "input", hours=3, sensors=3)
    # One device without an offset: the Python UDF and the offsets join must both leave its readings as reported.
    calibration = root / "input" / "calibration.json"
    offsets = json.loads(calibration.read_text())
    offsets.pop(sorted(offsets)[0])
    calibration.write_text(json.dumps(offsets))
    rows = {}
    for name, flags in RUNS.items():
        run_module(
            "streaming.sql_job", "--input", str(root / "input"), "--out", str(root / name), *PARTS, *flags
        )
        rows[name] = {
            part: read_json_rows(root / name / part) for part in ("windows", "anomalies", "dead_letters")
        }
    *_, last_version = (root / "input" / "dim" / "sensor_dim.csv").read_text().splitlines()
    sensor, _, _, moved_at = last_version.split(",")
    summary = json.loads((root / "input" / "truth" / "summary.json").read_text())
    return {
        "rows": rows,
        "moved_sensor": sensor,
        "moved_at": parse_ts(moved_at),
        "summary": summary,
        "on_time": sum(1 for r in read_truth(root / "input", "events.csv") if r["late"] == "0"),
    }


def test_sql_udfs_and_the_cascaded_hop_give_the_same_rows(outputs: dict) -> None:
    reference, new = outputs["rows"]["reference"], outputs["rows"]["sql_udfs_cascaded_hop"]
    kinds = Counter(r["window_kind"] for r in new["windows"])
    assert kinds["hop_5m_1m"] > 500 and kinds["door_session"] > 0
    for part in ("windows", "anomalies", "dead_letters"):
        assert counted(new[part]) == counted(reference[part]), part


def test_join_on_minutes_differs_only_around_the_move(outputs: dict) -> None:
    """The store of a window row as of its window time: only the windows holding the move change (and, for the
    30 minute rows after it, the rolling z-score, whose window holds one row fewer; later z-scores of that
    sensor may differ in their last bits, the rolling sums having been built in another order)."""
    reference, new = outputs["rows"]["reference"], outputs["rows"]["join_on_minutes"]
    sensor, moved_at = outputs["moved_sensor"], outputs["moved_at"]
    for part in ("anomalies", "dead_letters"):
        assert counted(new[part]) == counted(reference[part]), part
    only_ref = [json.loads(r) for r in (counted(reference["windows"]) - counted(new["windows"])).elements()]
    only_new = [json.loads(r) for r in (counted(new["windows"]) - counted(reference["windows"])).elements()]
    move_minute = moved_at.replace(second=0, microsecond=0)
    if moved_at > move_minute:  # the move inside a minute: the reference has a row for each store
        assert only_ref and only_new
    zscore_only = []
    for rows, others in ((only_ref, only_new), (only_new, only_ref)):
        twins = {(r["window_kind"], r["window_start"], r["store_id"]): r for r in others}
        for row in rows:
            assert row["sensor_id"] == sensor, row
            twin = twins.get((row["window_kind"], row["window_start"], row["store_id"]))
            if twin is not None and {**twin, "temp_zscore": 0} == {**row, "temp_zscore": 0}:
                if abs(twin["temp_zscore"] - row["temp_zscore"]) > 1e-9:
                    zscore_only.append(row)
                continue
            # A window holding the move: the minute, the five hops over it, a door session across it.
            assert parse_ts(row["window_start"]) <= moved_at <= parse_ts(row["window_end"]), row
    # Each z-score changed beyond the last bits belongs to one of the 30 minute rows after the move's minute.
    assert len(zscore_only) <= 2 * 30
    assert all(parse_ts(r["window_start"]) > move_minute for r in zscore_only)
    tumble_events = {
        name: sum(r["events"] for r in rows["windows"] if r["window_kind"] == "tumble_1m")
        for name, rows in (("reference", reference), ("new", new))
    }
    assert tumble_events["new"] == tumble_events["reference"]


def test_the_dedup_per_minute_gives_the_same_rows(outputs: dict) -> None:
    """The generated day has repeated events and events 10-30 min late: a dedup that drops a minute's keys
    when the minute closes keeps the same copies, and drops as late what the windows would drop."""
    assert outputs["summary"]["duplicates"] > 0 and outputs["summary"]["late_events"] > 0
    reference, new = outputs["rows"]["join_on_minutes"], outputs["rows"]["event_time_dedup"]
    # Each on-time event counted once, whatever copy came first; no late one.
    tumble_events = sum(r["events"] for r in new["windows"] if r["window_kind"] == "tumble_1m")
    assert tumble_events == outputs["on_time"]
    for part in ("windows", "anomalies", "dead_letters"):
        assert counted(new[part]) == counted(reference[part]), part


def test_the_compressor_chain_reports_what_the_nfa_over_every_minute_reports(tmp_path: Path) -> None:
    """`B R{8} E` over every minute (`--patterns-on events`, the NFA reading its partial match) against the chain
    over the minutes that end a rise (`minutes_rising`), on a day with compressor failures. A failure that keeps
    rising gives a rise every minute: reported, held back for nine minutes, reported again, so a held-back rise
    must not hold back the next one (reports of one sensor exactly 10 minutes apart)."""
    generate(tmp_path / "input", hours=6, sensors=6)
    rows = {}
    for name, patterns in (("chain", "minutes"), ("nfa", "events")):
        out = tmp_path / name
        run_module(
            "streaming.sql_job",
            *("--input", str(tmp_path / "input"), "--out", str(out), "--parts", "anomalies"),
            *("--udfs", "sql", "--join-on", "minutes", "--patterns-on", patterns),
        )
        rows[name] = [r for r in read_json_rows(out / "anomalies") if r["kind"] == "compressor_failure"]
    assert counted(rows["chain"]) == counted(rows["nfa"])
    detected = sorted((r["sensor_id"], parse_ts(r["detected_at"])) for r in rows["chain"])
    gaps = [b[1] - a[1] for a, b in pairwise(detected) if a[0] == b[0]]
    assert any(gap.total_seconds() == 600 for gap in gaps), detected


def test_the_dedup_per_minute_needs_the_minute_path(tmp_path) -> None:
    cfg = SqlJobConfig(
        events=tmp_path,
        dim=tmp_path,
        calibration=tmp_path,
        out=tmp_path,
        dedup="event-time",
        join_on="readings",
    )
    with pytest.raises(ValueError, match="needs join_on 'minutes'"):
        _events(None, cfg)


def test_sql_calibration_refuses_offsets_it_would_round_differently() -> None:
    assert "DECIMAL(20, 6)" in calibrate_sql({"FRZ-01": 0.25}, "device_id", "temp_mean")
    with pytest.raises(ValueError, match="more than 6 decimals"):
        calibrate_sql({"FRZ-01": 0.1234567}, "device_id", "temp_mean")
