"""The orchestration on its own: the plan as data, the runner's ordering, the lock and the atomic publish.

The runner is exercised with real processes (small Python commands that record when they ran), not with the
engines: what is under test is when steps start and what a failure or a kill leaves behind.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from python_jobs.checksums import table_checksums
from python_jobs.config import REPO_ROOT, Settings
from python_jobs.orchestration import PIPELINE, STEP_NAMES, Step, pipeline_lock, plan, publish, run_steps
from python_jobs.orchestration.lock import PipelineBusyError, clear_stale_builds
from python_jobs.orchestration.steps import conflicts
from tests.conftest import run_module


def _recording(name: str, log: Path, *, reads=(), writes=(), sleep: float = 0.3, fail: bool = False) -> Step:
    """A step that appends its start and end times to `log` (one JSON line each) and sleeps in between."""
    code = (
        "import json, sys, time\n"
        f"log = open({str(log)!r}, 'a')\n"
        f"log.write(json.dumps([{name!r}, 'start', time.time()]) + '\\n'); log.flush()\n"
        f"time.sleep({sleep})\n"
        f"log.write(json.dumps([{name!r}, 'end', time.time()]) + '\\n'); log.flush()\n"
        f"sys.exit({1 if fail else 0})\n"
    )
    return Step(name, (sys.executable, "-c", code), reads=tuple(reads), writes=tuple(writes))


def _spans(log: Path) -> dict[str, tuple[float, float]]:
    events: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        name, what, at = json.loads(line)
        events.setdefault(name, {})[what] = at
    return {name: (e["start"], e.get("end", float("inf"))) for name, e in events.items()}


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_resources_conflict_by_prefix() -> None:
    gen = Step("generate", ("x",), writes=("landing/2026-01-05",))
    ingest = Step("ingest", ("x",), reads=("landing",), writes=("warehouse",))
    flink = Step("flink", ("x",), writes=("streaming/2026-01-05",))
    dbt = Step("dbt", ("x",), writes=("warehouse",))
    assert conflicts(gen, ingest)  # writes what it reads
    assert conflicts(ingest, dbt)  # both write the warehouse
    assert not conflicts(gen, flink)
    assert not conflicts(Step("a", ("x",), reads=("landing",)), Step("b", ("x",), reads=("landing",)))
    assert not conflicts(Step("a", ("x",), writes=("landing-old",)), Step("b", ("x",), reads=("landing",)))


def test_the_runner_runs_unrelated_steps_side_by_side_and_never_conflicting_ones(tmp_path: Path) -> None:
    log = tmp_path / "spans.jsonl"
    steps = [
        _recording("gen", log, writes=("landing",)),
        _recording("flink", log, writes=("streaming",), sleep=1.0),
        _recording("ingest", log, reads=("landing",), writes=("warehouse",)),
        _recording("load", log, reads=("streaming",), writes=("warehouse",)),
        _recording("dbt", log, writes=("warehouse",)),
    ]
    results = run_steps(steps, tmp_path / "logs", jobs=2)
    assert sorted(r.step for r in results) == sorted(s.name for s in steps)
    spans = _spans(log)
    assert _overlap(spans["gen"], spans["flink"])  # nothing between them: they ran at once
    assert spans["ingest"][0] >= spans["gen"][1]
    assert spans["load"][0] >= max(spans["flink"][1], spans["ingest"][1])
    assert spans["dbt"][0] >= spans["load"][1]  # the plan's order among writers of one resource is kept
    for a in steps:
        for b in steps:
            if a is not b and conflicts(a, b):
                assert not _overlap(spans[a.name], spans[b.name]), (a.name, b.name)


def test_one_job_runs_the_plan_in_order(tmp_path: Path) -> None:
    log = tmp_path / "spans.jsonl"
    steps = [_recording(f"s{i}", log, writes=(f"r{i}",), sleep=0.05) for i in range(4)]
    run_steps(steps, tmp_path / "logs", jobs=1)
    spans = _spans(log)
    starts = [spans[s.name][0] for s in steps]
    assert starts == sorted(starts)
    assert all(spans[f"s{i}"][1] <= spans[f"s{i + 1}"][0] for i in range(3))


def test_a_failure_stops_later_steps_and_says_where(tmp_path: Path) -> None:
    log = tmp_path / "spans.jsonl"
    steps = [
        _recording("ok", log, writes=("a",)),
        _recording("broken", log, writes=("b",), fail=True),
        _recording("after", log, reads=("b",), writes=("c",)),
    ]
    with pytest.raises(subprocess.CalledProcessError) as failure:
        run_steps(steps, tmp_path / "logs", jobs=2)
    assert failure.value.cmd == "broken"
    assert "broken" in failure.value.output  # the tail of its log
    assert "after" not in _spans(log)


def test_the_plan_declares_every_step_and_keeps_the_days_in_order(settings: Settings) -> None:
    steps = plan(settings, range(1, 4), settings.warehouse_path)
    # Run-wide entries give one step; a run of per-day entries gives its steps day after day, in place.
    assert [e.name for e in PIPELINE] == list(STEP_NAMES)
    assert [s.name for s in steps] == [
        *("generate", "flink replay", "ingest", "spark batch", "monte carlo", "geo"),
        *("load sensors", "load batch", "load compute") * 3,
        *("load geo", "dbt build", "sqlmesh"),
    ]
    # The geo map is static for a run: its step and its load serve every day at once.
    per_day = {"load sensors", "load batch", "load compute"}
    assert all(len(s.days) == (1 if s.name in per_day else 3) for s in steps)
    for step in steps:
        assert step.writes, f"{step.name} declares nothing it writes"
        assert step.days
    days = [s.days[0] for s in steps if len(s.days) == 1]
    assert days == sorted(days)
    # Every step that touches the warehouse waits for the one before it: one writer at a time, day after day.
    writers = [s for s in steps if "warehouse" in s.writes]
    assert all(conflicts(a, b) for a, b in itertools.pairwise(writers))
    only = plan(settings, [2], settings.warehouse_path, only=("generate", "ingest"))
    assert [(s.name, s.days) for s in only] == [
        ("generate", (settings.day_date(2),)),
        ("ingest", (settings.day_date(2),)),
    ]
    with pytest.raises(ValueError, match="no step named"):
        plan(settings, [1], settings.warehouse_path, only=("genrate",))


def test_dry_run_prints_each_step_with_its_command_reads_and_writes(tmp_path: Path) -> None:
    proc = run_module("python_jobs.pipeline", "--dry-run", "--days", "2", "--data-dir", str(tmp_path / "d"))
    out = proc.stdout
    assert "the plan: 15 steps" in out
    for entry in PIPELINE:
        assert f"· {entry.name}" in out
    assert "python_jobs.generate day --day 2026-01-05 --day 2026-01-06" in out
    assert "reads  landing/{2026-01-05, 2026-01-06}" in out and "writes warehouse" in out
    assert "python_jobs.dbt_step --day 2026-01-05 --day 2026-01-06" in out
    assert not (tmp_path / "d" / "warehouse.duckdb").exists()  # nothing ran


def test_a_second_lock_is_refused_and_a_killed_holder_frees_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path\n"
            "from python_jobs.orchestration import pipeline_lock\n"
            f"with pipeline_lock(Path({str(data)!r})):\n"
            "    print('locked', flush=True); time.sleep(600)\n",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert holder.poll() is None  # still holding it when we try
        with pytest.raises(PipelineBusyError, match=f"PID {holder.pid}"), pipeline_lock(data):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The lock file still names the dead PID; the kernel released the lock with the process.
    assert (data / ".pipeline.lock").read_text().strip() == str(holder.pid)
    with pipeline_lock(data):
        assert (data / ".pipeline.lock").read_text().strip() == str(os.getpid())


def test_stale_build_folders_are_cleared_but_not_our_own(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for pid in (1, 999999, os.getpid()):
        (data / "tmp" / f"pipeline-build-{pid}").mkdir(parents=True)
    (data / "tmp" / "spark-local").mkdir()
    removed = clear_stale_builds(data)
    assert sorted(p.name for p in removed) == ["pipeline-build-1", "pipeline-build-999999"]
    assert sorted(p.name for p in (data / "tmp").iterdir()) == [
        f"pipeline-build-{os.getpid()}",
        "spark-local",
    ]


def _warehouse(path: Path, rows: int) -> dict[str, tuple[int, str]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA raw")
    con.execute(f"CREATE TABLE raw.t AS SELECT range AS k, md5(range::VARCHAR) AS v FROM range({rows})")
    con.execute("CREATE TABLE marts.t AS SELECT k % 7 AS g, count(*) AS n FROM raw.t GROUP BY ALL")
    con.close()
    return table_checksums(path, ("raw", "marts"))


def test_a_kill_during_the_publish_leaves_the_old_or_the_new_warehouse(tmp_path: Path) -> None:
    """kill -9 at many instants of `publish` (checkpoint, WAL removal, rename): the published file is always
    one whole warehouse, the old one or the new one, and opens."""
    target = tmp_path / "data" / "warehouse.duckdb"
    old = _warehouse(target, 1_000)
    outcomes = set()
    # Kill later and later (Python's start and DuckDB's import come first, and take longer on a loaded
    # machine) until one kill lands after the rename.
    for attempt in range(40):
        if "new" in outcomes:
            break
        built = tmp_path / f"build-{attempt}" / "warehouse.duckdb"
        new = _warehouse(built, 200_000 + attempt)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from python_jobs.orchestration import publish\n"
                f"publish(Path({str(built)!r}), Path({str(target)!r}))\n",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        time.sleep(0.1 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = table_checksums(target, ("raw", "marts"))
        assert now in (old, new), f"attempt {attempt}: a warehouse that is neither the old nor the new one"
        outcomes.add("new" if now == new else "old")
        old = now
    # The kills landed before and after the rename, so both outcomes were checked.
    assert outcomes == {"old", "new"}


def test_publish_replaces_the_warehouse_in_one_piece(tmp_path: Path) -> None:
    target = tmp_path / "data" / "warehouse.duckdb"
    _warehouse(target, 10)
    built = tmp_path / "build" / "warehouse.duckdb"
    expected = _warehouse(built, 50)
    publish(built, target)
    assert table_checksums(target, ("raw", "marts")) == expected
    assert not built.exists() and not target.with_name(target.name + ".wal").exists()
