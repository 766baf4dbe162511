"""The Monte Carlo lab's engine measurements: throughput by engine, size and chunk; per-task overhead and the
crossover chunk size; the random generator's own throughput (the physical limit); convergence to a closed form.

Every engine runs on a pool or cluster opened once (its start-up timed apart), so the figures are the engines'
steady state. Results of every run are compared to NumPy's at the same size: the same bits, whatever the engine
or chunk size, because each block of paths draws from its own SeedSequence child.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from python_jobs.benchmarks.measure import TreeSampler
from python_jobs.compute.closed_form import poisson_fixed_stock
from python_jobs.compute.engines import SimulationJob, checked_totals
from python_jobs.compute.fit import rule_of_thumb_policy
from python_jobs.compute.kernel import Totals, block_rng, draw_demand, run_tasks
from python_jobs.compute.model import Series, SimulationSpec
from python_jobs.compute.risk import risk_of
from python_jobs.config import ComputeSettings

PARALLEL = ("processes", "ray-tasks", "ray-actors", "dask")
SEED = 20261204
Say = Callable[[str], None]
Backend = Callable[[SimulationJob], list]  # runs a job on an open pool or cluster: its task results
# (engine, job, backend) -> results, with a progress bar around the run: the lab's rich display.
Runner = Callable[[str, SimulationJob, Backend], list]


def noop(x: int = 0) -> int:
    """The empty task whose round trip is an engine's per-task overhead."""
    return x


def lab_series() -> Series:
    """Eight store x category series: Poisson and over-dispersed demand, slow and fast movers, under the
    stores' rule-of-thumb (s, S) policy."""
    mean = np.array([3.0, 8.0, 20.0, 60.0, 2.0, 5.0, 12.0, 40.0])
    fit = pd.DataFrame(
        {
            "store_id": np.repeat([1, 2], 4),
            "category_id": np.tile([1, 2, 3, 4], 2),
            "mean_daily_units": mean,
            "var_daily_units": mean * np.array([1.0, 2.0, 3.0, 1.5, 1.0, 4.0, 2.0, 1.2]),
            "unit_price_cents": np.array([250, 399, 120, 89, 1299, 560, 230, 150]),
        }
    )
    return Series.from_frame(rule_of_thumb_policy(fit, lead_days=2))


@dataclass
class Run:
    engine: str
    paths: int  # N: all series together
    chunk_paths: int
    seconds: float
    identical: bool  # same totals as NumPy at this N

    @property
    def paths_per_s(self) -> float:
        return self.paths / self.seconds


@dataclass
class Overhead:
    engine: str
    round_trip_s: float  # one empty task, submitted and waited for, one at a time
    per_task_s: float  # many empty tasks in flight together: the cost each adds


@dataclass
class EngineResults:
    workers: int
    runs: list[Run] = field(default_factory=list)
    startup_s: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    overheads: list[Overhead] = field(default_factory=list)
    crossover_runs: list[Run] = field(default_factory=list)
    crossover_paths: int = 0
    crossover_block: int = 0
    dashboards: dict[str, str] = field(default_factory=dict)

    def identical(self) -> bool:
        return all(r.identical for r in self.runs + self.crossover_runs)


def job_for(
    series: Series, paths: int, chunk: int, settings: ComputeSettings, block: int = 4096
) -> SimulationJob:
    spec = SimulationSpec(paths=max(1, paths // len(series)), seed=SEED, block_paths=block)
    return SimulationJob(spec, series, chunk, settings)


def _timed(
    engine: str, job: SimulationJob, runner: Runner, backend: Backend, repeats: int
) -> tuple[float, list[Totals]]:
    """The best of `repeats` runs (on a shared machine the slowest runs measure the neighbours), and the totals
    of the first: the later ones are checked against it."""
    best, first = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        totals = checked_totals(engine, job, runner(engine, job, backend))
        best = min(best, time.perf_counter() - started)
        if first is None:
            first = totals
        elif not _same(first, totals):
            raise RuntimeError(f"{engine}: two runs of the same job gave different totals")
    assert first is not None
    return best, first


def _same(a: list[Totals], b: list[Totals]) -> bool:
    return len(a) == len(b) and all(x.same_as(y) for x, y in zip(a, b, strict=True))


@contextlib.contextmanager
def engine_backend(engine: str, settings: ComputeSettings, say: Say) -> Iterator[tuple[Backend, object]]:
    """Open the engine's pool or cluster once; yield a function running a job on it (results, unchecked) and
    the pool or client itself (None for NumPy and Ray, whose runtime is global)."""
    if engine == "numpy":
        from python_jobs.compute.local.numpy import run_simulation

        yield run_simulation, None
    elif engine == "processes":
        from python_jobs.compute.local.processes import run_on, start_pool

        with start_pool(settings.workers) as pool:
            # Spawned workers import numpy and the kernel on their first task: warm them before timing.
            list(pool.map(noop, range(settings.workers * 4)))
            yield (lambda job: run_on(pool, job)), pool
    elif engine.startswith("ray"):
        from python_jobs.compute.engines import get_engine
        from python_jobs.compute.ray.runtime import dashboard_url, ensure_ray

        ensure_ray(settings)
        if settings.dashboards and dashboard_url():
            say(f"Ray dashboard: {dashboard_url()}")
        if engine == "ray-actors":
            import ray

            from python_jobs.compute.ray.actors import actor_pool, close_actor_pool

            # The actors are built once (worker processes, the series copied in) and kept across the runs:
            # their start-up is timed here, as the other engines' pools are.
            ray.get([actor.pid.remote() for actor in actor_pool(lab_series(), settings.workers)])
            try:
                yield get_engine(engine).runner(), None
            finally:
                close_actor_pool()
        else:
            yield get_engine(engine).runner(), None
    elif engine == "dask":
        from python_jobs.compute.dask.cluster import dask_client
        from python_jobs.compute.dask.simulate import run_on

        with dask_client(settings, saturate=True) as client:
            if settings.dashboards:
                say(f"Dask dashboard: {client.dashboard_link}")
            client.gather(client.map(noop, range(settings.workers * 4), pure=False))
            yield (lambda job: run_on(client, job)), client
    else:
        raise ValueError(f"unknown engine {engine!r}")


def measure_overhead(
    engine: str, handle: object, settings: ComputeSettings, round_trips: int, bulk: int
) -> Overhead:
    """An empty task's cost on an engine that is already up (inside `engine_backend`, `handle` its pool or
    client)."""
    if engine == "numpy":
        submit_wait: Callable[[], object] = noop

        def many() -> object:
            return [noop(i) for i in range(bulk)]

    elif engine == "processes":
        from concurrent.futures import ProcessPoolExecutor

        assert isinstance(handle, ProcessPoolExecutor)
        pool = handle

        def submit_wait() -> object:
            return pool.submit(noop).result()

        def many() -> object:
            return [f.result() for f in [pool.submit(noop, i) for i in range(bulk)]]

    elif engine == "ray-tasks":
        import ray

        task = ray.remote(noop)
        ray.get([task.remote() for _ in range(settings.workers * 4)])

        def submit_wait() -> object:
            return ray.get(task.remote())

        def many() -> object:
            return ray.get([task.remote(i) for i in range(bulk)])

    elif engine == "ray-actors":
        import ray

        @ray.remote
        class Echo:
            def call(self, x: int = 0) -> int:
                return noop(x)

        actors = [Echo.remote() for _ in range(settings.workers)]
        ray.get([a.call.remote() for a in actors])

        def submit_wait() -> object:
            return ray.get(actors[0].call.remote())

        def many() -> object:
            return ray.get([actors[i % len(actors)].call.remote(i) for i in range(bulk)])

    elif engine == "dask":
        from distributed import Client

        assert isinstance(handle, Client)
        client = handle

        def submit_wait() -> object:
            return client.submit(noop, pure=False).result()

        def many() -> object:
            return client.gather(client.map(noop, range(bulk), pure=False))

    else:
        raise ValueError(engine)
    try:
        started = time.perf_counter()
        for _ in range(round_trips):
            submit_wait()
        round_trip = (time.perf_counter() - started) / round_trips
        started = time.perf_counter()
        many()
        per_task = (time.perf_counter() - started) / bulk
    finally:
        if engine == "ray-actors":
            for actor in actors:
                ray.kill(actor)
    return Overhead(engine, round_trip, per_task)


def run_engines(
    engines: list[str],
    sizes: list[int],
    chunks: list[int],
    settings: ComputeSettings,
    runner: Runner,
    say: Say,
    *,
    crossover_paths: int,
    crossover_chunks: list[int],
    crossover_block: int = 256,
    repeats: int = 2,
    round_trips: int = 200,
    bulk: int = 1000,
) -> EngineResults:
    """Every engine at every size and chunk size, one engine's backend open at a time; NumPy first (the
    reference every other result is compared to)."""
    series = lab_series()
    out = EngineResults(settings.workers, crossover_paths=crossover_paths, crossover_block=crossover_block)
    reference: dict[tuple[int, int], list[Totals]] = {}
    engines = ["numpy", *[e for e in engines if e != "numpy"]]
    for index, engine in enumerate(engines):
        started = time.perf_counter()
        # Ray's runtime stays up from ray-tasks to ray-actors: the second one's start-up is its actors' only.
        # Polling a tree of ~30 processes every 50 ms costs CPU the engines need: 0.2 s.
        with TreeSampler(poll_seconds=0.2) as sampler, engine_backend(engine, settings, say) as (run, handle):
            out.startup_s[engine] = time.perf_counter() - started
            for paths in sizes:
                for chunk in chunks:
                    job = job_for(series, paths, chunk, settings)
                    seconds, totals = _timed(engine, job, runner, run, repeats)
                    key = (paths, 4096)
                    reference.setdefault(key, totals)
                    out.runs.append(Run(engine, paths, chunk, seconds, _same(totals, reference[key])))
            # Small blocks and chunks: where the per-task cost decides whether parallelism pays.
            for chunk in crossover_chunks:
                job = job_for(series, crossover_paths, chunk, settings, block=crossover_block)
                seconds, totals = _timed(engine, job, runner, run, repeats)
                key = (crossover_paths, crossover_block)
                reference.setdefault(key, totals)
                out.crossover_runs.append(
                    Run(engine, crossover_paths, chunk, seconds, _same(totals, reference[key]))
                )
            out.overheads.append(measure_overhead(engine, handle, settings, round_trips, bulk))
        out.peak_rss_mib[engine] = sampler.peak_rss_mib
        following = engines[index + 1] if index + 1 < len(engines) else ""
        if engine.startswith("ray") and not following.startswith("ray"):
            # Down before the next engine: its idle processes would take CPU from it and count in its RSS.
            import ray

            ray.shutdown()
    return out


# --- the physical limit -------------------------------------------------------------------------------------


@dataclass
class RngLimit:
    paths: int
    demand_paths_per_s: float  # draw_demand alone, every block of the lab's series: the kernel's variates
    variates_per_s: float  # gamma + Poisson draws per second in that
    uniform_per_s: float  # rng.random doubles per second, for reference


def rng_limit(paths: int, repeats: int = 1) -> RngLimit:
    """The kernel's draws alone (`draw_demand` for every block, generator construction included), best of
    `repeats`."""
    series = lab_series()
    spec = SimulationSpec(paths=max(1, paths // len(series)), seed=SEED)
    seconds = float("inf")
    for _ in range(repeats):
        variates = 0
        started = time.perf_counter()
        for i in range(len(series)):
            mean, var = float(series.mean_daily_units[i]), float(series.var_daily_units[i])
            for block in range(spec.blocks):
                shape = (spec.block_size(block), spec.horizon_days)
                draw_demand(block_rng(spec, series, i, block), mean, var, shape)
                variates += shape[0] * shape[1] * (2 if var > mean else 1)
        seconds = min(seconds, time.perf_counter() - started)
    # Into one reused buffer: a fresh 160 MB array costs more in page faults than in drawing (17M/s against
    # ~240M/s measured on this machine).
    rng, buffer, rounds = np.random.default_rng(SEED), np.empty(1_000_000), 40
    t0 = time.perf_counter()
    for _ in range(rounds):
        rng.random(out=buffer)
    uniform = rounds * len(buffer) / (time.perf_counter() - t0)
    return RngLimit(spec.paths * len(series), spec.paths * len(series) / seconds, variates / seconds, uniform)


# --- convergence --------------------------------------------------------------------------------------------


@dataclass
class ConvergencePoint:
    paths: int
    stockout: float
    stockout_se: float
    lost: float
    lost_se: float


@dataclass
class Convergence:
    mean_daily: float
    stock: int
    exact_stockout: float
    exact_lost: float
    points: list[ConvergencePoint]

    def worst_z(self) -> float:
        """The largest |estimate - exact| / SE over every N and both figures."""
        z = [abs(p.stockout - self.exact_stockout) / p.stockout_se for p in self.points if p.stockout_se > 0]
        z += [abs(p.lost - self.exact_lost) / p.lost_se for p in self.points if p.lost_se > 0]
        return max(z, default=float("nan"))


def convergence(largest: int, mean_daily: float = 6.0, stock: int = 45) -> Convergence:
    """Poisson demand against a fixed stock (s = -1): the kernel's estimate and its standard error at growing N
    against the exact answer."""
    exact = poisson_fixed_stock(mean_daily, stock)
    fit = pd.DataFrame(
        {
            "store_id": [1],
            "category_id": [1],
            "mean_daily_units": [mean_daily],
            "var_daily_units": [mean_daily],
            "unit_price_cents": [100],
            "reorder_point": [-1],
            "order_up_to": [stock],
        }
    )
    series = Series.from_frame(fit)
    points = []
    n = 1_000
    while n <= largest:
        spec = SimulationSpec(paths=n, seed=SEED)
        job = SimulationJob(spec, series, spec.block_paths, ComputeSettings(workers=1))
        totals = checked_totals("numpy", job, run_tasks(spec, series, job.tasks()))
        r = risk_of(totals[0], spec.horizon_days)
        points.append(
            ConvergencePoint(
                n,
                r.stockout_probability,
                r.stockout_probability_se,
                r.expected_lost_units,
                r.expected_lost_units_se,
            )
        )
        n *= 10
    return Convergence(mean_daily, stock, exact.stockout_probability, exact.expected_lost_units, points)


# --- reading the runs ---------------------------------------------------------------------------------------


def amdahl_serial_fraction(points: list[tuple[int, float]]) -> float | None:
    """Least-squares serial fraction f of S(p) = 1 / (f + (1 - f) / p) through (workers, speedup) points:
    1/S = f (1 - 1/p) + 1/p is linear in f."""
    xs = np.array([1 - 1 / p for p, _ in points])
    ys = np.array([1 / s - 1 / p for p, s in points])
    if not xs.any():
        return None
    return float(np.clip((xs @ ys) / (xs @ xs), 0.0, 1.0))


def model_crossover_chunk(per_task_s: float, paths_per_s: float, workers: int) -> float | None:
    """The chunk size below which `workers` lose to one core: with a per-task cost o paid by the driver, a chunk
    of c paths costs c / (r p) + o in parallel against c / r alone, equal at c = o r p / (p - 1)."""
    if workers < 2:
        return None
    return per_task_s * paths_per_s * workers / (workers - 1)


def measured_crossover(points: list[tuple[int, float]]) -> float | None:
    """Where the measured speedup over chunk size first reaches 1 (log-linear between two points)."""
    points = sorted(points)
    if points and points[0][1] >= 1:
        return float(points[0][0])  # wins at the smallest chunk measured: the crossover is below it
    for (c0, s0), (c1, s1) in itertools.pairwise(points):
        if s0 < 1 <= s1:
            w = (1 - s0) / (s1 - s0)
            return float(np.exp(np.log(c0) + w * (np.log(c1) - np.log(c0))))
    return None
