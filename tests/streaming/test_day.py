"""The pipeline's Flink step (`python -m streaming.day`): a replay is deterministic, and a finished one is not redone."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from helpers import run_module

from streaming.day import LOADS, MARKER, replay_key
from streaming.files import committed_files
from streaming.generator import StreamSpec

DAY = "2026-01-05"


def _outputs(data_dir: Path) -> dict[str, list[str]]:
    """Every committed output line per table, sorted: part-file names and splits may differ, rows may not."""
    sql = data_dir / "outputs" / "streaming" / DAY / "sql"
    return {
        folder: sorted(line for f in committed_files(sql / folder) for line in f.read_text().splitlines())
        for folder in LOADS.values()
    }


def _day(data_dir: Path, *extra: str) -> dict:
    return run_module(
        "streaming.day", "--day", DAY, "--data-dir", str(data_dir), "--sensors", "2", "--hours", "3", *extra
    )


def test_two_replays_give_the_same_rows_and_a_finished_day_is_skipped(tmp_path: Path) -> None:
    first = _day(tmp_path / "a")
    assert "skipped" not in first and first["lines"] > 0
    rows = _outputs(tmp_path / "a")
    assert rows["windows"] and rows["dead_letters"]
    mtimes = {p: p.stat().st_mtime_ns for p in committed_files(tmp_path / "a" / "outputs")}

    again = _day(tmp_path / "a")
    assert again["skipped"] and again["lines"] == first["lines"]
    assert {p: p.stat().st_mtime_ns for p in committed_files(tmp_path / "a" / "outputs")} == mtimes

    # A replay from scratch elsewhere: the same rows, so skipping the first folder's re-run lost nothing.
    assert "skipped" not in _day(tmp_path / "b")
    assert _outputs(tmp_path / "b") == rows
    assert (tmp_path / "b" / "outputs" / "streaming" / DAY / "sql" / MARKER).exists()


def test_the_parts_the_pipeline_skips_do_not_change_the_rows_it_loads(tmp_path: Path) -> None:
    """The pipeline's replay leaves out the materialized view and the latency probe: with them, the loaded
    outputs hold the same rows."""
    _day(tmp_path / "a")
    sql = tmp_path / "a" / "outputs" / "streaming" / DAY / "sql"
    assert not (sql / "sensor_state").exists() and not (sql / "latency").exists()
    _day(tmp_path / "all", "--parts", "windows,anomalies,dead_letters,state,latency")
    everything = tmp_path / "all" / "outputs" / "streaming" / DAY / "sql"
    assert committed_files(everything / "sensor_state") and committed_files(everything / "latency")
    assert _outputs(tmp_path / "all") == _outputs(tmp_path / "a")


def test_the_replay_key_changes_with_the_spec() -> None:
    spec = StreamSpec(day=date.fromisoformat(DAY), sensors=2, hours=3)
    assert replay_key(spec, 1) == replay_key(replace(spec), 1)
    assert replay_key(spec, 1) != replay_key(replace(spec, hours=2), 1)
    assert replay_key(spec, 1) != replay_key(replace(spec, seed=43), 1)
    assert replay_key(spec, 1) != replay_key(spec, 2)
    assert replay_key(spec, 1) != replay_key(spec, 1, ("windows",))
