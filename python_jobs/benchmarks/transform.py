"""`make bench-transform`: dbt and SQLMesh over the same raw days, wall time side by side.

For each scale (default 1 and 10) the raw data of DAYS simulated days is generated and ingested once (cached under
data/bench/transform/), then, each tool on its own copy of that raw-only warehouse:
- day by day as the pipeline does: dbt `build` with the day in its environment (GROCERY_RUN_DATE);
  SQLMesh `plan --auto-apply --execution-time` on day 1 and a pinned-clock run afterwards
  (python -m python_jobs.sqlmesh_step);
- a no-change `sqlmesh plan` (what a learner types when nothing changed);
- a full refresh at the last day: `dbt build --full-refresh` and, its SQLMesh twin, a restatement of every
  model except the SCD2 history (which neither tool rebuilds: dbt's --full-refresh leaves snapshots alone,
  SQLMesh's SCD2 kinds refuse restatement);
- dbt's floor, after the marts are compared: the next day's build with nothing new loaded (its twin of the
  no-change plan: what any dbt day costs before it reads a new row).
Every command runs in a fresh process measured by python_jobs/benchmarks/measure.py (wall, CPU, peak RSS of the
process tree), so start-up and project parsing count, as they do for a user.

Backends: DuckDB, and PostgreSQL (python_jobs/postgres/bench.py: a throwaway server, one fresh database per
tool filled by the project's loader). A backend is a name plus the environment/arguments that point both tools
at its warehouse.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from python_jobs.benchmarks.backends import BACKENDS, DUCKDB, Backend
from python_jobs.benchmarks.measure import Measurement, measure
from python_jobs.config import REPO_ROOT, TELEMETRY_OFF, Settings, load_settings
from python_jobs.orchestration import day_steps, dbt_day_env, run_step
from python_jobs.parity import compare_relations
from python_jobs.parity.marts import DBT_SCHEMA, SHARED_MARTS, SQLMESH_SCHEMA
from python_jobs.sqlmesh_step import execution_time_for

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()

BIN = Path(sys.executable).parent
DBT_PROJECT = REPO_ROOT / "dbt_project"
SQLMESH_PROJECT = REPO_ROOT / "sqlmesh_project"
FLOOR = "day {day}, nothing new loaded"
# Everything the dbt full refresh rebuilds has a SQLMesh twin in these schemas; snapshots are left alone.
RESTATED = ["sqlmesh_intermediate.*", "sqlmesh_marts.*"]


@dataclass(frozen=True)
class Row:
    scale: float
    backend: str
    tool: str
    what: str
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    # dbt only: the sum of its nodes' execution times (run_results.json), i.e. the warehouse work without
    # start-up and parsing. None for SQLMesh, whose CLI reports no per-model timings.
    node_seconds: float | None = None
    model_seconds: float | None = None  # dbt only: the models' share of node_seconds (no tests, no snapshots)
    fct_orders_seconds: float | None = None  # dbt only: the incremental fact table's own model


def raw_warehouse(settings: Settings, days: int) -> Path:
    """Generate + ingest days 1..days once per (scale, seed); returns the raw-only warehouse.

    The cache grows: asking for more days than it holds generates only the missing ones (the generator and the
    ingest are seeded and run day after day, so day 31 added later is the day 31 of a 60-day run). Asking for
    fewer starts again: later days would be visible to the source tests and to SQLMesh's load signal."""
    folder = settings.data_dir
    marker = folder / "raw-days.txt"
    have = int(marker.read_text()) if marker.exists() else 0
    if have > days or (have == 0 and folder.exists()):
        shutil.rmtree(folder, ignore_errors=True)
        have = 0
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "prepare.log"
    for day in range(have + 1, days + 1):
        with console.status(f"scale {settings.scale:g}: generating and ingesting day {day}/{days}"):
            for step in day_steps(settings, day, settings.warehouse_path, only=("generate", "ingest")):
                run_step(step, log)
        marker.write_text(str(day))
    return settings.warehouse_path


class Runner:
    """Runs and records the measured commands of one (scale, backend)."""

    def __init__(self, scale: float, backend: Backend, work: Path) -> None:
        self.scale, self.backend, self.work = scale, backend, work
        self.rows: list[Row] = []
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            **TELEMETRY_OFF,
            "DBT_TARGET_PATH": str(work / "dbt-target"),
            "DBT_LOG_PATH": str(work / "dbt-logs"),
            "DBT_PROFILES_DIR": str(REPO_ROOT / "profiles"),
            **backend.env(work),
        }

    def run(
        self,
        tool: str,
        what: str,
        command: list[str],
        cwd: Path,
        node_seconds: Callable[[], tuple[float, float, float]] | None = None,
        env: dict[str, str] | None = None,
    ) -> Measurement:
        with console.status(f"scale {self.scale:g} · {self.backend.name} · {tool}: {what}"):
            result = measure(command, cwd=cwd, env={**self.env, **(env or {})})
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {what} failed:\n{result.output[-4000:]}")
        self.rows.append(
            Row(
                self.scale,
                self.backend.name,
                tool,
                what,
                result.wall_seconds,
                result.cpu_seconds,
                result.peak_rss_mib,
                *(node_seconds() if node_seconds else (None, None, None)),
            )
        )
        return result

    def dbt(self, what: str, *args: str, env: dict[str, str] | None = None) -> None:
        results = self.work / "dbt-target" / "run_results.json"
        results.unlink(missing_ok=True)
        self.run(
            "dbt",
            what,
            [str(BIN / "dbt"), *args, *self.backend.dbt_args],
            DBT_PROJECT,
            lambda: dbt_node_seconds(results),
            env,
        )
        # Each command's per-node times, kept for reading where a run's time went (dbt overwrites its own).
        kept = self.work / "dbt-runs" / f"{re.sub(r'[^a-z0-9]+', '-', what.lower()).strip('-')}.json"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results, kept)

    def sqlmesh(self, what: str, *args: str) -> Measurement:
        return self.run("sqlmesh", what, [str(BIN / "sqlmesh"), *args], SQLMESH_PROJECT)


def dbt_node_seconds(run_results: Path) -> tuple[float, float, float]:
    """Seconds dbt spent executing all nodes (models, snapshots, seeds, tests: its work without start-up and
    parse), executing models only (where incremental and full refresh differ; tests read whole tables), and
    executing fct_orders, the incremental fact table."""
    results = json.loads(run_results.read_text())["results"]
    models = [r for r in results if r["unique_id"].startswith("model.")]
    fct_orders = [r for r in models if r["unique_id"].endswith(".fct_orders")]
    return (
        sum(r["execution_time"] for r in results),
        sum(r["execution_time"] for r in models),
        sum(r["execution_time"] for r in fct_orders),
    )


def bench_scale(settings: Settings, days: int, backend: Backend, backfill_days: int = 1) -> list[Row]:
    """`backfill_days` B: the first build covers days 1..B in one command (a history loaded at once, as when a
    project is adopted on an existing warehouse), then days B+1..days run one at a time."""
    raw = raw_warehouse(settings, days)
    # The first entry is the first build (of days 1..backfill_days), the rest one day each.
    dates = [settings.day_date(d) for d in range(backfill_days, days + 1)]
    work = settings.data_dir / backend.name
    runner = Runner(settings.scale, backend, work)

    def label(d: date) -> str:
        if d != dates[0]:
            return f"day {settings.day_number(d)} (incremental)"
        return (
            "day 1 (first build)"
            if backfill_days == 1
            else f"days 1 to {backfill_days} (first build, one backfill)"
        )

    backend.prepare(raw, work / "dbt")
    runner.env.update(backend.env(work / "dbt"))
    for d in dates:
        # As the pipeline: the first build tests everything it built, each later day only its own rows.
        runner.dbt(label(d), "build", env=dbt_day_env(d, scoped_tests=d != dates[0]))
    runner.dbt(
        f"full refresh at day {days}",
        "build",
        "--full-refresh",
        env=dbt_day_env(dates[-1], scoped_tests=False),
    )

    backend.prepare(raw, work / "sqlmesh")
    runner.env.update(backend.env(work / "sqlmesh"))
    # The SQLMesh cache (parsed models) lives with the run, warm after the first command like a user's.
    runner.env["SQLMESH__CACHE_DIR"] = str(work / "sqlmesh-cache")
    for d in dates:
        when = execution_time_for(d).isoformat(sep=" ")
        if d == dates[0]:
            runner.sqlmesh(label(d), *backend.sqlmesh_args, "plan", "--auto-apply", "--no-prompts", "--skip-tests",
                           "--execution-time", when)  # fmt: skip
        else:
            # `sqlmesh run` has no --execution-time: the pipeline's step pins the clock through the Python API.
            runner.run("sqlmesh", label(d), [sys.executable, "-m", "python_jobs.sqlmesh_step", "--day", d.isoformat(),
                       *(["--warehouse", str(work / "sqlmesh" / "warehouse.duckdb")] if backend is DUCKDB else list(backend.sqlmesh_args))],
                       REPO_ROOT)  # fmt: skip
    last = execution_time_for(dates[-1]).isoformat(sep=" ")
    result = runner.sqlmesh(
        "no-change plan", *backend.sqlmesh_args, "plan", "--no-prompts", "--execution-time", last
    )
    if "No changes to plan" not in result.output:
        raise RuntimeError(f"the no-change plan found changes:\n{result.output[-2000:]}")
    restate = [arg for model in RESTATED for arg in ("--restate-model", model)]
    full = runner.sqlmesh(f"full refresh at day {days}", *backend.sqlmesh_args, "plan", *restate, "--start",
                          settings.day_date(1).isoformat(), "--auto-apply", "--no-prompts", "--skip-tests", "--execution-time",
                          last)  # fmt: skip
    if "sqlmesh_marts.fct_orders" not in full.output:
        raise RuntimeError(f"the SQLMesh full refresh did not rebuild fct_orders:\n{full.output[-2000:]}")
    if backend is DUCKDB:
        check_same_marts(work / "dbt" / "warehouse.duckdb", work / "sqlmesh" / "warehouse.duckdb")
    elif backend.name == "postgres":
        from python_jobs.postgres.bench import check_same_marts_postgres

        check_same_marts_postgres(backend.env(work / "dbt"), backend.env(work / "sqlmesh"))

    # dbt's floor, its twin of the no-change plan: the next day's build when nothing new was loaded. Every node
    # still runs (start-up, parse, ~240 nodes, the lookback windows re-read): no incremental day costs less.
    # After the check above, so it cannot change what was compared.
    runner.env.update(backend.env(work / "dbt"))
    runner.dbt(FLOOR.format(day=days + 1), "build", env=dbt_day_env(dates[-1] + timedelta(days=1)))
    return runner.rows


def check_same_marts(dbt_warehouse: Path, sqlmesh_warehouse: Path) -> None:
    """Both tools did the same work: their marts are equal (two files, so the two-connection comparator)."""
    left, right = (
        duckdb.connect(str(dbt_warehouse), read_only=True),
        duckdb.connect(str(sqlmesh_warehouse), read_only=True),
    )
    try:
        for mart in SHARED_MARTS:
            verdict = compare_relations(left, f"SELECT * FROM {DBT_SCHEMA}.{mart}", right,
                                        f"SELECT * FROM {SQLMESH_SCHEMA}.{mart}", name=mart)  # fmt: skip
            if not verdict.ok:
                raise RuntimeError(f"dbt and SQLMesh disagree on {mart} after the benchmark: {verdict}")
    finally:
        left.close()
        right.close()


def results_table(rows: list[Row]) -> Table:
    columns = sorted({(r.scale, r.backend) for r in rows})
    table = Table(title="dbt vs SQLMesh: wall seconds (CPU seconds) [dbt: seconds executing nodes]")
    table.add_column("tool")
    table.add_column("what")
    for scale, backend in columns:
        table.add_column(f"scale {scale:g} · {backend}", justify="right")
    for tool, what in dict.fromkeys((r.tool, r.what) for r in rows):
        cells = []
        for scale, backend in columns:
            hit = [r for r in rows if (r.tool, r.what, r.scale, r.backend) == (tool, what, scale, backend)]
            node = f" [{hit[0].node_seconds:.1f}]" if hit and hit[0].node_seconds is not None else ""
            cells.append(f"{hit[0].wall_seconds:.1f} ({hit[0].cpu_seconds:.1f}){node}" if hit else "-")
        table.add_row(tool, what, *cells)
    return table


def ratios(rows: list[Row], days: int) -> list[str]:
    """One incremental day (the last) divided by the full refresh at that day, per tool, scale and backend."""
    lines = []
    for scale, backend, tool in sorted({(r.scale, r.backend, r.tool) for r in rows}):
        pick = {r.what: r for r in rows if (r.scale, r.backend, r.tool) == (scale, backend, tool)}
        incremental, full = pick.get(f"day {days} (incremental)"), pick.get(f"full refresh at day {days}")
        if incremental and full:
            line = (
                f"scale {scale:g} · {backend} · {tool}: incremental day {incremental.wall_seconds:.1f}s / full "
                f"refresh {full.wall_seconds:.1f}s = {incremental.wall_seconds / full.wall_seconds:.2f}x wall, "
                f"{incremental.cpu_seconds / full.cpu_seconds:.2f}x CPU"
            )
            if incremental.node_seconds and full.node_seconds:
                line += (
                    f", {incremental.node_seconds / full.node_seconds:.2f}x node time "
                    f"({incremental.node_seconds:.1f}s / {full.node_seconds:.1f}s), "
                    f"{incremental.model_seconds / full.model_seconds:.2f}x model time "
                    f"({incremental.model_seconds:.1f}s / {full.model_seconds:.1f}s), fct_orders "
                    f"{incremental.fct_orders_seconds / full.fct_orders_seconds:.2f}x "
                    f"({incremental.fct_orders_seconds:.2f}s / {full.fct_orders_seconds:.2f}s)"
                )
            floor = pick.get(FLOOR.format(day=days + 1))
            if floor:
                line += (
                    f"; a day with nothing new loaded (the floor) {floor.wall_seconds:.1f}s = "
                    f"{floor.wall_seconds / full.wall_seconds:.2f}x"
                )
            plan = pick.get("no-change plan")
            if tool == "sqlmesh" and plan:
                # A no-change plan is SQLMesh's fixed cost (start-up, project and state load): what is left of
                # a command after it is the work the command did in the warehouse.
                work_inc = incremental.wall_seconds - plan.wall_seconds
                work_full = full.wall_seconds - plan.wall_seconds
                line += (
                    f"; beyond a no-change plan ({plan.wall_seconds:.1f}s): {work_inc:.1f}s / {work_full:.1f}s"
                    + (f" = {work_inc / work_full:.2f}x" if work_full > 0 else "")
                )
            lines.append(line)
    return lines


@app.command()
def main(
    scales: Annotated[str, typer.Option(help="Comma-separated scale factors.")] = "1,10",
    days: Annotated[int, typer.Option(help="Simulated days per scale (>= 2).")] = 3,
    backfill_days: Annotated[
        int,
        typer.Option(
            help="Build days 1..B in one first build, then the rest day by day (a long history, cheaply)."
        ),
    ] = 1,
    backends: Annotated[
        str, typer.Option(help=f"Comma-separated, of: {', '.join([*BACKENDS, 'postgres'])}.")
    ] = "duckdb,postgres",
    data_dir: Annotated[Path | None, typer.Option(help="Folder (default <data>/bench/transform).")] = None,
) -> None:
    """Measure dbt and SQLMesh day by day, a no-change plan and a full refresh, per scale and backend."""
    if days < 2:
        raise typer.BadParameter(
            "need at least 2 days: day 1 is the first build, the last one is incremental"
        )
    if not 1 <= backfill_days < days:
        raise typer.BadParameter("--backfill-days must be at least 1 and below --days")
    settings = load_settings()
    root = (data_dir or settings.data_dir / "bench" / "transform").resolve()
    rows: list[Row] = []
    names = backends.split(",")
    with contextlib.ExitStack() as stack:
        available = dict(BACKENDS)
        if "postgres" in names:
            # A throwaway server for the whole run (python_jobs/postgres), durable like the DuckDB file: fsync on.
            from python_jobs.postgres.bench import postgres_backend
            from python_jobs.postgres.server import throwaway_postgres

            available["postgres"] = postgres_backend(
                stack.enter_context(throwaway_postgres(durable=True, bindir=load_settings().pg_bindir))
            )
        for scale in (float(s) for s in scales.split(",")):
            folder = root / f"scale-{scale:g}-seed-{settings.seed}"
            scaled = settings.with_(
                data_dir=folder, warehouse_path=folder / "raw" / "warehouse.duckdb", scale=scale
            )
            for name in names:
                rows.extend(bench_scale(scaled, days, available[name], backfill_days))
    console.print(results_table(rows))
    console.print(
        f"after each scale, dbt's and SQLMesh's marts were checked equal ({', '.join(SHARED_MARTS)})"
    )
    for line in ratios(rows, days):
        console.print(line)
    load = os.getloadavg()
    console.print(
        f"{os.cpu_count()} cores, load average during the run ended at {load[0]:.1f} / {load[1]:.1f}"
    )
    report = root / "bench-transform.json"
    report.write_text(
        json.dumps(
            {
                "days": days,
                "backfill_days": backfill_days,
                "load_average": load,
                "rows": [asdict(r) for r in rows],
            },
            indent=2,
        )
    )
    console.print(f"figures: {report}")


if __name__ == "__main__":
    app()
