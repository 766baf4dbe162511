"""The product catalogue from `seeds/products.csv`, plus how popular each product is."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from python_jobs.generate.rng import STATIC_DAY, Stream, rng_for

POPULARITY_EXPONENT = 0.9  # Zipf-like: a few staples (milk, bananas) sell far more than the long tail


@dataclass(frozen=True)
class Catalog:
    product_id: np.ndarray
    price_cents: np.ndarray  # prices as integer cents: money is never a float in this generator
    popularity_cdf: np.ndarray  # cumulative popularity weights, for inverse-CDF sampling

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Positions (not ids) of `n` products drawn by popularity."""
        return np.searchsorted(self.popularity_cdf, rng.random(n) * self.popularity_cdf[-1], side="right")


def load_catalog(seeds_dir: Path, seed: int) -> Catalog:
    with open(seeds_dir / "products.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    product_id = np.array([int(row["product_id"]) for row in rows], dtype=np.int64)
    price_cents = np.array([int(Decimal(row["unit_price"]) * 100) for row in rows], dtype=np.int64)
    # Which products are the staples depends on the seed, but not on the day: popularity is a fixed trait.
    rank = rng_for(seed, STATIC_DAY, Stream.PRODUCT_POPULARITY).permutation(len(rows)) + 1
    weights = 1.0 / rank**POPULARITY_EXPONENT
    return Catalog(product_id, price_cents, np.cumsum(weights))
