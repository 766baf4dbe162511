"""The customer base and how it evolves from one day to the next (signups, moves, tiers, deletions, returns).

The state is a set of parallel numpy arrays holding small integer codes (indices into the word lists of
`vocab`), not strings: evolving 50,000 customers over hundreds of days then costs milliseconds, which is what
lets every run replay the history from day 1 instead of storing state between runs. Text is only produced
when an extract or a change log row is written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import NamedTuple

import numpy as np

from python_jobs.generate import vocab
from python_jobs.generate.clock import SECONDS_PER_DAY, day_start, epoch_day, format_dates, format_timestamps

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id", "first_name", "last_name", "email", "street_address", "city", "postal_code",
    "loyalty_tier", "signup_date", "updated_at",
)  # fmt: skip

# The population stops growing with the scale at 50: the 10 GB lab (scale 1000) wants many orders, not a
# customer extract of a million rows re-delivered in full every day.
MAX_POPULATION_SCALE = 50
CUSTOMERS_PER_SCALE = 1000
MIN_POPULATION = 20

# Expected number of changes per day, as a share of the initial population.
SIGNUP_RATE = 0.006
DELETION_RATE = 0.0015
ADDRESS_MOVE_RATE = 0.003
TIER_CHANGE_RATE = 0.005
EMAIL_FIX_RATE = 0.001
RETURN_RATE = 0.0003
EMAIL_TYPO_SHARE = 0.03  # share of customers who sign up with a mistyped email domain
MOVE_TO_OTHER_CITY_SHARE = 0.3
TIER_UP_SHARE = 0.7


def initial_population(scale: float) -> int:
    return max(MIN_POPULATION, round(CUSTOMERS_PER_SCALE * min(scale, MAX_POPULATION_SCALE)))


class CustomerChange(NamedTuple):
    """One row of `truth/<date>/customer_changes.csv`; an address move logs one row per changed field."""

    day: date
    customer_id: int
    change_kind: str
    field: str
    old_value: str
    new_value: str
    updated_at: int  # seconds, see clock.py


@dataclass(frozen=True)
class Customers:
    """Every customer ever created, deleted ones included; customer_id = array index + 1."""

    first_name: np.ndarray  # index into vocab.FIRST_NAMES
    last_name: np.ndarray  # index into vocab.LAST_NAMES
    email_number: np.ndarray  # the digits people add to make an address unique
    email_domain: np.ndarray  # index into vocab.ALL_EMAIL_DOMAINS (typos in the upper half)
    house_number: np.ndarray
    street: np.ndarray  # index into vocab.STREETS
    apartment: np.ndarray  # 0 = a house
    city: np.ndarray  # index into vocab.CITIES
    postal_code: np.ndarray
    tier: np.ndarray  # index into vocab.LOYALTY_TIERS
    signup_day: np.ndarray  # days since 1970-01-01
    updated_at: np.ndarray  # seconds since 1970-01-01
    present: np.ndarray  # False once deleted (and until returned)
    since_day: np.ndarray  # simulated day of the last creation or return; 0 = existed before day 1
    activity: np.ndarray  # relative order frequency, never written: some customers order far more

    def __len__(self) -> int:
        return len(self.present)

    @property
    def ids(self) -> np.ndarray:
        return np.arange(1, len(self) + 1, dtype=np.int64)

    def copy(self) -> Customers:
        return replace(self, **{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def append(self, other: Customers) -> Customers:
        return replace(
            self,
            **{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self)},
        )


def _people(
    rng: np.random.Generator,
    n: int,
    city_weights: tuple[float, ...],
    signup_day: np.ndarray,
    updated_at: np.ndarray,
    since_day: int,
) -> Customers:
    """`n` new customers with random names, addresses and tiers."""
    city = rng.choice(len(vocab.CITIES), size=n, p=np.asarray(city_weights) / sum(city_weights))
    domain = rng.integers(0, len(vocab.EMAIL_DOMAINS), size=n)
    typo = rng.random(n) < EMAIL_TYPO_SHARE
    return Customers(
        first_name=rng.integers(0, len(vocab.FIRST_NAMES), size=n),
        last_name=rng.integers(0, len(vocab.LAST_NAMES), size=n),
        email_number=rng.integers(1, 100, size=n),
        email_domain=np.where(typo, domain + len(vocab.EMAIL_DOMAINS), domain),
        house_number=rng.integers(1, 241, size=n),
        street=rng.integers(0, len(vocab.STREETS), size=n),
        apartment=np.where(rng.random(n) < 0.3, rng.integers(1, 41, size=n), 0),
        city=city,
        postal_code=np.asarray(vocab.CITY_POSTAL_BASE)[city]
        + rng.integers(0, vocab.POSTAL_CODES_PER_CITY, n),
        tier=rng.choice(len(vocab.LOYALTY_TIERS), size=n, p=vocab.INITIAL_TIER_WEIGHTS),
        signup_day=signup_day,
        updated_at=updated_at,
        present=np.ones(n, dtype=bool),
        since_day=np.full(n, since_day),
        activity=rng.lognormal(0.0, 0.8, size=n),
    )


def initial_customers(
    rng: np.random.Generator, n: int, start: date
) -> tuple[Customers, list[CustomerChange]]:
    """The customer base on day 1: people who signed up during the three years before the simulation.

    Their `updated_at` lies between their signup and day 1, i.e. in the past; day 1 logs them all as `created`.
    """
    first_day = epoch_day(start)
    signup_day = first_day - rng.integers(1, 3 * 365 + 1, size=n)
    seconds_since_signup = (first_day - signup_day) * SECONDS_PER_DAY
    updated_at = signup_day * SECONDS_PER_DAY + rng.integers(0, seconds_since_signup)
    customers = _people(rng, n, vocab.CITY_WEIGHTS, signup_day, updated_at, since_day=0)
    changes = [
        CustomerChange(start, int(cid), "created", "", "", "", int(ts))
        for cid, ts in zip(customers.ids, customers.updated_at, strict=True)
    ]
    return customers, changes


def _count(rng: np.random.Generator, rate: float, base: int, available: int, minimum: int = 1) -> int:
    """How many customers a kind of change touches today: Poisson around `rate * base`, at least `minimum`
    (so every kind shows up every day, even at tiny scales), at most what is available."""
    return min(available, max(minimum, int(rng.poisson(rate * base))))


def evolve_customers(
    previous: Customers, rng: np.random.Generator, day: int, when: date, base: int
) -> tuple[Customers, list[CustomerChange]]:
    """Day `day` (>= 2) of the customer base: apply today's changes to distinct customers and log them.

    Each customer is picked for at most one kind of change, by splitting one random permutation into
    consecutive slices; every change stamps a fresh `updated_at` within the day.
    """
    customers = previous.copy()
    midnight = day_start(when)
    changes: list[CustomerChange] = []

    def log(i: int, kind: str, field: str = "", old: str = "", new: str = "") -> None:
        changes.append(CustomerChange(when, i + 1, kind, field, old, new, int(customers.updated_at[i])))

    present = np.flatnonzero(customers.present)
    has_typo = customers.email_domain[present] >= len(vocab.EMAIL_DOMAINS)
    fix = rng.permutation(present[has_typo])[: _count(rng, EMAIL_FIX_RATE, base, int(has_typo.sum()))]
    others = rng.permutation(np.setdiff1d(present, fix))
    n_delete = _count(rng, DELETION_RATE, base, len(others))
    n_move = _count(rng, ADDRESS_MOVE_RATE, base, len(others) - n_delete)
    n_tier = _count(rng, TIER_CHANGE_RATE, base, len(others) - n_delete - n_move)
    delete, move, retier = np.split(others[: n_delete + n_move + n_tier], [n_delete, n_delete + n_move])
    gone = np.flatnonzero(~customers.present)
    returning = rng.permutation(gone)[: _count(rng, RETURN_RATE, base, len(gone))]

    touched = np.concatenate([fix, delete, move, retier, returning])
    customers.updated_at[touched] = midnight + rng.integers(0, SECONDS_PER_DAY, size=len(touched))

    for i in fix:
        old = _email(customers, i)
        customers.email_domain[i] -= len(vocab.EMAIL_DOMAINS)
        log(i, "email_fix", "email", old, _email(customers, i))

    for i in delete:
        customers.present[i] = False
        log(i, "deleted")

    other_city = rng.random(len(move)) < MOVE_TO_OTHER_CITY_SHARE
    new_city = rng.choice(len(vocab.CITIES), size=len(move), p=vocab.SIGNUP_CITY_WEIGHTS)
    new_house = rng.integers(1, 241, size=len(move))
    new_street = rng.integers(0, len(vocab.STREETS), size=len(move))
    new_apartment = np.where(rng.random(len(move)) < 0.3, rng.integers(1, 41, size=len(move)), 0)
    new_postal_offset = rng.integers(0, vocab.POSTAL_CODES_PER_CITY, size=len(move))
    for k, i in enumerate(move):
        before = _address(customers, i)
        if new_street[k] == customers.street[i] and new_house[k] == customers.house_number[i]:
            new_house[k] = new_house[k] % 240 + 1  # a move always changes the street address
        customers.house_number[i], customers.street[i] = new_house[k], new_street[k]
        customers.apartment[i] = new_apartment[k]
        if other_city[k]:
            customers.city[i] = new_city[k]
        customers.postal_code[i] = vocab.CITY_POSTAL_BASE[customers.city[i]] + new_postal_offset[k]
        after = _address(customers, i)
        for field, old, new in zip(("street_address", "city", "postal_code"), before, after, strict=True):
            if old != new:
                log(i, "address_move", field, old, new)

    up = rng.random(len(retier)) < TIER_UP_SHARE
    for k, i in enumerate(retier):
        old_tier = int(customers.tier[i])
        step = 1 if old_tier == 0 else -1 if old_tier == len(vocab.LOYALTY_TIERS) - 1 else 1 if up[k] else -1
        customers.tier[i] = old_tier + step
        log(
            i,
            "tier_change",
            "loyalty_tier",
            vocab.LOYALTY_TIERS[old_tier],
            vocab.LOYALTY_TIERS[old_tier + step],
        )

    # A returning customer comes back with the same id and record as before the deletion.
    for i in returning:
        customers.present[i] = True
        customers.since_day[i] = day
        log(i, "returned")

    n_new = _count(rng, SIGNUP_RATE, base, available=10 * base)
    signup = np.full(n_new, epoch_day(when))
    stamps = np.sort(midnight + rng.integers(0, SECONDS_PER_DAY, size=n_new))
    newcomers = _people(rng, n_new, vocab.SIGNUP_CITY_WEIGHTS, signup, stamps, since_day=day)
    first_new_id = len(customers) + 1
    customers = customers.append(newcomers)
    changes.extend(
        CustomerChange(when, first_new_id + k, "created", "", "", "", int(ts)) for k, ts in enumerate(stamps)
    )
    return customers, changes


def _email(customers: Customers, i: int) -> str:
    return vocab.email_address(
        int(customers.first_name[i]),
        int(customers.last_name[i]),
        int(customers.email_number[i]),
        int(customers.email_domain[i]),
    )


def _address(customers: Customers, i: int) -> tuple[str, str, str]:
    street = vocab.street_address(
        int(customers.house_number[i]), int(customers.street[i]), int(customers.apartment[i])
    )
    return street, vocab.CITIES[customers.city[i]], str(customers.postal_code[i])


def render_extract(customers: Customers) -> bytes:
    """The CSV rows (no header) of the customers present today, in customer_id order."""
    idx = np.flatnonzero(customers.present)
    first = [vocab.FIRST_NAMES[k] for k in customers.first_name[idx].tolist()]
    last = [vocab.LAST_NAMES[k] for k in customers.last_name[idx].tolist()]
    emails = [
        vocab.email_address(f, la, n, d)
        for f, la, n, d in zip(
            customers.first_name[idx].tolist(),
            customers.last_name[idx].tolist(),
            customers.email_number[idx].tolist(),
            customers.email_domain[idx].tolist(),
            strict=True,
        )
    ]
    streets = [
        vocab.street_address(h, s, a)
        for h, s, a in zip(
            customers.house_number[idx].tolist(),
            customers.street[idx].tolist(),
            customers.apartment[idx].tolist(),
            strict=True,
        )
    ]
    cities = [vocab.CITIES[k] for k in customers.city[idx].tolist()]
    tiers = [vocab.LOYALTY_TIERS[k] for k in customers.tier[idx].tolist()]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        zip(
            (idx + 1).tolist(),
            first,
            last,
            emails,
            streets,
            cities,
            customers.postal_code[idx].tolist(),
            tiers,
            format_dates(customers.signup_day[idx]),
            format_timestamps(customers.updated_at[idx]),
            strict=True,
        )
    )
    return out.getvalue().encode("utf-8")
