"""Helpers the compute fault and cluster tests share; test support, not product code.

The workload is small (a few series, 20 000 paths in blocks of 1 024) so that a test's time goes into starting
and killing real processes, not into the kernel. Functions that run on a Ray or Dask worker live here, at module
level, so the workers import them by name (tests.compute_support): every cluster these tests start puts the
project's root on PYTHONPATH.

Run as a script, this module is the driver of a Ray cluster started elsewhere (`ray start --head`): it connects
with GROCERY_RAY_ADDRESS, runs the simulation on a Ray engine and prints the totals as JSON.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

if __name__ == "__main__":  # run as a script: the project's root is not on sys.path yet
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from python_jobs.compute.engines import SimulationJob, simulate
from python_jobs.compute.kernel import Task, TaskResult, Totals, run_task
from python_jobs.compute.model import Series, SimulationSpec
from python_jobs.config import REPO_ROOT, TELEMETRY_OFF, ComputeSettings, load_compute_settings

BIN = Path(sys.executable).parent  # the venv's bin: dask, ray
SPEC = SimulationSpec(paths=20_000, seed=20261204, block_paths=1024)
CHUNK_PATHS = 2048  # 10 tasks per series, the last one a short block
# PYTHONPATH of every worker these tests start: the project (and with it tests.compute_support).
WORKER_PYTHONPATH = str(REPO_ROOT)


def series() -> Series:
    """Three series, one of each kind: Poisson with reorders, over-dispersed with reorders, a fixed stock."""
    return Series.from_frame(
        pd.DataFrame(
            {
                "store_id": [1, 1, 2],
                "category_id": [3, 7, 3],
                "mean_daily_units": [4.0, 2.5, 6.0],
                "var_daily_units": [4.0, 9.0, 6.0],
                "unit_price_cents": [250, 1199, 89],
                "reorder_point": [8, 5, -1],
                "order_up_to": [28, 18, 40],
            }
        )
    )


def job(settings: ComputeSettings | None = None, progress=None) -> SimulationJob:
    settings = settings or ComputeSettings(workers=2)
    if progress is None:
        return SimulationJob(SPEC, series(), CHUNK_PATHS, settings)
    return SimulationJob(SPEC, series(), CHUNK_PATHS, settings, progress)


@functools.cache
def numpy_totals() -> tuple[Totals, ...]:
    """The reference: the same job, undisturbed, on the NumPy engine in this process."""
    return tuple(simulate("numpy", job()))


def assert_same_as_numpy(totals: list[Totals]) -> None:
    """No result row lost or doubled: every series has exactly SPEC.paths paths, and every total is NumPy's bit
    for bit."""
    reference = numpy_totals()
    assert len(totals) == len(reference)
    for i, (got, want) in enumerate(zip(totals, reference, strict=True)):
        assert got["paths"] == SPEC.paths, f"series {i}: {got['paths']} paths"
        assert int(got.lost_hist.sum()) == SPEC.paths, f"series {i}: histogram of {got.lost_hist.sum()} paths"
        assert got.same_as(want), f"series {i}: {got.counts} != NumPy's {want.counts}"


def totals_to_json(totals: list[Totals]) -> list[dict[str, list[int]]]:
    return [{"counts": t.counts.tolist(), "lost_hist": t.lost_hist.tolist()} for t in totals]


def totals_from_json(rows: list[dict[str, list[int]]]) -> list[Totals]:
    return [Totals(np.array(r["counts"], np.int64), np.array(r["lost_hist"], np.int64)) for r in rows]


# --- functions run on workers ------------------------------------------------------------------------------


def log_execution(log_dir: str, task: Task, node: str = "-") -> None:
    """One line per execution of `task`, appended by whichever process runs it (O_APPEND: lines never mix)."""
    line = f"{task.series} {task.block_start} {os.getpid()} {node}\n".encode()
    fd = os.open(Path(log_dir) / "executions.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Execution:
    series: int
    block_start: int
    pid: int
    node: str  # the Ray node's id, or "-"


def executions(log_dir: Path) -> list[Execution]:
    """Every logged execution, in the order they started."""
    log = log_dir / "executions.log"
    if not log.exists():
        return []
    rows = (line.split() for line in log.read_text().splitlines())
    return [Execution(int(s), int(b), int(pid), node) for s, b, pid, node in rows]


def counted_run_task(log_dir: str, spec: SimulationSpec, series: Series, task: Task) -> TaskResult:
    """The kernel's task, logged with the Ray node it runs on: counting the lines tells how often Ray ran (or
    re-ran) each task, and where."""
    import ray

    log_execution(log_dir, task, ray.get_runtime_context().get_node_id())
    return run_task(spec, series, task)


def crash_once_run_task(
    log_dir: str, crash: list[Task], spec: SimulationSpec, series: Series, task: Task
) -> TaskResult:
    """The kernel's task, but the first execution of each task in `crash` SIGKILLs its own worker process
    (no exception, no cleanup: the process is gone, as after an OOM kill). A marker file created with O_EXCL
    remembers that it did, so the retry runs normally."""
    log_execution(log_dir, task)
    if task in crash:
        marker = Path(log_dir) / f"crashed-{task.series}-{task.block_start}"
        try:
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            pass
        else:
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
    return run_task(spec, series, task)


# --- processes ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **TELEMETRY_OFF, "PYTHONPATH": WORKER_PYTHONPATH, **extra}


def descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_tree(proc: subprocess.Popen, *, graceful: float = 0.0) -> None:
    """Stop `proc`, every process below it and its process group: SIGTERM first if `graceful` (seconds to wait),
    then SIGKILL for whatever is left. Safe to call on a process that is already gone."""
    pids = [proc.pid, *descendants(proc.pid)]
    if graceful and proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(graceful)
    pids += [p for p in descendants(proc.pid) if p not in pids]
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # started with start_new_session: its group is its pid
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def processes_mentioning(text: str) -> list[int]:
    """Pids of this user's processes whose command line contains `text` (a temp dir only our cluster uses)."""
    import psutil

    found = []
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        with contextlib.suppress(psutil.Error):
            if p.info["status"] != psutil.STATUS_ZOMBIE and text in " ".join(p.info["cmdline"] or ()):
                found.append(p.info["pid"])
    return found


@dataclass
class DaskCluster:
    """`dask scheduler` and `dask worker`s, each its own process (group), started from the venv's CLIs."""

    address: str
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen]  # by worker name

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker's process group: its nanny and the worker process, with no goodbye to the
        scheduler, as if its machine had died."""
        proc = self.workers[name]
        pids = [proc.pid, *descendants(proc.pid)]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)


@contextlib.contextmanager
def dask_cluster(tmp: Path, n_workers: int = 2) -> Iterator[DaskCluster]:
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    # A transition log long enough for the whole run, so the scheduler can tell what it recomputed.
    env = worker_env(DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH="100000")
    logs = tmp / "dask-logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        with open(logs / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                [str(BIN / "dask"), *args],
                env=env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(proc)
        return proc

    try:
        scheduler = start(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"
        )
        workers = {
            f"w{i}": start(
                f"w{i}",
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nworkers",
                "1",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--name",
                f"w{i}",
                "--local-directory",
                str(tmp / f"dask-w{i}"),
            )
            for i in range(n_workers)
        }
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(n_workers, timeout=90)
        yield DaskCluster(address, scheduler, workers)
    finally:
        for proc in reversed(procs):
            kill_tree(proc)


def scheduler_transitions(dask_scheduler, prefix: str = "simulate-") -> list[tuple[str, str, str, str]]:
    """Run on the scheduler: (key, start, finish, stimulus_id) of every transition of the simulation's keys."""
    return [
        (str(t[0]), t[1], t[2], t[4]) for t in dask_scheduler.transition_log if str(t[0]).startswith(prefix)
    ]


def keys_in_memory(dask_scheduler, prefix: str = "simulate-") -> dict[str, list[str]]:
    """Run on the scheduler: the simulation's keys held in memory, by worker name."""
    return {
        str(ws.name): sorted(str(ts.key) for ts in ws.has_what if str(ts.key).startswith(prefix))
        for ws in dask_scheduler.workers.values()
    }


@dataclass
class RayHead:
    address: str
    temp_dir: Path
    proc: subprocess.Popen
    env: dict[str, str]  # for a process that talks to this head: its auth token


@contextlib.contextmanager
def ray_head(temp_dir: Path, num_cpus: int = 2) -> Iterator[RayHead]:
    """`ray start --head --block` in its own process group, every port free-picked (no clash with another Ray on
    this machine), its own short --temp-dir (Ray's socket paths are length-limited). Stopped by SIGTERM to the
    `ray start` process (which shuts its node down), then SIGKILL to anything of it left: never `ray stop`, which
    would stop every Ray on the machine."""
    # Token authentication on, with a token of this head's own: not ~/.ray/auth_token, which every Ray of this
    # user on the machine shares.
    env = worker_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    port = free_port()
    ports = {
        "--node-manager-port": free_port(),
        "--object-manager-port": free_port(),
        "--ray-client-server-port": free_port(),
        "--dashboard-agent-listen-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--metrics-export-port": free_port(),
        "--runtime-env-agent-port": free_port(),
    }
    log = open(temp_dir.parent / f"{temp_dir.name}-ray-start.log", "wb")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(
        [
            str(BIN / "ray"),
            "start",
            "--head",
            "--block",
            "--port",
            str(port),
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            str(num_cpus),
            "--include-dashboard=false",
            "--disable-usage-stats",
            "--temp-dir",
            str(temp_dir),
            *(str(x) for kv in ports.items() for x in kv),
        ],
        env=env,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    try:
        wait_for_ray_head(address, proc, env, timeout=90)
        yield RayHead(address, temp_dir, proc, env)
    finally:
        kill_tree(proc, graceful=15)
        for pid in processes_mentioning(str(temp_dir)):  # a worker that outlived its raylet
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)  # the session's logs and sockets
        Path(log.name).unlink(missing_ok=True)


def wait_for_ray_head(address: str, proc: subprocess.Popen, env: dict[str, str], timeout: float) -> None:
    """Until the head's GCS answers and its node is alive (`ray status` exits 0)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited with {proc.returncode}")
        status = subprocess.run(
            [str(BIN / "ray"), "status", "--address", address],
            env=env,
            capture_output=True,
            timeout=60,
        )
        if status.returncode == 0 and b"node_" in status.stdout:
            return
        time.sleep(1)
    tail = (status.stdout + status.stderr)[-2000:].decode(errors="replace")
    raise TimeoutError(f"the Ray head at {address} did not come up in {timeout} s; ray status said:\n{tail}")


def run_driver(args: list[str], env: dict[str, str], timeout: float = 150) -> dict:
    """This module as a script in a fresh interpreter; its last stdout line is JSON."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, (
        f"driver failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    """`ray-driver ENGINE`: the simulation on the Ray cluster at GROCERY_RAY_ADDRESS, as the pipeline would run
    it (settings from the environment)."""
    import ray

    command, engine = argv
    assert command == "ray-driver", command
    settings = load_compute_settings()
    assert settings.ray_address, "GROCERY_RAY_ADDRESS is not set"
    try:
        totals = simulate(engine, job(settings))
        context = ray.get_runtime_context()
        print(
            json.dumps(
                {
                    "totals": totals_to_json(totals),
                    "gcs_address": context.gcs_address,
                    "nodes": len([n for n in ray.nodes() if n["Alive"]]),
                    "cpus": ray.cluster_resources().get("CPU", 0),
                }
            )
        )
    finally:
        ray.shutdown()


def small_series() -> Series:
    """Three series: the closed-form scenario (Poisson, fixed stock), an overdispersed one with a reorder
    policy, and one that never sold (mean 0)."""
    return Series.from_frame(
        pd.DataFrame(
            {
                "store_id": [1, 1, 2],
                "category_id": [1, 2, 1],
                "mean_daily_units": [5.0, 5.0, 0.0],
                "var_daily_units": [5.0, 12.0, 0.0],
                "unit_price_cents": [250, 300, 100],
                "reorder_point": [-1, 10, 0],
                "order_up_to": [38, 40, 0],
            }
        )
    )


def write_history(data_dir: Path, first: date, days: int, *, seed: int = 1, stores: int = 3) -> list[Path]:
    """A published product_daily history as the batch job leaves it: runs/<D>/product_daily/day=<d>/ for
    every run day D and its order days D-3..D (each run rewrites them), seeded."""
    rng = np.random.default_rng(seed)
    files = []
    for run in range(days):
        run_day = first + timedelta(days=run)
        for back in range(min(run, 3) + 1):
            order_day = run_day - timedelta(days=back)
            rows = [
                (order_day, store, product, 1 + product % 3, int(rng.integers(1, 40)))
                for store in range(1, stores + 1)
                for product in range(1, 7)
                if rng.random() < 0.8
            ]
            frame = pd.DataFrame(
                rows, columns=["order_date", "store_id", "product_id", "category_id", "item_count"]
            )
            frame["revenue_cents"] = frame["item_count"] * (150 + 10 * frame["product_id"])
            folder = data_dir / "batch" / "spark" / "runs" / run_day.isoformat() / "product_daily"
            folder = folder / f"day={order_day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "part-00000.parquet"
            frame.to_parquet(path, index=False)
            files.append(path)
    return files


if __name__ == "__main__":
    main(sys.argv[1:])
