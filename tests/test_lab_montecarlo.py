"""The Monte Carlo lab at a tiny size: NumPy, one parallel engine and the out-of-core fit write their report and
charts, and the figures are sane: every engine's bits equal NumPy's, the estimate is within 4 standard errors of
the closed form, the three fits give the same parameters."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from tests.conftest import run_module


def test_lab_montecarlo_writes_a_sane_report(tmp_path: Path) -> None:
    # Ray is left out (its start-up alone is seconds); Dask still runs, for the fit. A short private folder
    # for the processes' temporary files, as other jobs on this machine may run their own clusters.
    scratch = Path(tempfile.mkdtemp(prefix="mc", dir="/tmp"))
    reports = tmp_path / "reports"
    started = time.perf_counter()
    try:
        proc = run_module(
            "python_jobs.labs.montecarlo",
            *(
                "--size",
                "1e5",
                "--workers",
                "2",
                "--engines",
                "numpy,processes",
                "--chunks",
                "16384",
                "--repeats",
                "1",
            ),
            *("--fit-size", "4MB", "--fit-memory", "350MiB", "--no-dashboards", "--out", str(reports)),
            env={"GROCERY_DATA_DIR": str(tmp_path / "data"), "RAY_TMPDIR": str(scratch)},
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert time.perf_counter() - started < 120, "the smoke run should take well under a minute"
    for name in ("report.md", "report.json", "throughput.png", "amdahl.png", "convergence.png"):
        assert (reports / name).stat().st_size > 0, name
    assert (reports / "dask-fit-report.html").stat().st_size > 0
    # The graph picture needs Graphviz's `dot`, an OS package: .ci/run installs it and says so.
    if shutil.which("dot") or os.environ.get("GROCERY_REQUIRE_GRAPHVIZ") == "1":
        assert (reports / "dask-fit-graph.png").stat().st_size > 0
    assert not list(tmp_path.glob(".reports-staging-*")), "the staging folder is removed once published"
    summary = json.loads((reports / "report.json").read_text())
    assert summary["identical"] is True
    assert "Bit-identical across engines: yes" in (reports / "report.md").read_text()
    assert summary["convergence"]["worst_z"] < 4
    assert {e["engine"] for e in summary["engines"]} == {"numpy", "processes"}
    assert all(e["paths_per_s"] > 0 and e["peak_rss_mib"] > 0 for e in summary["engines"])
    assert 0 < summary["rng"]["simulation_share"] <= 1.5
    fits = {f["engine"]: f for f in summary["fit"]["runs"]}
    assert set(fits) == {"dask", "pandas", "duckdb"}
    assert all(f["status"] == "ok" and f["same_params"] is True for f in fits.values())
    assert fits["dask"]["spilled_bytes"] is not None
    assert "bit-identical: True" in proc.stdout
