"""The one simulation kernel every engine runs: next week's demand against a stock policy, block by block.

A task is (series, first block, last block + 1). Each block draws its random numbers from
`SeedSequence(seed, spawn_key=(store_id, category_id, block))`, so the same path gets the same numbers whichever
engine, worker or chunk runs it, and a task's result is a handful of exact integers (paths, stock-outs, lost
units and their squares, unit-days held, orders placed) plus a histogram of lost units per path. Integer sums do
not depend on the order they are added in: merging results in any order gives the same bits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from python_jobs.compute.model import ParameterError, Series, SimulationSpec

# Order of the exact integer totals in `Totals.counts`.
COUNTS = ("paths", "stockout_paths", "lost_units", "lost_units_sq", "held_unit_days", "orders")


@dataclass(frozen=True)
class Task:
    series: int  # index into Series
    block_start: int
    block_stop: int


@dataclass
class Totals:
    """Exact totals of one series over some of its paths."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(COUNTS), np.int64))
    lost_hist: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))  # paths by lost units

    def add(self, other: Totals) -> None:
        self.counts += other.counts
        if len(other.lost_hist) > len(self.lost_hist):
            self.lost_hist = np.pad(self.lost_hist, (0, len(other.lost_hist) - len(self.lost_hist)))
        self.lost_hist[: len(other.lost_hist)] += other.lost_hist

    def __getitem__(self, name: str) -> int:
        return int(self.counts[COUNTS.index(name)])

    def same_as(self, other: Totals) -> bool:
        n = max(len(self.lost_hist), len(other.lost_hist))
        return bool(
            np.array_equal(self.counts, other.counts)
            and np.array_equal(
                np.pad(self.lost_hist, (0, n - len(self.lost_hist))),
                np.pad(other.lost_hist, (0, n - len(other.lost_hist))),
            )
        )


@dataclass(frozen=True)
class TaskResult:
    task: Task
    totals: Totals


def plan_tasks(n_series: int, spec: SimulationSpec, chunk_paths: int) -> list[Task]:
    """Split every series' blocks into chunks of `chunk_paths` paths (a multiple of the block size)."""
    if not isinstance(chunk_paths, int | np.integer) or chunk_paths < 1:
        raise ParameterError(f"chunk_paths must be a positive integer, got {chunk_paths!r}")
    if chunk_paths % spec.block_paths:
        raise ParameterError(
            f"chunk_paths={chunk_paths} is not a multiple of block_paths={spec.block_paths}: a chunk is a "
            "whole number of blocks, so every engine draws the same numbers"
        )
    per_chunk = chunk_paths // spec.block_paths
    return [
        Task(i, start, min(start + per_chunk, spec.blocks))
        for i in range(n_series)
        for start in range(0, spec.blocks, per_chunk)
    ]


def block_rng(spec: SimulationSpec, series: Series, i: int, block: int) -> np.random.Generator:
    seq = np.random.SeedSequence(
        spec.seed, spawn_key=(int(series.store_id[i]), int(series.category_id[i]), block)
    )
    return np.random.Generator(np.random.PCG64(seq))


def draw_demand(rng: np.random.Generator, mean: float, var: float, shape: tuple[int, int]) -> np.ndarray:
    """Daily units: Poisson-gamma with this mean and variance (plain Poisson when var <= mean)."""
    if mean == 0.0:
        return np.zeros(shape, np.int64)
    if var > mean:
        k = mean * mean / (var - mean)  # gamma shape; the mixture's variance is mean + mean^2 / k
        return rng.poisson(rng.gamma(k, mean / k, size=shape))
    return rng.poisson(mean, size=shape)


def simulate_paths(
    demand: np.ndarray, reorder_point: int | np.ndarray, order_up_to: int | np.ndarray, lead_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the (s, S) policy over `demand` (paths x days): lost units, stocked-out flag, unit-days held and
    orders placed per path. s and S are one policy, or one per path (a grid of policies on stacked copies of
    the same demand, evaluated in one pass)."""
    paths, days = demand.shape
    reorder_point = np.broadcast_to(np.asarray(reorder_point, np.int64), (paths,))
    on_hand = np.broadcast_to(np.asarray(order_up_to, np.int64), (paths,)).copy()
    order_up_to = on_hand.copy()
    reorders = bool((reorder_point >= 0).any())  # s = -1 never reorders: the position is never below 0
    on_order = np.zeros(paths, np.int64)
    arrivals = np.zeros((paths, days), np.int64)
    lost = np.zeros(paths, np.int64)
    held = np.zeros(paths, np.int64)
    orders = np.zeros(paths, np.int64)
    for t in range(days):
        on_hand += arrivals[:, t]
        on_order -= arrivals[:, t]
        sold = np.minimum(demand[:, t], on_hand)
        lost += demand[:, t] - sold
        on_hand -= sold
        held += on_hand
        if reorders:
            position = on_hand + on_order
            qty = np.where(position <= reorder_point, order_up_to - position, 0)
            orders += qty > 0
            on_order += qty
            if t + lead_days < days:
                arrivals[:, t + lead_days] += qty
    return lost, lost > 0, held, orders


def block_demand(spec: SimulationSpec, series: Series, i: int, block: int) -> np.ndarray:
    """Block `block` of series `i`: paths x days of daily units, from that block's own seed."""
    return draw_demand(
        block_rng(spec, series, i, block),
        float(series.mean_daily_units[i]),
        float(series.var_daily_units[i]),
        (spec.block_size(block), spec.horizon_days),
    )


def totals_of(lost: np.ndarray, out: np.ndarray, held: np.ndarray, orders: np.ndarray) -> Totals:
    counts = np.array(
        [len(lost), out.sum(), lost.sum(), (lost * lost).sum(), held.sum(), orders.sum()], np.int64
    )
    return Totals(counts, np.bincount(lost))


def simulate_block(spec: SimulationSpec, series: Series, i: int, block: int) -> Totals:
    demand = block_demand(spec, series, i, block)
    return totals_of(
        *simulate_paths(demand, int(series.reorder_point[i]), int(series.order_up_to[i]), spec.lead_days)
    )


def run_task(spec: SimulationSpec, series: Series, task: Task) -> TaskResult:
    """The unit of work every engine ships: a pure function of its arguments."""
    if not 0 <= task.series < len(series):
        raise ParameterError(f"task names series {task.series}, there are {len(series)}")
    totals = Totals()
    for block in range(task.block_start, task.block_stop):
        totals.add(simulate_block(spec, series, task.series, block))
    return TaskResult(task, totals)


def run_tasks(spec: SimulationSpec, series: Series, tasks: Iterable[Task]) -> list[TaskResult]:
    return [run_task(spec, series, t) for t in tasks]


def merge(n_series: int, results: Iterable[TaskResult]) -> list[Totals]:
    """Per series totals; the order results arrive in does not matter (integer sums)."""
    merged = [Totals() for _ in range(n_series)]
    for result in results:
        merged[result.task.series].add(result.totals)
    return merged


def check_complete(spec: SimulationSpec, totals: list[Totals]) -> None:
    """Every series simulated exactly `spec.paths` paths: nothing lost, nothing doubled by retries."""
    for i, t in enumerate(totals):
        if t["paths"] != spec.paths or int(t.lost_hist.sum()) != spec.paths:
            raise RuntimeError(f"series {i}: {t['paths']} paths simulated, {spec.paths} expected")
