"""Random number streams: one independent, reproducible stream per (seed, day, source[, chunk]).

Deriving every generator from `SeedSequence([seed, day, stream, ...])` instead of drawing from one shared
generator is what makes the output independent of *how* it is produced: day 7 is the same whether days 1-6
were generated before in this process or not, and chunk 3 of the orders is the same whatever chunk 2 did.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

# Day 0 is not a simulated day: streams keyed on it hold things that never change, such as product popularity.
STATIC_DAY = 0


class Stream(IntEnum):
    """Stable numbers of the random streams. Append new ones; renumbering changes every generated file."""

    CUSTOMERS = 1
    STORES = 2
    ORDERS = 3
    ORDER_LINES = 4
    LATE_ORDERS = 5
    LATE_ORDER_LINES = 6
    CORRUPTION = 7
    PRODUCT_POPULARITY = 8


def rng_for(seed: int, day: int, stream: Stream, *sub: int) -> np.random.Generator:
    """The generator for one stream; `sub` distinguishes chunks or sources within the stream."""
    return np.random.default_rng(np.random.SeedSequence([seed, day, int(stream), *sub]))
