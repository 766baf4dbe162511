"""Orders and order lines: new orders of the day, late-arriving orders, and re-sent status updates.

Everything here is vectorised numpy over chunks of at most `CHUNK_ORDERS` orders, each chunk with its own
random stream, so memory stays constant at any scale and a chunk can be regenerated on its own later.

That regeneration is how updates work without storing anything between runs: when an order is created its
whole future is drawn with it (an evening order still open at midnight is delivered the next morning; a few
delivered orders are refunded, i.e. cancelled, one to three days later). On day D the generator rebuilds the
order chunks of days D-3..D-1 and re-sends the orders whose future says "something changes today".
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from python_jobs.generate import vocab
from python_jobs.generate.clock import SECONDS_PER_DAY, day_start
from python_jobs.generate.customers import Customers
from python_jobs.generate.products import Catalog
from python_jobs.generate.rng import Stream, rng_for
from python_jobs.generate.stores import STORE_CITY, STORE_FORMATS, Stores

ORDER_COLUMNS: tuple[str, ...] = (
    "order_id", "customer_id", "store_id", "order_ts", "status", "delivery_fee", "updated_at",
)  # fmt: skip
ORDER_LINE_COLUMNS: tuple[str, ...] = ("order_id", "line_number", "product_id", "quantity", "unit_price")

STATUSES: tuple[str, ...] = ("placed", "picked", "delivered", "cancelled")
PLACED, PICKED, DELIVERED, CANCELLED = range(len(STATUSES))

ORDERS_PER_SCALE = 2000
CHUNK_ORDERS = 200_000
# order_id = day * 10^9 + position within the day's deliveries (new orders first, then late ones). Ids from
# 500,000,000 on within a day are never genuine: bad records borrow them (see corruption.py).
ORDER_ID_DAY_FACTOR = 10**9
MAX_GENUINE_ORDERS_PER_DAY = 500_000_000

LATE_SHARE = 0.03  # late-arriving orders, as a share of the day's new orders
MAX_LATE_DAYS = 3
UPDATE_WINDOW_DAYS = 3  # updates re-send orders first delivered this many days back at most
REFUND_SHARE = 0.03  # delivered orders cancelled (refunded) one to three days later
CANCEL_SHARE = 0.04  # orders cancelled on the day they were placed
NEXT_DAY_SLOT_SHARE = 0.08  # orders booked for delivery tomorrow: still `placed` at midnight
DAILY_GROWTH = 0.002  # the company grows: +0.2 % orders per simulated day
WEEKDAY_FACTOR = (0.92, 0.90, 0.94, 0.98, 1.08, 1.18, 1.00)  # Monday..Sunday: weekend shopping peaks
SAME_CITY_STORE_SHARE = 0.8  # most orders are served by a store in the customer's city
# Share of orders per hour of the day: a lunch bump and an evening peak, almost nothing at night.
HOURLY_WEIGHTS = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 2.0, 3.5, 4.5, 5.0, 5.5,
    6.5, 6.0, 5.0, 4.8, 5.5, 7.5, 8.5, 8.0, 6.5, 4.5, 2.5, 1.0,
)  # fmt: skip
_PROFILE_CDF = np.concatenate([[0.0], np.cumsum(HOURLY_WEIGHTS) / sum(HOURLY_WEIGHTS)])
_PROFILE_SECONDS = np.arange(25) * 3600.0
PEAK_HOURS = (17, 20)  # [from, to): delivery costs one more during the evening peak
PEAK_SURCHARGE_CENTS = 100
FEE_CENTS_BY_FORMAT = {"express": 499, "supermarket": 399, "hypermarket": 299, "dark_store": 199}
FREE_DELIVERY_TIER = 2  # gold and platinum members deliver for free

# Minutes between order_ts and the status's updated_at, by status: [low, high).
LAG_MINUTES_LOW = np.array([0, 5, 30, 1])
LAG_MINUTES_HIGH = np.array([0, 25, 120, 30])

LINES_PER_ORDER = np.arange(1, 9)
LINES_PER_ORDER_WEIGHTS = np.array([0.12, 0.16, 0.18, 0.16, 0.13, 0.10, 0.08, 0.07])
QUANTITIES = np.arange(1, 7)
QUANTITY_WEIGHTS = np.array([0.55, 0.25, 0.10, 0.05, 0.03, 0.02])
DISCOUNT_SHARE = 0.07
DISCOUNT_PERCENTS = np.array([10, 20, 30])


def new_order_count(day: int, when: date, scale: float) -> int:
    return max(
        1, round(ORDERS_PER_SCALE * scale * WEEKDAY_FACTOR[when.weekday()] * (1 + DAILY_GROWTH * (day - 1)))
    )


def chunk_count(n_orders: int) -> int:
    return -(-n_orders // CHUNK_ORDERS)


@dataclass(frozen=True)
class Market:
    """Who can order on a given day and from which stores."""

    customer_id: np.ndarray
    activity_cdf: np.ndarray
    customer_city: np.ndarray
    customer_tier: np.ndarray
    store_fee_cents: np.ndarray  # by store position (store_id - 1)


def market(customers: Customers, stores: Stores, order_day: int) -> Market:
    """Customers in the extract who already existed before `order_day`, i.e. not created or returned
    since; that keeps every order's customer present (not deleted) in the extract at order time."""
    eligible = np.flatnonzero(customers.present & (customers.since_day < order_day))
    fee = np.array([FEE_CENTS_BY_FORMAT[STORE_FORMATS[f]] for f in stores.store_format])
    return Market(
        customer_id=eligible + 1,
        activity_cdf=np.cumsum(customers.activity[eligible]),
        customer_city=customers.city[eligible],
        customer_tier=customers.tier[eligible],
        store_fee_cents=fee,
    )


@dataclass(frozen=True)
class Orders:
    """A batch of order rows as parallel arrays, plus each order's drawn future (never written)."""

    order_id: np.ndarray
    customer_id: np.ndarray
    store_id: np.ndarray
    order_ts: np.ndarray  # seconds
    status: np.ndarray  # index into STATUSES
    fee_cents: np.ndarray
    updated_at: np.ndarray  # seconds
    # Up to two future status changes: days after the first delivery (0 = none), new status, second of day.
    next1_days: np.ndarray
    next1_status: np.ndarray
    next1_second: np.ndarray
    next2_days: np.ndarray
    next2_status: np.ndarray
    next2_second: np.ndarray

    def __len__(self) -> int:
        return len(self.order_id)

    def take(self, mask: np.ndarray) -> Orders:
        return replace(self, **{f.name: getattr(self, f.name)[mask] for f in fields(self)})


@dataclass(frozen=True)
class OrderLines:
    order_id: np.ndarray
    line_number: np.ndarray
    product_id: np.ndarray
    quantity: np.ndarray
    unit_price_cents: np.ndarray

    def __len__(self) -> int:
        return len(self.order_id)


def _seconds_of_day(u: np.ndarray) -> np.ndarray:
    """Map uniform [0, 1) numbers to seconds of the day following the hourly profile (inverse CDF)."""
    return np.interp(u, _PROFILE_CDF, _PROFILE_SECONDS).astype(np.int64)


def _stores_by_city() -> tuple[np.ndarray, np.ndarray]:
    """A (city, k) table of the store positions in each city, zero-padded, and the store count per city:
    the shape that lets "pick a random store in the customer's city" run vectorised."""
    n_cities = len(vocab.CITIES)
    counts = np.bincount(STORE_CITY, minlength=n_cities)
    table = np.zeros((n_cities, max(1, int(counts.max()))), dtype=np.int64)
    for city in range(n_cities):
        in_city = np.flatnonzero(np.equal(STORE_CITY, city))
        table[city, : len(in_city)] = in_city
    return table, counts


_CITY_STORES, _CITY_STORE_COUNT = _stores_by_city()


def _customers_and_stores(
    rng: np.random.Generator, mkt: Market, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Who orders (weighted by activity) and which store serves them: customer ids, store ids, and the
    customer tier and store base fee that the delivery fee depends on."""
    pick = np.searchsorted(mkt.activity_cdf, rng.random(n) * mkt.activity_cdf[-1], side="right")
    city = mkt.customer_city[pick]
    count = _CITY_STORE_COUNT[city]
    local = (rng.random(n) < SAME_CITY_STORE_SHARE) & (count > 0)
    local_store = _CITY_STORES[city, (rng.random(n) * np.maximum(count, 1)).astype(np.int64)]
    store = np.where(local, local_store, rng.integers(0, len(STORE_CITY), size=n))
    return mkt.customer_id[pick], store + 1, mkt.customer_tier[pick], mkt.store_fee_cents[store]


def _delivery_fee(tier: np.ndarray, base_fee: np.ndarray, second_of_day: np.ndarray) -> np.ndarray:
    hour = second_of_day // 3600
    peak = (hour >= PEAK_HOURS[0]) & (hour < PEAK_HOURS[1])
    return np.where(tier >= FREE_DELIVERY_TIER, 0, base_fee + np.where(peak, PEAK_SURCHARGE_CENTS, 0))


def new_orders_chunk(seed: int, day: int, when: date, n_orders: int, chunk: int, mkt: Market) -> Orders:
    """Chunk `chunk` of the `n_orders` orders placed on `day`."""
    rng = rng_for(seed, day, Stream.ORDERS, chunk)
    first = chunk * CHUNK_ORDERS
    n = min(CHUNK_ORDERS, n_orders - first)
    # Stratified sampling: chunk k takes the k-th slice of the day's quantiles, so order ids increase with
    # order_ts across all chunks, as they would in the upstream system.
    second = _seconds_of_day((first + np.sort(rng.random(n)) * n) / n_orders)
    midnight = day_start(when)
    customer_id, store_id, tier, base_fee = _customers_and_stores(rng, mkt, n)

    # At midnight, evening orders may still be waiting (placed) or being picked; earlier ones are done,
    # except those booked into a delivery slot tomorrow, which wait as placed.
    evening_open = rng.random(n) < np.clip((second - 20 * 3600) / (4 * 3600), 0.0, 1.0)
    next_day_slot = ~evening_open & (rng.random(n) < NEXT_DAY_SLOT_SHARE)
    is_open = evening_open | next_day_slot
    is_cancelled = rng.random(n) < CANCEL_SHARE
    status = np.select(
        [next_day_slot, evening_open & (second >= 22.5 * 3600), evening_open, is_cancelled],
        [PLACED, PLACED, PICKED, CANCELLED],
        DELIVERED,
    )
    low, high = LAG_MINUTES_LOW[status], LAG_MINUTES_HIGH[status]
    lag = ((low + rng.random(n) * (high - low)) * 60).astype(np.int64)
    order_ts = midnight + second
    updated_at = np.minimum(order_ts + lag, midnight + SECONDS_PER_DAY - 1)

    # The future: open orders resolve the next day, evening ones in the morning (a few only get picked then,
    # and delivered a day later); a few delivered orders get refunded, i.e. cancelled, 1-3 days later.
    r = rng.random(n)
    resolved = np.where(
        status == PLACED,
        np.where(r < 0.15, PICKED, np.where(r < 0.95, DELIVERED, CANCELLED)),
        np.where(r < 0.95, DELIVERED, CANCELLED),
    )
    refund = (status == DELIVERED) & (rng.random(n) < REFUND_SHARE)
    refund_days = rng.integers(1, UPDATE_WINDOW_DAYS + 1, size=n)
    morning = rng.integers(7 * 3600, 12 * 3600, size=n)
    daytime = rng.integers(8 * 3600, 22 * 3600, size=n)
    next1_days = np.where(is_open, 1, np.where(refund, refund_days, 0))
    next1_status = np.where(is_open, resolved, np.where(refund, CANCELLED, 0))
    twice = is_open & (resolved == PICKED)
    return Orders(
        order_id=day * ORDER_ID_DAY_FACTOR + first + np.arange(n, dtype=np.int64),
        customer_id=customer_id,
        store_id=store_id,
        order_ts=order_ts,
        status=status,
        fee_cents=_delivery_fee(tier, base_fee, second),
        updated_at=updated_at,
        next1_days=next1_days,
        next1_status=next1_status,
        next1_second=np.where(evening_open, morning, daytime),
        next2_days=np.where(twice, 2, 0),
        next2_status=np.where(twice, DELIVERED, 0),
        next2_second=rng.integers(7 * 3600, 12 * 3600, size=n),
    )


def new_orders(seed: int, day: int, when: date, scale: float, mkt: Market) -> Iterator[Orders]:
    n_orders = new_order_count(day, when, scale)
    if n_orders * (1 + LATE_SHARE) >= MAX_GENUINE_ORDERS_PER_DAY:
        raise ValueError(f"{n_orders} orders a day do not fit the order_id scheme; lower --scale")
    for chunk in range(chunk_count(n_orders)):
        yield new_orders_chunk(seed, day, when, n_orders, chunk, mkt)


def late_orders(seed: int, day: int, when: date, customers: Customers, stores: Stores, n_new: int) -> Orders:
    """Orders placed one to three days ago that the upstream only delivers today.

    They arrive in their final state but keep `updated_at = order_ts`; their customers existed on the order
    day and are still in today's extract. They take the ids right after today's new orders.
    """
    rng = rng_for(seed, day, Stream.LATE_ORDERS)
    n = round(LATE_SHARE * n_new) if day > 1 else 0
    days_back = rng.integers(1, min(MAX_LATE_DAYS, day - 1) + 1, size=n) if n else np.zeros(0, dtype=np.int64)
    second = _seconds_of_day(rng.random(n))
    customer_id = np.zeros(n, dtype=np.int64)
    store_id = np.zeros(n, dtype=np.int64)
    tier = np.zeros(n, dtype=np.int64)
    base_fee = np.zeros(n, dtype=np.int64)
    for back in range(1, MAX_LATE_DAYS + 1):
        group = np.flatnonzero(days_back == back)
        if len(group):
            mkt = market(customers, stores, order_day=day - back)
            customer_id[group], store_id[group], tier[group], base_fee[group] = _customers_and_stores(
                rng, mkt, len(group)
            )
    status = np.where(rng.random(n) < CANCEL_SHARE, CANCELLED, DELIVERED)
    order_ts = day_start(when) - days_back * SECONDS_PER_DAY + second
    order = np.argsort(order_ts, kind="stable")
    none = np.zeros(n, dtype=np.int64)
    return Orders(
        order_id=day * ORDER_ID_DAY_FACTOR + n_new + np.arange(n, dtype=np.int64),
        customer_id=customer_id[order],
        store_id=store_id[order],
        order_ts=order_ts[order],
        status=status[order],
        fee_cents=_delivery_fee(tier, base_fee, second)[order],
        updated_at=order_ts[order],
        next1_days=none,
        next1_status=none,
        next1_second=none,
        next2_days=none,
        next2_status=none,
        next2_second=none,
    )


def status_updates(earlier: Orders, days_later: int, when: date) -> Orders:
    """The orders of an earlier day whose drawn future changes their status `days_later` days after their
    first delivery, as re-sent rows: same order, new status, `updated_at` on `when`."""
    first, second = earlier.next1_days == days_later, earlier.next2_days == days_later
    changed = earlier.take(first | second)
    first = first[first | second]
    return replace(
        changed,
        status=np.where(first, changed.next1_status, changed.next2_status),
        updated_at=day_start(when) + np.where(first, changed.next1_second, changed.next2_second),
    )


def updated_orders(
    seed: int, day: int, when: date, scale: float, markets: dict[int, Market]
) -> Iterator[Orders]:
    """Today's re-sent orders, rebuilt chunk by chunk from the new orders of the previous days.

    `markets` maps each of the previous `UPDATE_WINDOW_DAYS` days to the market of that day.
    """
    for earlier_day in range(max(1, day - UPDATE_WINDOW_DAYS), day):
        earlier_when = when - timedelta(days=day - earlier_day)
        n_orders = new_order_count(earlier_day, earlier_when, scale)
        for chunk in range(chunk_count(n_orders)):
            orders = new_orders_chunk(seed, earlier_day, earlier_when, n_orders, chunk, markets[earlier_day])
            yield status_updates(orders, day - earlier_day, when)


def order_lines(rng: np.random.Generator, order_id: np.ndarray, catalog: Catalog) -> OrderLines:
    """One to eight lines per order, products by popularity at the catalogue price, a few discounted."""
    n_lines = rng.choice(LINES_PER_ORDER, size=len(order_id), p=LINES_PER_ORDER_WEIGHTS)
    total = int(n_lines.sum())
    first_line = np.cumsum(n_lines) - n_lines
    product = catalog.sample(rng, total)
    discount = np.where(rng.random(total) < DISCOUNT_SHARE, rng.choice(DISCOUNT_PERCENTS, size=total), 0)
    price = catalog.price_cents[product]
    return OrderLines(
        order_id=np.repeat(order_id, n_lines),
        line_number=np.arange(total) - np.repeat(first_line, n_lines) + 1,
        product_id=catalog.product_id[product],
        quantity=rng.choice(QUANTITIES, size=total, p=QUANTITY_WEIGHTS),
        unit_price_cents=(price * (100 - discount) + 50) // 100,  # rounded half up to whole cents
    )


# --- rendering -------------------------------------------------------------------------------------------
# pyarrow's C++ CSV writer turns a million rows into text in a tenth of a second, about ten times faster
# than the csv module; no value in these two sources ever needs quoting, hence quoting_style="none".

_WRITE_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="none")


def money(cents: np.ndarray) -> pa.Array:
    """Integer cents as `12.34` text. Amounts repeat a lot, so each distinct one is formatted only once."""
    distinct, position = np.unique(cents, return_inverse=True)
    labels = pa.array([f"{c // 100}.{c % 100:02d}" for c in distinct.tolist()], pa.string())
    return labels.take(pa.array(position))


def _csv_rows(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pa_csv.write_csv(table, out, _WRITE_OPTIONS)
    return out.getvalue()


def render_orders(orders: Orders) -> bytes:
    statuses = pa.array(STATUSES, pa.string())
    return _csv_rows(
        pa.table(
            {
                "order_id": orders.order_id,
                "customer_id": orders.customer_id,
                "store_id": orders.store_id,
                "order_ts": pa.array(orders.order_ts, pa.timestamp("s")),
                "status": statuses.take(pa.array(orders.status)),
                "delivery_fee": money(orders.fee_cents),
                "updated_at": pa.array(orders.updated_at, pa.timestamp("s")),
            }
        )
    )


def render_order_lines(lines: OrderLines) -> bytes:
    return _csv_rows(
        pa.table(
            {
                "order_id": lines.order_id,
                "line_number": lines.line_number,
                "product_id": lines.product_id,
                "quantity": lines.quantity,
                "unit_price": money(lines.unit_price_cents),
            }
        )
    )
