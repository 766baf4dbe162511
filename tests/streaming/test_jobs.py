"""Both Flink jobs on one small generated day, judged against the generator's truth (real mini-cluster)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from helpers import generate, run_module

from streaming.evaluate import (
    alerts_from_outputs,
    dead_letters,
    detector_scores,
    exactly_once,
    incidents,
    late_events,
    parse_ts,
    read_json_rows,
    read_lines,
    read_truth,
)

FAIL_AT = 202601050001500  # an event in the middle of the stream
DS_ATTEMPTS = 3  # DataStream restart runs started at the most, a hung one stopped and started again
DS_HANGS_ALLOWED = 1  # hung runs tolerated among them (measured rate, docs/streaming.md: 3 in about 12)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stream")
    generate(root / "input", hours=4, sensors=4)
    run_module("streaming.sql_job", "--input", str(root / "input"), "--out", str(root / "sql"))
    ds_job = ("streaming.datastream_job", "--input", str(root / "input"), "--out", str(root / "ds"),
              "--restart-attempts", "3", "--fail-at-event", str(FAIL_AT))  # fmt: skip
    # A known hang (docs/streaming.md): in some runs the restarted attempt's window
    # operator asks for its window state on a timer and the heap state backend refuses it ("A serializer has
    # already been registered for the state; re-registration is not allowed"); the Python worker raises and the
    # job then neither fails nor finishes. A normal run takes a fraction of 100 s: stop a hung one after 100 s
    # and start again from nothing (a fresh output folder, so the exactly-once checks below judge one complete
    # run), at most three attempts. The hangs are counted and judged against the measured rate by
    # test_datastream_restart_hangs_no_more_often_than_measured.
    hangs = 0
    for _ in range(DS_ATTEMPTS):
        shutil.rmtree(root / "ds", ignore_errors=True)
        try:
            run_module(*ds_job, timeout=100)
            break
        except subprocess.TimeoutExpired:
            hangs += 1
    else:
        pytest.fail(
            f"the DataStream restart run hung in all {DS_ATTEMPTS} attempts (stopped after 100 s each)"
        )
    (root / "ds_runs.json").write_text(json.dumps({"hangs": hangs, "attempts": hangs + 1}))
    return {"input": root / "input", "sql": root / "sql", "ds": root / "ds", "ds_runs": root / "ds_runs.json"}


def test_datastream_restart_hangs_no_more_often_than_measured(day: dict[str, Path]) -> None:
    """The retry above hides a hang; this keeps count. Measured: 3 hung runs in about 12 (docs/streaming.md),
    so one hang among the attempts is within that rate; more means the hang got more frequent."""
    runs = json.loads(day["ds_runs"].read_text())
    assert runs["hangs"] <= DS_HANGS_ALLOWED, (
        f"the DataStream restart run hung {runs['hangs']} times in {runs['attempts']} attempts (each stopped "
        f"after 100 s); at most {DS_HANGS_ALLOWED} is allowed (measured rate: about 1 run in 4)"
    )


def test_dead_letters_keep_every_malformed_line_with_its_reason(day: dict[str, Path]) -> None:
    result = dead_letters(day["input"], day["sql"])
    assert result["injected"] > 0
    assert result["dead_lettered"] == result["injected"] == result["matching_payload_and_reason"]


def test_injected_failure_restarts_and_output_is_exactly_once(day: dict[str, Path]) -> None:
    assert (day["ds"] / "_failed_once").exists(), "the failure was never injected"
    result = exactly_once(day["input"], day["ds"])
    assert result["expected"] > 1000
    assert (result["duplicates"], result["lost"], result["unexpected"]) == (0, 0, 0)


def test_late_events_go_to_the_side_output_and_nothing_else_does(day: dict[str, Path]) -> None:
    result = late_events(day["input"], day["ds"])
    assert result["injected_late"] > 0
    assert result["side_output"] == result["injected_late"] == result["injected_and_routed"]


def test_sql_windows_drop_exactly_the_late_events(day: dict[str, Path]) -> None:
    """Window TVFs drop late rows silently: the tumbling counts add up to unique events minus late ones."""
    truth = read_truth(day["input"], "events.csv")
    on_time = sum(1 for r in truth if r["late"] == "0")
    rows = [r for r in read_json_rows(day["sql"] / "windows") if r["window_kind"] == "tumble_1m"]
    assert sum(r["events"] for r in rows) == on_time
    # Every 1-minute window is computed once (no duplicate firing in the SQL path).
    assert max(Counter((r["sensor_id"], r["store_id"], r["window_start"]) for r in rows).values()) == 1
    hops = [r for r in read_json_rows(day["sql"] / "windows") if r["window_kind"] == "hop_5m_1m"]
    assert sum(r["events"] for r in hops) == 5 * on_time  # each event is in five 5-minute hops


def test_temporal_join_uses_the_store_valid_at_event_time(day: dict[str, Path]) -> None:
    moves = (day["input"] / "dim" / "sensor_dim.csv").read_text().splitlines()
    sensor, new_store, _, moved_at = moves[-1].split(",")
    rows = [
        r
        for r in read_json_rows(day["sql"] / "windows")
        if r["sensor_id"] == sensor and r["window_kind"] == "tumble_1m"
    ]
    before = {r["store_id"] for r in rows if parse_ts(r["window_end"]) <= parse_ts(moved_at)}
    after = {r["store_id"] for r in rows if parse_ts(r["window_start"]) > parse_ts(moved_at)}
    assert after == {int(new_store)}
    assert before and int(new_store) not in before


def test_materialized_view_is_an_upsert_changelog_ending_in_the_latest_state(day: dict[str, Path]) -> None:
    changes = read_json_rows(day["sql"] / "sensor_state")
    ops = Counter(c["op"] for c in changes)
    # Flink's debezium-json writes +I/+U as "c" (after only) and -U/-D as "d" (before only): every update of
    # a sensor's row retracts the previous version, so there are exactly 4 (sensors) more "c" than "d".
    assert ops["c"] - ops["d"] == 4 and ops["d"] > 0
    state = {}
    for change in changes:
        if change["after"] is not None:
            state[change["after"]["sensor_id"]] = change["after"]
    truth = read_truth(day["input"], "events.csv")
    for sensor, row in state.items():
        last = max(parse_ts(r["event_time"]) for r in truth if r["sensor_id"] == sensor and r["late"] == "0")
        assert parse_ts(row["last_event_time"]) == last


def test_calibration_udf_removes_each_device_bias(day: dict[str, Path]) -> None:
    truth = read_truth(day["input"], "events.csv")
    offsets = json.loads((day["input"] / "calibration.json").read_text())
    assert any(abs(v) > 0.1 for v in offsets.values())
    true_mean: dict[str, list[float]] = {}
    for r in truth:
        if r["late"] == "0":
            true_mean.setdefault(r["sensor_id"], []).append(float(r["temperature"]))
    rows = [r for r in read_json_rows(day["sql"] / "windows") if r["window_kind"] == "tumble_1m"]
    for sensor, temps in true_mean.items():
        weighted = [(r["temp_mean"], r["events"]) for r in rows if r["sensor_id"] == sensor]
        mean = sum(m * n for m, n in weighted) / sum(n for _, n in weighted)
        assert abs(mean - sum(temps) / len(temps)) < 0.01


def test_detector_finds_every_injected_anomaly_with_few_false_alarms(day: dict[str, Path]) -> None:
    truth = read_truth(day["input"], "anomalies.csv")
    assert len(truth) >= 3
    scores = detector_scores(truth, alerts_from_outputs(day["sql"]) + alerts_from_outputs(day["ds"]))
    assert scores["recall"] == 1.0, scores
    assert scores["precision"] >= 0.75, scores
    assert scores["delay_minutes_median"] <= 15, scores


def test_alarm_rows_are_the_first_alert_of_each_incident(day: dict[str, Path]) -> None:
    """`alarms/` holds one row per incident (alerts of a sensor < 30 min apart), the one at its onset."""
    alerts = alerts_from_outputs(day["sql"])
    onsets = sorted((g[0].sensor_id, g[0].kind, g[0].detected_at) for g in incidents(alerts))
    alarms = sorted(
        (r["sensor_id"], r["kind"], parse_ts(r["detected_at"])) for r in read_json_rows(day["sql"] / "alarms")
    )
    assert len(alerts) > len(alarms) > 0  # the fixture's day has incidents of several alert rows
    assert alarms == onsets


def test_silence_timer_fires_during_the_stream_not_at_its_end(day: dict[str, Path]) -> None:
    silent = [line.split(",") for line in read_lines(day["ds"] / "silent")]
    truth = [r for r in read_truth(day["input"], "anomalies.csv") if r["kind"] == "silent"]
    end_of_data = max(parse_ts(r["event_time"]) for r in read_truth(day["input"], "events.csv"))
    assert all(parse_ts(detected) < end_of_data for _, _, detected in silent)
    for anomaly in truth:
        assert any(
            s == anomaly["sensor_id"] and parse_ts(d) >= parse_ts(anomaly["start"]) for s, _, d in silent
        )
