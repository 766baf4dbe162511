"""The transform benchmark's own logic: its raw-data cache and the ratios it prints (no dbt or SQLMesh run)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from python_jobs.benchmarks.transform import Row, ratios, raw_warehouse
from python_jobs.config import load_settings


def _loaded_days(warehouse: Path) -> list[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [
            str(d) for (d,) in con.execute("select distinct _load_date from raw.orders order by 1").fetchall()
        ]
    finally:
        con.close()


def test_the_raw_cache_grows_by_the_missing_days_and_restarts_when_asked_for_fewer(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    settings = load_settings().with_(
        data_dir=folder, warehouse_path=folder / "raw" / "warehouse.duckdb", scale=0.05
    )
    raw_warehouse(settings, 2)
    assert _loaded_days(settings.warehouse_path) == ["2026-01-05", "2026-01-06"]

    raw_warehouse(settings, 3)  # only day 3 is generated: days 1 and 2 are not run again
    log = (folder / "prepare.log").read_text()
    assert log.count("python_jobs.generate day --day 2026-01-05 ") == 1
    assert log.count("python_jobs.generate day --day 2026-01-07 ") == 1
    assert _loaded_days(settings.warehouse_path) == ["2026-01-05", "2026-01-06", "2026-01-07"]

    # Fewer days than cached: a later day would be visible to the source tests, so the cache starts again.
    raw_warehouse(settings, 1)
    assert _loaded_days(settings.warehouse_path) == ["2026-01-05"]
    assert (folder / "raw-days.txt").read_text() == "1"


def test_ratios_put_the_last_incremental_day_over_the_full_refresh() -> None:
    def row(tool: str, what: str, wall: float) -> Row:
        return Row(10, "duckdb", tool, what, wall, wall, 100.0)

    rows = [
        row("sqlmesh", "day 60 (incremental)", 11.0),
        row("sqlmesh", "full refresh at day 60", 12.0),
        row("sqlmesh", "no-change plan", 8.0),
        row("dbt", "day 60 (incremental)", 6.0),
        row("dbt", "full refresh at day 60", 20.0),
        row("dbt", "day 61, nothing new loaded", 5.0),
    ]
    dbt_line, sqlmesh_line = ratios(rows, 60)
    assert "dbt: incremental day 6.0s / full refresh 20.0s = 0.30x wall" in dbt_line
    assert dbt_line.endswith("a day with nothing new loaded (the floor) 5.0s = 0.25x")
    # SQLMesh's fixed cost (a no-change plan) is taken out: 3 s of work against 4 s.
    assert sqlmesh_line.endswith("beyond a no-change plan (8.0s): 3.0s / 4.0s = 0.75x")
