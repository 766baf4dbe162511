"""The inventory cost of a reorder policy (s, S) for one series, and a plain grid search over policies.

A week's cost of a policy, per path, in cents:

    held unit-days x holding cost per unit-day  +  lost units x unit price x stock-out factor
    +  orders placed x ordering cost

computed from the kernel's exact integer `Totals`, so a policy's cost is a pure function of (spec, series,
s, S, costs). Every policy of a series is run on the same random numbers (common random numbers): the kernel
seeds each block from (seed, store, category, block) only, never from the policy. The difference between two
policies' costs is then the policies' doing, not the draws', which is what a search comparing them needs.

`iter_policy_costs` yields the running cost block by block (Ray Tune's trainable reports it, so ASHA can stop
a bad policy after a few blocks); `evaluate_policy` is its last value, the full-length figure.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import product

import numpy as np

from python_jobs.compute.kernel import Totals, block_demand, simulate_block, simulate_paths, totals_of
from python_jobs.compute.model import ParameterError, Series, SimulationSpec


@dataclass(frozen=True)
class CostModel:
    """What a week of a policy costs, in cents."""

    holding_cents_per_unit_day: float = 2.0  # capital, space, spoilage of one unit on the shelf for a day
    stockout_factor: float = 1.0  # a lost unit costs its price times this (lost margin and goodwill)
    order_cents: float = 500.0  # fixed cost of placing one order (handling, delivery)

    def __post_init__(self) -> None:
        for name in ("holding_cents_per_unit_day", "stockout_factor", "order_cents"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ParameterError(f"cost {name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class PolicyCost:
    """A policy's expected weekly cost per path (cents) and its parts, over `paths` paths."""

    reorder_point: int  # s
    order_up_to: int  # S
    paths: int
    blocks: int  # blocks simulated (the work done)
    holding: float
    stockout: float
    ordering: float
    stockout_paths: int

    @property
    def expected_cost(self) -> float:
        return self.holding + self.stockout + self.ordering


def policy_cost(
    totals: Totals, unit_price_cents: int, cost: CostModel, s: int, S: int, blocks: int
) -> PolicyCost:
    paths = totals["paths"]
    return PolicyCost(
        reorder_point=s,
        order_up_to=S,
        paths=paths,
        blocks=blocks,
        holding=totals["held_unit_days"] * cost.holding_cents_per_unit_day / paths,
        stockout=totals["lost_units"] * unit_price_cents * cost.stockout_factor / paths,
        ordering=totals["orders"] * cost.order_cents / paths,
        stockout_paths=totals["stockout_paths"],
    )


def with_policy(series_row: Series, s: int, S: int) -> Series:
    """The one series with policy (s, S) in place of its own; `Series.validate` rejects S < s, s < -1."""
    if len(series_row) != 1:
        raise ParameterError(f"a policy is evaluated on one series, got {len(series_row)}")
    for name, value in (("reorder_point", s), ("order_up_to", S)):
        if not isinstance(value, int | np.integer):
            raise ParameterError(f"{name} must be an integer, got {value!r}")
    row = replace(
        series_row,
        reorder_point=np.array([s], np.int64),
        order_up_to=np.array([S], np.int64),
    )
    row.validate()
    return row


def row_of(series: Series, i: int) -> Series:
    """Series row `i` as a one-row Series (same store and category, so the same random numbers)."""
    return Series(**{name: getattr(series, name)[i : i + 1] for name in Series.__dataclass_fields__})


def iter_policy_costs(
    spec: SimulationSpec, series_row: Series, s: int, S: int, cost: CostModel
) -> Iterator[PolicyCost]:
    """The cost over the first 1, 2, ... blocks of paths: a running estimate that converges to the full one."""
    row = with_policy(series_row, int(s), int(S))
    price = int(row.unit_price_cents[0])
    totals = Totals()
    for block in range(spec.blocks):
        totals.add(simulate_block(spec, row, 0, block))
        yield policy_cost(totals, price, cost, int(s), int(S), block + 1)


def evaluate_policy(spec: SimulationSpec, series_row: Series, s: int, S: int, cost: CostModel) -> PolicyCost:
    """The policy's expected weekly cost over all `spec.paths` paths (the same numbers for every policy)."""
    (last,) = deque(iter_policy_costs(spec, series_row, s, S, cost), maxlen=1)  # spec.blocks >= 1
    return last


@dataclass(frozen=True)
class PolicySpace:
    """The (s, S) pairs to search: every reorder point against every order-up-to level. Each pair must have
    S >= s, so the space is a full rectangle (a search algorithm samples the two independently)."""

    reorder_points: tuple[int, ...]
    order_up_to: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.reorder_points or not self.order_up_to:
            raise ParameterError(
                f"empty policy space: {len(self.reorder_points)} reorder point(s) x "
                f"{len(self.order_up_to)} order-up-to level(s)"
            )
        for name in ("reorder_points", "order_up_to"):
            values = getattr(self, name)
            if len(set(values)) != len(values) or any(not isinstance(v, int | np.integer) for v in values):
                raise ParameterError(f"{name} must be distinct integers, got {values!r}")
        if min(self.reorder_points) < -1 or min(self.order_up_to) < 0:
            raise ParameterError(
                f"reorder points must be >= -1 and order-up-to levels >= 0: {self.reorder_points!r}, "
                f"{self.order_up_to!r}"
            )
        bad = [(s, S) for s, S in self.points() if s > S]
        if bad:
            raise ParameterError(f"policy (s={bad[0][0]}, S={bad[0][1]}) has S < s; {len(bad)} such point(s)")

    def points(self) -> list[tuple[int, int]]:
        return [(int(s), int(S)) for s, S in product(self.reorder_points, self.order_up_to)]

    def __len__(self) -> int:
        return len(self.reorder_points) * len(self.order_up_to)

    @classmethod
    def grid(cls, reorder_points: Sequence[int], order_up_to: Sequence[int]) -> PolicySpace:
        return cls(tuple(int(v) for v in reorder_points), tuple(int(v) for v in order_up_to))


@dataclass(frozen=True)
class SearchResult:
    best: PolicyCost
    trials: int  # policies tried
    full_evaluations: int  # policies simulated over all `spec.paths` paths
    blocks: int  # blocks of paths simulated in all (the work)
    wall_seconds: float


def grid_costs(
    spec: SimulationSpec, series_row: Series, space: PolicySpace, cost: CostModel
) -> list[PolicyCost]:
    """`evaluate_policy` of every point of the space, bit for bit, with each block's demand drawn once: the
    points run side by side on stacked copies of it (drawing is most of a policy's cost)."""
    points = space.points()
    for s, S in points:
        with_policy(series_row, int(s), int(S))  # the same checks as one policy at a time
    s_values = np.array([s for s, _ in points], np.int64)
    S_values = np.array([S for _, S in points], np.int64)
    totals = [Totals() for _ in points]
    for block in range(spec.blocks):
        demand = block_demand(spec, series_row, 0, block)
        n = len(demand)
        lost, out, held, orders = simulate_paths(
            np.tile(demand, (len(points), 1)), np.repeat(s_values, n), np.repeat(S_values, n), spec.lead_days
        )
        for k, part in enumerate(slice(k * n, (k + 1) * n) for k in range(len(points))):
            totals[k].add(totals_of(lost[part], out[part], held[part], orders[part]))
    price = int(series_row.unit_price_cents[0])
    return [
        policy_cost(t, price, cost, int(s), int(S), spec.blocks)
        for t, (s, S) in zip(totals, points, strict=True)
    ]


def grid_search(
    spec: SimulationSpec, series_row: Series, space: PolicySpace, cost: CostModel
) -> SearchResult:
    """Every point of the space over all paths, in this process; the lowest cost wins (ties: the first)."""
    start = time.perf_counter()
    results = grid_costs(spec, series_row, space, cost)
    best = min(results, key=lambda r: r.expected_cost)
    return SearchResult(
        best=best,
        trials=len(results),
        full_evaluations=len(results),
        blocks=sum(r.blocks for r in results),
        wall_seconds=time.perf_counter() - start,
    )


def space_in_days(
    series_row: Series,
    reorder_days: Sequence[float] = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0),
    order_up_to_days: Sequence[float] = (7.0, 8.0, 9.0, 10.0, 11.0, 13.0),
) -> PolicySpace:
    """A space scaled to the series' demand: s and S as days of mean demand, rounded up (repeats dropped)."""
    if len(series_row) != 1:
        raise ParameterError(f"a space is scaled to one series, got {len(series_row)}")
    mean = float(series_row.mean_daily_units[0])

    def units(days: Sequence[float]) -> tuple[int, ...]:
        return tuple(dict.fromkeys(math.ceil(d * mean) for d in days))

    return PolicySpace(units(reorder_days), units(order_up_to_days))
