"""Replaying the slowly changing world (customers, stores) from day 1 up to the requested day.

Nothing is carried over between runs: day N is computed by replaying days 1..N from the seed. That is
cheap (the state is a few integer arrays) and makes day N's files independent of which days were generated
before, in which order, or in which process.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, timedelta

from python_jobs.generate.customers import (
    CustomerChange,
    Customers,
    evolve_customers,
    initial_customers,
    initial_population,
)
from python_jobs.generate.rng import Stream, rng_for
from python_jobs.generate.stores import StoreChange, Stores, evolve_stores, initial_stores


@dataclass(frozen=True)
class DayState:
    """The world at the end of one simulated day, and the changes that led there from the day before."""

    day: int
    when: date
    customers: Customers
    stores: Stores
    customer_changes: list[CustomerChange]
    store_changes: list[StoreChange]


def replay(seed: int, scale: float, start: date, through_day: int, keep: int = 1) -> list[DayState]:
    """The states of the last `keep` days up to `through_day` (fewer near day 1), oldest first."""
    if through_day < 1:
        raise ValueError(f"simulated days start at 1, got {through_day}")
    base = initial_population(scale)
    customers, customer_changes = initial_customers(rng_for(seed, 1, Stream.CUSTOMERS), base, start)
    stores, store_changes = initial_stores(start)
    window: deque[DayState] = deque(maxlen=keep)
    window.append(DayState(1, start, customers, stores, customer_changes, store_changes))
    for day in range(2, through_day + 1):
        when = start + timedelta(days=day - 1)
        customers, customer_changes = evolve_customers(
            customers, rng_for(seed, day, Stream.CUSTOMERS), day, when, base
        )
        stores, store_changes = evolve_stores(stores, rng_for(seed, day, Stream.STORES), day, when)
        window.append(DayState(day, when, customers, stores, customer_changes, store_changes))
    return list(window)
