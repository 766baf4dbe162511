"""Choose each series' (store x category) reorder policy (s, S) with Ray Tune, against a plain grid search.

The unit is a store x category series (the demand is fitted per series; a store's policy is then its row of
per-category policies). For each series both searches look at the same `PolicySpace` and price every policy
with `policy.iter_policy_costs`, on the same random numbers:

- grid: every point over all paths, in this process (NumPy);
- Tune: Optuna's TPE (seeded) proposes points; the trainable simulates block by block and reports the running
  cost after each block, so ASHA can stop a policy whose cost after a few blocks is already among the worse
  ones. Only trials that reached the last block have a full-length cost, and Tune's pick is the best of those;
  with common random numbers that cost is exactly what the grid computes for the same (s, S).

Both searches' figures (trials, full-length evaluations, blocks simulated, wall time, best cost) come back in
a `PolicySearch`, and `PolicySearch.policies()` is the warehouse's table of chosen policies.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from python_jobs.compute.model import ParameterError, Series, SimulationSpec
from python_jobs.compute.policy import (
    CostModel,
    PolicySpace,
    SearchResult,
    evaluate_policy,
    grid_search,
    iter_policy_costs,
    row_of,
)
from python_jobs.compute.ray.runtime import ensure_ray
from python_jobs.config import ComputeSettings

METRIC = "cost"  # expected weekly cost per path, cents; minimised
GRID = "grid"
TUNE = "tune-tpe-asha"
POLICY_COLUMNS = (
    "store_id",
    "category_id",
    "reorder_point",
    "order_up_to",
    "expected_cost",
    "searcher",
    "trials",
)


@dataclass(frozen=True)
class TuneOptions:
    num_samples: int = 16  # trials Tune runs per series
    seed: int = 0  # TPE's sampler
    startup_trials: int = 5  # TPE samples at random this many before it models the space
    reduction_factor: float = 2  # ASHA keeps the best 1/rf at each rung
    grace_period: int = 1  # blocks every trial runs before ASHA may stop it
    # Trials at once. 1: TPE proposes each point knowing every finished trial, and a seed gives the same
    # search every run (with 2, which trial reports first varies, and so do TPE's and ASHA's choices). It was
    # also faster here: 2-3 s a series against 6-15 s for 2 at once on 2 shared cores.
    max_concurrent: int = 1

    def __post_init__(self) -> None:
        if min(self.num_samples, self.grace_period, self.max_concurrent) < 1 or self.startup_trials < 0:
            raise ParameterError(f"bad Tune options {self}")
        if self.reduction_factor <= 1:
            raise ParameterError(f"reduction_factor must be > 1, got {self.reduction_factor}")


@dataclass(frozen=True)
class SeriesSearch:
    store_id: int
    category_id: int
    space: PolicySpace
    grid: SearchResult
    tune: SearchResult


@dataclass(frozen=True)
class PolicySearch:
    spec: SimulationSpec
    cost: CostModel
    series: list[SeriesSearch]

    def policies(self) -> pd.DataFrame:
        """One row per series and searcher: the policy each search chose, its full-length expected weekly cost
        (cents per path) and the trials it took."""
        rows = [
            {
                "store_id": found.store_id,
                "category_id": found.category_id,
                "reorder_point": result.best.reorder_point,
                "order_up_to": result.best.order_up_to,
                "expected_cost": result.best.expected_cost,
                "searcher": name,
                "trials": result.trials,
            }
            for found in self.series
            for name, result in ((GRID, found.grid), (TUNE, found.tune))
        ]
        return pd.DataFrame(rows, columns=list(POLICY_COLUMNS)).astype(
            {"store_id": "int64", "category_id": "int64", "reorder_point": "int64", "order_up_to": "int64"}
        )


def _policy_trainable(
    config: dict[str, Any], spec: SimulationSpec, series_row: Series, space: PolicySpace, cost: CostModel
) -> None:
    # Indices, not values, are searched: TPE then models an ordered integer axis.
    s = space.reorder_points[config["s_index"]]
    S = space.order_up_to[config["S_index"]]
    for step in iter_policy_costs(spec, series_row, s, S, cost):
        # One report per block: training_iteration = blocks simulated, ASHA's time axis.
        tune.report({METRIC: step.expected_cost, "blocks": step.blocks, "paths": step.paths, "s": s, "S": S})


def tune_search(
    spec: SimulationSpec,
    series_row: Series,
    space: PolicySpace,
    cost: CostModel,
    storage_path: Path,
    options: TuneOptions,
) -> SearchResult:
    """Ray Tune over `space` for one series (Ray must be running). Experiments go under `storage_path`."""
    if len(series_row) != 1:
        raise ParameterError(f"Tune searches one series at a time, got {len(series_row)}")
    # Optuna logs every trial at INFO; the searches' figures come back in the result instead.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = f"policy-store{int(series_row.store_id[0])}-category{int(series_row.category_id[0])}"
    searcher = OptunaSearch(
        sampler=optuna.samplers.TPESampler(seed=options.seed, n_startup_trials=options.startup_trials)
    )
    scheduler = ASHAScheduler(
        time_attr="training_iteration",
        max_t=spec.blocks,
        grace_period=min(options.grace_period, spec.blocks),
        reduction_factor=options.reduction_factor,
    )
    trainable = tune.with_resources(
        tune.with_parameters(_policy_trainable, spec=spec, series_row=series_row, space=space, cost=cost),
        {"cpu": 1},
    )
    tuner = tune.Tuner(
        trainable,
        param_space={
            "s_index": tune.randint(0, len(space.reorder_points)),  # upper bound exclusive
            "S_index": tune.randint(0, len(space.order_up_to)),
        },
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode="min",
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=options.num_samples,
            max_concurrent_trials=options.max_concurrent,
            reuse_actors=True,  # one trial actor per slot, not one per trial: starting actors costs seconds
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(storage_path.resolve()),  # never ~/ray_results
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        ),
    )
    start = time.perf_counter()
    # Tune prints an experiment banner to stdout even at verbose=0; keep the job's output to its own lines.
    with contextlib.redirect_stdout(io.StringIO()):
        grid = tuner.fit()
    wall = time.perf_counter() - start
    if grid.errors:
        raise RuntimeError(f"{name}: {len(grid.errors)} Tune trial(s) failed: {grid.errors[0]!r}")
    finished = [r.metrics for r in grid if r.metrics and r.metrics["blocks"] == spec.blocks]
    if not finished:
        raise RuntimeError(f"{name}: no Tune trial ran all {spec.blocks} blocks (ASHA stopped every one)")
    best = min(finished, key=lambda m: m[METRIC])
    # The full-length cost of Tune's pick, recomputed from the kernel here: exactly the trial's last report
    # (same numbers), and with its parts, like the grid's.
    full = evaluate_policy(spec, series_row, int(best["s"]), int(best["S"]), cost)
    return SearchResult(
        best=full,
        trials=len(grid),
        full_evaluations=len(finished),
        blocks=sum(int(r.metrics["blocks"]) for r in grid if r.metrics),
        wall_seconds=wall,
    )


def search_policies(
    spec: SimulationSpec,
    series: Series,
    space: PolicySpace | Callable[[Series], PolicySpace],
    cost: CostModel,
    settings: ComputeSettings,
    storage_path: Path,
    options: TuneOptions | None = None,
) -> PolicySearch:
    """Grid and Tune over the same space for every series, one series after another: `space` itself, or
    `space(row)` per series (e.g. `policy.space_in_days`, scaled by the series' demand). The wall times leave
    out starting Ray (done once, before the first search)."""
    options = options or TuneOptions()
    ensure_ray(settings)
    found = []
    for i in range(len(series)):
        row = row_of(series, i)
        row_space = space if isinstance(space, PolicySpace) else space(row)
        found.append(
            SeriesSearch(
                store_id=int(series.store_id[i]),
                category_id=int(series.category_id[i]),
                space=row_space,
                grid=grid_search(spec, row, row_space, cost),
                tune=tune_search(spec, row, row_space, cost, storage_path, options),
            )
        )
    return PolicySearch(spec=spec, cost=cost, series=found)
