"""The benchmark harness: a time limit stops the whole process tree and is reported as such."""

from __future__ import annotations

import sys
import time

import psutil

from python_jobs.benchmarks.measure import measure
from python_jobs.labs.batch import engine_status, write_report

# A parent that starts a child and waits on it, as the Spark driver's Python process starts its JVM.
_PARENT_AND_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print('child', child.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def test_time_limit_kills_the_whole_tree_and_says_so():
    started = time.perf_counter()
    m = measure([sys.executable, "-c", _PARENT_AND_CHILD], timeout_seconds=2.0, poll_seconds=0.05)
    assert m.timed_out and m.returncode != 0
    assert 2.0 <= m.wall_seconds < 30
    assert time.perf_counter() - started < 60
    child = int(next(line for line in m.output.splitlines() if line.startswith("child")).split()[1])
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    assert engine_status(m, {}).startswith("stopped at the")


def test_no_limit_runs_to_the_end():
    m = measure([sys.executable, "-c", "print('done')"])
    assert not m.timed_out and m.returncode == 0 and "done" in m.output
    assert engine_status(m, {}) == "ok"


def test_a_decimal_size_keeps_its_report_name(tmp_path):
    # `lab-0.5GB`: Path.with_suffix took ".5GB" for a suffix and wrote lab-0.md / lab-0.png.
    row = {"engine": "duckdb", "ok": True, "status": "ok", "wall_s": 1.0, "cpu_s": 1.0, "peak_rss_mib": 10.0}
    row |= {"spilled_bytes": None, "checksum": "x"}
    write_report([row], "0.5gb", 1_000, (0.0, 0.0, 0.0), tmp_path / "lab-0.5GB", "make lab-batch SIZE=0.5GB")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab-0.5GB.json", "lab-0.5GB.md", "lab-0.5GB.png"]
