"""The Monte Carlo lab's out-of-core part: an order history bigger than the Dask workers' memory, fitted three ways.

The history has the fit's input schema (order_date, store_id, category_id, item_count, revenue_cents: one row
per day x store x product, like the batch module's product_daily). Its size is the Arrow bytes of those five
columns in memory (36 per row), what an in-memory engine has to hold before it starts. It is generated once per
(size, seed), file by file from a SeedSequence child per file, so it is the same bytes on every machine, and
reused after. The three fits (Dask on a LocalCluster with a memory limit, pandas in a capped subprocess, DuckDB
with a memory_limit) must give the same parameters to the last bit: they all sum integers.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from python_jobs.benchmarks.measure import Measurement, TreeSampler, measure
from python_jobs.compute.fit import Window, fit_pandas, params_from_sums
from python_jobs.config import REPO_ROOT, TELEMETRY_OFF, ComputeSettings

BYTES_PER_ROW = 4 + 4 * 8  # date32 + four int64 columns, as Arrow holds them
STORES = 20
CATEGORIES = 12
DAYS = 364
FIRST_DAY = date(2025, 1, 6)
# ~9 MB as Arrow, several times that while pandas groups it: a partition well inside a 400 MiB worker (whose
# own Python, pandas and pyarrow take ~150 MiB). At 1M rows, 381 MiB workers paused and were restarted.
ROWS_PER_FILE = 250_000
HISTORY_VERSION = 2  # bump when the generator changes: cached histories of another version are rebuilt


@dataclass(frozen=True)
class History:
    folder: Path
    files: list[Path]
    rows: int
    memory_bytes: int  # Arrow bytes of the five columns
    disk_bytes: int
    window: Window


def history_shape(size_bytes: int) -> tuple[int, int]:
    """(products per store, days per file) for a history of about `size_bytes`."""
    products = max(CATEGORIES, round(size_bytes / BYTES_PER_ROW / DAYS / STORES))
    rows_per_day = STORES * products
    # At least 8 files so even a small history has partitions for every worker.
    per_file = min(ROWS_PER_FILE, max(rows_per_day, rows_per_day * DAYS // 8))
    return products, max(1, per_file // rows_per_day)


def ensure_history(root: Path, size_label: str, size_bytes: int, seed: int) -> History:
    """The history of `size_bytes` under `root`, generated the first time (into a temporary folder renamed when
    complete, so a killed generation is never mistaken for a finished one)."""
    folder = root / f"history-{size_label}"
    manifest = folder / "manifest.json"
    want = {"version": HISTORY_VERSION, "size_bytes": size_bytes, "seed": seed}
    if manifest.exists() and json.loads(manifest.read_text()).get("params") == want:
        info = json.loads(manifest.read_text())
    else:
        shutil.rmtree(folder, ignore_errors=True)
        building = root / f".history-{size_label}.building"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        info = {"params": want, **_generate(building, size_bytes, seed)}
        (building / "manifest.json").write_text(json.dumps(info, indent=2))
        building.rename(folder)
    files = [folder / name for name in info["files"]]
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    # A window that drops the first four weeks: the fits' date filters have something to push down.
    return History(
        folder,
        files,
        info["rows"],
        info["memory_bytes"],
        info["disk_bytes"],
        Window(FIRST_DAY + timedelta(28), last),
    )


def _generate(folder: Path, size_bytes: int, seed: int) -> dict:
    products, days_per_file = history_shape(size_bytes)
    # Per store x product: a mean daily demand, a dispersion and a price, drawn once from the seed.
    setup = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(2**31,))))
    mean = setup.lognormal(1.0, 1.0, size=(STORES, products))
    shape = setup.uniform(0.5, 5.0, size=(STORES, products))  # gamma shape: variance = mean + mean^2 / shape
    price = setup.integers(50, 2_000, size=products)
    category = np.arange(products) % CATEGORIES + 1
    files, rows, memory, disk = [], 0, 0, 0
    for index, first in enumerate(range(0, DAYS, days_per_file)):
        days = np.arange(first, min(first + days_per_file, DAYS))
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))
        grid = (len(days), STORES, products)
        units = rng.poisson(rng.gamma(np.broadcast_to(shape, grid), np.broadcast_to(mean / shape, grid)))
        table = pa.table(
            {
                "order_date": pa.array(
                    np.repeat(np.datetime64(FIRST_DAY, "D") + days, STORES * products), pa.date32()
                ),
                "store_id": np.tile(np.repeat(np.arange(1, STORES + 1), products), len(days)),
                "category_id": np.tile(category, len(days) * STORES),
                "item_count": units.reshape(-1),
                "revenue_cents": (units * price).reshape(-1),
            }
        )
        name = f"part-{index:05d}.parquet"
        pq.write_table(table, folder / name, row_group_size=256_000)
        files.append(name)
        rows += table.num_rows
        memory += table.nbytes
        disk += (folder / name).stat().st_size
    return {"files": files, "rows": rows, "memory_bytes": memory, "disk_bytes": disk}


@dataclass
class FitRun:
    engine: str
    status: str  # ok, out of memory, failed (...)
    wall_s: float
    peak_rss_mib: float
    memory_limit: str
    spilled_bytes: int | None = None
    same_params: bool | None = None
    note: str = ""

    def row(self) -> dict:
        return asdict(self)


def _params_path(run_dir: Path, engine: str) -> Path:
    return run_dir / f"params-{engine}.parquet"


def spill_metrics(dask_worker: object) -> dict[str, float]:
    """Run on every worker (`client.run`): bytes written to and read from its spill directory so far, from its
    SpillBuffer's cumulative metrics (distributed/spill.py counts `disk-write` / `disk-read` bytes)."""
    data = getattr(dask_worker, "data", None)
    metrics = getattr(data, "cumulative_metrics", {})
    return {
        "written": float(metrics.get(("disk-write", "bytes"), 0.0)),
        "read": float(metrics.get(("disk-read", "bytes"), 0.0)),
    }


def fit_with_dask(
    history: History,
    run_dir: Path,
    reports: Path,
    settings: ComputeSettings,
    memory_limit: str,
    say: Callable[[str], None],
    timeout_s: float = 900.0,
) -> FitRun:
    """The Dask fit on a fresh LocalCluster whose workers are limited to `memory_limit` each; its
    performance_report (HTML, inline resources: it opens offline) and a picture of the graph on two files."""
    import dask
    from distributed import performance_report

    from python_jobs.compute.dask.cluster import dask_client
    from python_jobs.compute.dask.fit import fit_dask, fit_graph

    spill_dir = run_dir / "dask-spill"
    started = time.perf_counter()
    with (
        TreeSampler() as sampler,
        dask_client(settings, local_directory=spill_dir, memory_limit=memory_limit) as client,
    ):
        start_s = time.perf_counter() - started
        if settings.dashboards:
            say(f"Dask dashboard (fit): {client.dashboard_link}")
        before = client.run(spill_metrics)
        t0 = time.perf_counter()
        # A watchdog: workers that all pause (unmanaged memory above 80 % of the limit, never released) wait
        # forever. After `timeout_s` the run is recorded as stopped and the cluster closed.
        with (
            performance_report(filename=str(reports / "dask-fit-report.html"), mode="inline"),
            ThreadPoolExecutor(1) as thread,
        ):
            running = thread.submit(fit_dask, client, history.files, history.window)
            try:
                params = running.result(timeout=timeout_s)
            except TimeoutError:
                client.close()
                return FitRun(
                    "dask",
                    f"stopped at the {timeout_s:.0f} s limit",
                    timeout_s,
                    round(sampler.peak_rss_mib, 1),
                    f"{settings.workers} x {memory_limit}",
                    note="workers paused or restarting: see the log",
                )
        wall = time.perf_counter() - t0
        after = client.run(spill_metrics)
        # The graph as this cluster runs it (with a client, Dask picks its shuffle method for the cluster), on
        # two files; `.optimize()` first: the expressions are lowered to tasks only then.
        # Drawing needs Graphviz's `dot` (an OS package, not a wheel): without it the lab goes on, and says so.
        if shutil.which("dot"):
            bad, sums = fit_graph(history.files[:2], history.window, split_out=2)
            dask.visualize(bad.optimize(), sums.optimize(), filename=str(reports / "dask-fit-graph.png"))
        else:
            print("no task-graph picture: Graphviz's `dot` is not installed (apt install graphviz)")
    spilled = int(sum(after[w]["written"] - before.get(w, {}).get("written", 0.0) for w in after))
    params.to_parquet(_params_path(run_dir, "dask"))
    return FitRun(
        "dask",
        "ok",
        round(wall, 2),
        round(sampler.peak_rss_mib, 1),
        f"{settings.workers} x {memory_limit}",
        spilled,
        note=f"cluster start {start_s:.1f} s (not in the time)",
    )


def fit_in_child(engine: str, history: History, run_dir: Path, memory_gib: float, threads: int) -> FitRun:
    """pandas or DuckDB in a fresh process (`measure`: wall time, peak RSS of the process)."""
    command = [
        sys.executable,
        "-c",
        "import sys; from python_jobs.labs.montecarlo_fit import child_main; sys.exit(child_main(sys.argv[1:]))",
        engine,
        str(history.folder),
        history.window.first.isoformat(),
        history.window.last.isoformat(),
        str(_params_path(run_dir, engine)),
        str(memory_gib),
        str(threads),
    ]
    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", **TELEMETRY_OFF}
    m: Measurement = measure(command, cwd=REPO_ROOT, env=env, poll_seconds=0.1)
    if m.returncode == 0:
        status = "ok"
    elif "MemoryError" in m.output or "Out of Memory" in m.output or m.returncode in (-9, 137, 3):
        status = "out of memory"
    else:
        status = f"failed ({m.returncode}): {m.output.strip().splitlines()[-1:] or ''}"
    limit = f"{memory_gib:g} GiB address space" if engine == "pandas" else f"memory_limit {memory_gib:g} GiB"
    return FitRun(engine, status, round(m.wall_seconds, 2), round(m.peak_rss_mib, 1), limit)


def child_main(argv: list[str]) -> int:
    engine, folder, first, last, out, memory_gib, threads = argv
    window = Window(date.fromisoformat(first), date.fromisoformat(last))
    files = sorted(Path(folder).glob("part-*.parquet"))
    cap = int(float(memory_gib) * 2**30)
    try:
        if engine == "pandas":
            # An address-space cap: running out of memory is a clean MemoryError, not the OOM killer.
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            params = fit_pandas(files, window)
        else:
            params = _fit_duckdb(files, window, memory_gib, int(threads), Path(out).parent / "duckdb-tmp")
    except MemoryError:
        print("MemoryError: out of memory", flush=True)
        return 3
    params.to_parquet(out)
    return 0


def _fit_duckdb(
    files: list[Path], window: Window, memory_gib: float, threads: int, temp: Path
) -> pd.DataFrame:
    """The same integer sums as one SQL query (DuckDB spills its hash tables to `temp` above memory_limit)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_gib}GiB'")
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET temp_directory = '{temp.as_posix()}'")
    source = f"read_parquet({[str(f) for f in files]!r})"
    where = "order_date BETWEEN ? AND ?"
    bad = con.execute(
        f"SELECT count(*) FROM {source} WHERE {where} AND (item_count < 0 OR revenue_cents < 0)",
        [window.first, window.last],
    ).fetchone()[0]
    if bad:
        raise ValueError(f"{bad} row(s) with a negative item_count or revenue_cents")
    sums = con.execute(
        f"""
        WITH daily AS (
            SELECT order_date, store_id, category_id,
                   sum(item_count)::BIGINT AS units, sum(revenue_cents)::BIGINT AS revenue_cents
            FROM {source} WHERE {where}
            GROUP BY order_date, store_id, category_id
        )
        SELECT store_id::BIGINT AS store_id, category_id::BIGINT AS category_id,
               count(*)::BIGINT AS sales_days, sum(units)::BIGINT AS units,
               sum(units * units)::BIGINT AS units_sq, sum(revenue_cents)::BIGINT AS revenue_cents
        FROM daily GROUP BY store_id, category_id
        """,
        [window.first, window.last],
    ).df()
    return params_from_sums(sums, window)


def compare_params(run_dir: Path, runs: list[FitRun]) -> None:
    """Every finished fit's parameters against pandas' (else DuckDB's): equal to the last bit, or not."""
    done = {r.engine: pd.read_parquet(_params_path(run_dir, r.engine)) for r in runs if r.status == "ok"}
    reference = done.get("pandas", done.get("duckdb"))
    for r in runs:
        if r.engine in done and reference is not None:
            r.same_params = bool(
                done[r.engine].reset_index(drop=True).equals(reference.reset_index(drop=True))
            )
