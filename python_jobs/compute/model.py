"""The simulation's inputs, checked once: a demand fit and a stock policy per series (store x category).

Demand per day is a Poisson-gamma (negative binomial) mixture with the fitted mean and variance; a variance not
above the mean gives plain Poisson. The stock policy is (s, S): the week starts with S units on hand, and at the
end of a day on which the inventory position (on hand + on order) is at or below s, an order brings it back up
to S, arriving `lead_days` later. s = -1 never reorders (the closed-form scenario: a fixed stock).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HORIZON_DAYS = 7  # next week
# Paths are drawn in blocks of this many, each block from its own SeedSequence child, so the random numbers of
# a path depend on (seed, series, block) only: never on which engine, worker or chunk draws the block.
DEFAULT_BLOCK_PATHS = 4096


class ParameterError(ValueError):
    """A parameter the simulation cannot use; the message names the value and the series."""


@dataclass(frozen=True)
class SimulationSpec:
    paths: int  # per series
    seed: int
    block_paths: int = DEFAULT_BLOCK_PATHS
    lead_days: int = 2
    horizon_days: int = HORIZON_DAYS

    def __post_init__(self) -> None:
        for name in ("paths", "block_paths", "lead_days", "horizon_days"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if self.seed < 0:
            raise ParameterError(f"seed must be >= 0, got {self.seed}")

    @property
    def blocks(self) -> int:
        return -(-self.paths // self.block_paths)

    def block_size(self, block: int) -> int:
        return min(self.block_paths, self.paths - block * self.block_paths)


SERIES_COLUMNS = (
    "store_id",
    "category_id",
    "mean_daily_units",
    "var_daily_units",
    "unit_price_cents",
    "reorder_point",
    "order_up_to",
)


@dataclass(frozen=True)
class Series:
    """Columnar parameters of every series, in a fixed order (sorted by store, category)."""

    store_id: np.ndarray
    category_id: np.ndarray
    mean_daily_units: np.ndarray
    var_daily_units: np.ndarray
    unit_price_cents: np.ndarray
    reorder_point: np.ndarray  # s
    order_up_to: np.ndarray  # S

    def __len__(self) -> int:
        return len(self.store_id)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Series:
        missing = [c for c in SERIES_COLUMNS if c not in frame.columns]
        if missing:
            raise ParameterError(f"series table lacks column(s) {missing}")
        if frame.empty:
            raise ParameterError("no series to simulate: the demand fit is empty")
        frame = frame.sort_values(["store_id", "category_id"], kind="stable").reset_index(drop=True)
        series = cls(
            store_id=frame["store_id"].to_numpy(np.int64),
            category_id=frame["category_id"].to_numpy(np.int64),
            mean_daily_units=frame["mean_daily_units"].to_numpy(np.float64),
            var_daily_units=frame["var_daily_units"].to_numpy(np.float64),
            unit_price_cents=frame["unit_price_cents"].to_numpy(np.int64),
            reorder_point=frame["reorder_point"].to_numpy(np.int64),
            order_up_to=frame["order_up_to"].to_numpy(np.int64),
        )
        series.validate()
        return series

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({c: getattr(self, c) for c in SERIES_COLUMNS})

    def label(self, i: int) -> str:
        return f"store {self.store_id[i]} x category {self.category_id[i]}"

    def validate(self) -> None:
        keys = set(zip(self.store_id.tolist(), self.category_id.tolist(), strict=True))
        if len(keys) != len(self):
            raise ParameterError("series repeat a (store_id, category_id)")
        checks = (
            (~np.isfinite(self.mean_daily_units) | (self.mean_daily_units < 0), "mean_daily_units", ">= 0"),
            (~np.isfinite(self.var_daily_units) | (self.var_daily_units < 0), "var_daily_units", ">= 0"),
            (self.unit_price_cents < 0, "unit_price_cents", ">= 0"),
            (self.reorder_point < -1, "reorder_point", ">= -1 (-1: never reorder)"),
            (self.order_up_to < 0, "order_up_to", ">= 0"),
            (self.order_up_to < self.reorder_point, "order_up_to", ">= reorder_point (S >= s)"),
        )
        for bad, column, rule in checks:
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ParameterError(
                    f"{column} must be {rule}: {self.label(i)} has {column}={getattr(self, column)[i]!r}"
                    + (f", reorder_point={self.reorder_point[i]}" if "S >= s" in rule else "")
                )
