"""The tuning lab's arithmetic and report (no Spark): each fix's share of the gain, each fix alone against the
slow job, and the runs a stopped lab did not reach marked as such."""

from __future__ import annotations

from python_jobs.labs.tuning import _label, markdown, shares, variants
from python_jobs.tuning.fixes import FIX_NAMES, cumulative


def _row(kind: str, fixes: tuple[str, ...], wall: float, checksums: dict | None = None) -> dict:
    return {
        "kind": kind,
        "label": _label(fixes),
        "fixes": list(fixes),
        "level": "MEMORY_AND_DISK",
        "ok": True,
        "status": "ok",
        "wall_s": wall,
        "cpu_s": wall,
        "peak_rss_mib": 100.0,
        "checksums": checksums or {"weekly_sales": "a"},
        "metrics": None,
    }


def test_plan_order_and_names() -> None:
    planned = variants("all")
    assert [f for _, f, _ in planned[: len(FIX_NAMES) + 1]] == cumulative()
    assert planned[0][1] == () and planned[len(FIX_NAMES)][1] == FIX_NAMES
    assert [f for k, f, _ in planned if k == "alone"] == [(n,) for n in FIX_NAMES]
    assert [lv for k, _, lv in planned if k == "levels"] == ["MEMORY_ONLY", "DISK_ONLY"]


def test_shares_sum_to_the_whole_gain_and_alone_is_against_slow() -> None:
    walls = [100, 80, 70, 72, 50, 45, 40, 30, 25]  # one step slower than the one before: a negative share
    rows = [_row("cumulative", fixes, wall) for fixes, wall in zip(cumulative(), walls, strict=True)]
    rows.append(_row("alone", ("broadcast",), 40, {"weekly_sales": "other"}))
    shares(rows)
    steps = rows[1 : len(walls)]
    assert abs(sum(r["share"] for r in steps) - 1) < 1e-2
    assert rows[3]["saved_s"] == -2 and rows[3]["share"] < 0
    assert rows[-2]["x_slow"] == 4.0 and rows[-1]["x_slow"] == 2.5
    assert rows[-2]["equal"] is True and rows[-1]["equal"] is False


def test_a_stopped_lab_marks_what_it_did_not_run() -> None:
    planned = variants("cumulative,alone")
    rows = [_row("cumulative", (), 100.0), _row("cumulative", ("parquet",), 60.0)]
    shares(rows)
    meta = {"size": "100MB", "fact_rows": 1000, "window": "a..b", "command": "make lab-tuning", "when": "now",
            "cpus": 2, "load_before": [1.0], "load_after": [1.0]}  # fmt: skip
    text = markdown(meta, rows, planned)
    assert text.count("| not run |") == len(planned) - 2
    assert "| cumulative | parquet | MEMORY_AND_DISK | ok | 60.0 | 1.67 |" in text
