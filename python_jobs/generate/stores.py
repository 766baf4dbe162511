"""The store network: twelve stores whose format or size occasionally changes (a refit, an extension).

Stores do not scale with `--scale`: a bigger company delivers more orders from the same stores.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import numpy as np

from python_jobs.generate import vocab

STORE_COLUMNS: tuple[str, ...] = ("store_id", "store_name", "store_format", "size_sqm", "city", "opened_date")
STORE_FORMATS: tuple[str, ...] = ("express", "supermarket", "hypermarket", "dark_store")
DAILY_CHANGE_PROBABILITY = 0.02  # per store and day


class StoreSite(NamedTuple):
    name: str
    store_format: str
    size_sqm: int
    city: str
    opened: date


# store_id = position + 1. The metro's core city has three stores, every suburb one.
STORE_SITES: tuple[StoreSite, ...] = (
    StoreSite("Aldren Central", "supermarket", 2400, "Aldren", date(2012, 3, 15)),
    StoreSite("Aldren Riverside Express", "express", 380, "Aldren", date(2019, 6, 1)),
    StoreSite("Aldren South Fulfilment", "dark_store", 1800, "Aldren", date(2022, 9, 12)),
    StoreSite("North Aldren Market", "supermarket", 2100, "North Aldren", date(2015, 5, 20)),
    StoreSite("Eastbrook Hypermarket", "hypermarket", 9500, "Eastbrook", date(2010, 11, 3)),
    StoreSite("Millhaven Express", "express", 420, "Millhaven", date(2020, 2, 14)),
    StoreSite("Cedar Falls Market", "supermarket", 2600, "Cedar Falls", date(2023, 4, 1)),
    StoreSite("Westgate Superstore", "hypermarket", 8200, "Westgate", date(2014, 8, 22)),
    StoreSite("Brookfield Express", "express", 350, "Brookfield", date(2021, 10, 5)),
    StoreSite("Lakeside Fulfilment", "dark_store", 2200, "Lakeside", date(2024, 6, 17)),
    StoreSite("Harbor Point Market", "supermarket", 1900, "Harbor Point", date(2017, 7, 7)),
    StoreSite("Fairview Corner Express", "express", 310, "Fairview", date(2018, 1, 29)),
)

STORE_IDS = np.arange(1, len(STORE_SITES) + 1, dtype=np.int64)
STORE_CITY = np.array([vocab.CITIES.index(site.city) for site in STORE_SITES])


class StoreChange(NamedTuple):
    """One row of `truth/<date>/store_changes.csv`."""

    day: date
    store_id: int
    change_kind: str  # created, format_change, size_change
    field: str
    old_value: str
    new_value: str


@dataclass(frozen=True)
class Stores:
    """The mutable attributes of every store, position i = store_id i + 1."""

    store_format: np.ndarray  # index into STORE_FORMATS
    size_sqm: np.ndarray


def initial_stores(when: date) -> tuple[Stores, list[StoreChange]]:
    stores = Stores(
        store_format=np.array([STORE_FORMATS.index(site.store_format) for site in STORE_SITES]),
        size_sqm=np.array([site.size_sqm for site in STORE_SITES]),
    )
    return stores, [StoreChange(when, int(sid), "created", "", "", "") for sid in STORE_IDS]


def evolve_stores(
    previous: Stores, rng: np.random.Generator, day: int, when: date
) -> tuple[Stores, list[StoreChange]]:
    """Each store changes with a small daily probability; day 2 always has one change, so a short
    three-day run already shows the pipeline a store whose attributes changed."""
    store_format, size_sqm = previous.store_format.copy(), previous.size_sqm.copy()
    changing = np.flatnonzero(rng.random(len(STORE_SITES)) < DAILY_CHANGE_PROBABILITY)
    forced = rng.integers(0, len(STORE_SITES))
    if day == 2 and len(changing) == 0:
        changing = np.array([forced])
    is_format_change = rng.random(len(changing)) < 0.5
    format_shift = rng.integers(1, len(STORE_FORMATS), size=len(changing))  # never the same format again
    size_factor = rng.uniform(0.8, 1.3, size=len(changing))
    changes: list[StoreChange] = []
    for k, i in enumerate(changing):
        if is_format_change[k]:
            old = STORE_FORMATS[store_format[i]]
            store_format[i] = (store_format[i] + format_shift[k]) % len(STORE_FORMATS)
            changes.append(
                StoreChange(when, i + 1, "format_change", "store_format", old, STORE_FORMATS[store_format[i]])
            )
        else:
            old_size = int(size_sqm[i])
            # Rounded to 10 m², and never a no-op: a resize that rounds back to the old size grows by 10 m².
            new_size = max(100, round(old_size * size_factor[k] / 10) * 10)
            new_size = new_size if new_size != old_size else old_size + 10
            size_sqm[i] = new_size
            changes.append(StoreChange(when, i + 1, "size_change", "size_sqm", str(old_size), str(new_size)))
    return Stores(store_format, size_sqm), changes


def render_extract(stores: Stores) -> bytes:
    """The CSV rows (no header) of all stores, in store_id order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i, site in enumerate(STORE_SITES):
        fmt = STORE_FORMATS[stores.store_format[i]]
        writer.writerow([i + 1, site.name, fmt, int(stores.size_sqm[i]), site.city, site.opened.isoformat()])
    return out.getvalue().encode("utf-8")
