"""Engine outputs reach raw through the same loader: replace-by-day, lineage, schema checks, manifest."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from python_jobs.config import Settings
from python_jobs.ingest.outputs import OutputSchemaError, load_output
from tests.conftest import run_module


def _write_parquet(path, sql: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")


def _rows(settings: Settings, sql: str):
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_output_days_are_replaced_not_duplicated(settings: Settings) -> None:
    out = settings.data_dir / "outputs" / "demo"
    _write_parquet(out / "day1.parquet", "SELECT range AS store_id, range * 1.5 AS revenue FROM range(3)")
    _write_parquet(out / "day2.parquet", "SELECT range AS store_id, range * 2.0 AS revenue FROM range(4)")
    load_output(settings, "demo_sales", [out / "day1.parquet"], load_date=date(2026, 1, 5))
    load_output(settings, "demo_sales", [out / "day2.parquet"], load_date=date(2026, 1, 6))
    load_output(settings, "demo_sales", [out / "day2.parquet"], load_date=date(2026, 1, 6))
    counts = _rows(settings, "SELECT _load_date, count(*) FROM raw.demo_sales GROUP BY 1 ORDER BY 1")
    assert [c for _, c in counts] == [3, 4]
    assert _rows(settings, "SELECT DISTINCT _source_file FROM raw.demo_sales ORDER BY 1") == [
        ("outputs/demo/day1.parquet",),
        ("outputs/demo/day2.parquet",),
    ]
    manifest = _rows(
        settings, "SELECT rows_read, rows_loaded FROM ingest.load_manifest WHERE source = 'demo_sales'"
    )
    assert manifest == [(3, 3), (4, 4)]


def test_changed_output_columns_are_refused(settings: Settings) -> None:
    out = settings.data_dir / "outputs" / "demo"
    _write_parquet(out / "a.parquet", "SELECT 1 AS store_id")
    _write_parquet(out / "b.parquet", "SELECT 1 AS store_id, 2 AS surprise")
    load_output(settings, "demo_cols", [out / "a.parquet"])
    with pytest.raises(OutputSchemaError, match="surprise"):
        load_output(settings, "demo_cols", [out / "b.parquet"])
    assert _rows(settings, "SELECT count(*) FROM raw.demo_cols") == [(1,)]


def test_output_cli_skips_markers_and_loads_a_folder(settings: Settings) -> None:
    out = settings.data_dir / "outputs" / "spark_like"
    _write_parquet(out / "part-0000.parquet", "SELECT range AS k FROM range(5)")
    (out / "_SUCCESS").write_text("")
    run_module(
        "python_jobs.ingest",
        "output",
        "--table",
        "spark_like",
        str(out),
        "--data-dir",
        str(settings.data_dir),
    )
    assert _rows(settings, "SELECT count(*), min(_load_date) FROM raw.spark_like") == [(5, None)]


def test_engine_part_files_load_identically_whatever_their_names_and_split(settings: Settings) -> None:
    """Two runs of an engine write the same rows under other part-file names and another split: same raw rows,
    same manifest (lineage is the output folder, the checksum is over rows, not file bytes)."""
    seen = []
    for run, splits in (("3f2a", [(0, 10)]), ("9c1e", [(6, 10), (0, 6)])):
        out = settings.data_dir / "outputs" / "engine" / "day=2026-01-05"
        for old in out.glob("*"):
            old.unlink()
        for i, (lo, hi) in enumerate(splits):
            _write_parquet(
                out / f"part-{i:05d}-{run}-c000.snappy.parquet",
                f"SELECT range AS k, range * 0.5 AS v FROM range({lo}, {hi}) ORDER BY random()",
            )
        load_output(settings, "engine_out", sorted(out.glob("*.parquet")), load_date=date(2026, 1, 5))
        seen.append(
            (
                _rows(settings, "SELECT * FROM raw.engine_out ORDER BY k"),
                _rows(
                    settings,
                    "SELECT sha256, rows_loaded FROM ingest.load_manifest WHERE source = 'engine_out'",
                ),
            )
        )
    assert seen[0] == seen[1]
    rows, manifest = seen[0]
    assert {r[-1] for r in rows} == {"outputs/engine/day=2026-01-05"}
    assert "filename" not in _rows(settings, "SELECT list(column_name) FROM (DESCRIBE raw.engine_out)")[0][0]
    assert manifest[0][1] == 10
