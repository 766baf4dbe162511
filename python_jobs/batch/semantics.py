"""What the batch computation means, in one place every engine imports: inputs, outputs, windows.

Rules (docs/batch.md explains them with examples):
- An order is represented by its latest delivered version: greatest `updated_at`, on a tie the later landing
  day. Its status decides whether it counts: cancelled orders are excluded (the rule of dbt's fct_daily_sales).
- A line counts when its order's latest version is not cancelled; the product's category comes from the seed.
- `order_date` is the calendar day of `order_ts`. Money is summed in integer cents so every engine agrees to the
  cent; means are ratios of integer sums (float64 division, correctly rounded everywhere), so they agree bit
  for bit.
- Customer RFM is computed as of the last landing day read: recency in days since the last counted order,
  frequency = counted orders, monetary = their goods value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# Orders change for at most this many days after their order date (late arrival or re-sent update, see the
# generator's MAX_LATE_DAYS and UPDATE_WINDOW_DAYS): older daily partitions are final.
WINDOW_DAYS = 3

ORDER_COLUMNS = ("order_id", "customer_id", "store_id", "order_ts", "status", "delivery_fee", "updated_at")
LINE_COLUMNS = ("order_id", "line_number", "product_id", "quantity", "unit_price")

# Output tables and their columns, in order. Every engine writes exactly these (types in canonical.py).
PRODUCT_DAILY = (
    "order_date",
    "store_id",
    "product_id",
    "category_id",
    "order_count",
    "line_count",
    "item_count",
    "revenue_cents",
    "avg_quantity",
)
STORE_DAILY = (
    "order_date",
    "store_id",
    "order_count",
    "customer_count",
    "line_count",
    "item_count",
    "revenue_cents",
    "avg_basket_items",
    "avg_basket_cents",
)
CUSTOMER_RFM = (
    "as_of",
    "customer_id",
    "last_order_date",
    "recency_days",
    "frequency",
    "monetary_cents",
    "avg_order_cents",
)
OUTPUTS: dict[str, tuple[str, ...]] = {
    "product_daily": PRODUCT_DAILY,
    "store_daily": STORE_DAILY,
    "customer_rfm": CUSTOMER_RFM,
}

_PART = re.compile(r"^(orders|order_lines)(-[A-Za-z0-9_]+)?\.csv$")


@dataclass(frozen=True)
class LandingFile:
    day: date
    source: str
    path: Path


def landing_days(landing_dir: Path, through: date | None = None) -> list[date]:
    """Landing days present (a folder per day), up to `through` inclusive."""
    days = []
    for folder in landing_dir.iterdir() if landing_dir.exists() else []:
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if through is None or day <= through:
            days.append(day)
    return sorted(days)


def landing_files(
    landing_dir: Path, days: list[date], source: str, *, non_empty: bool = True
) -> list[LandingFile]:
    """The files of `source` (main file plus extra parts) of each day, in day then name order."""
    found = []
    for day in days:
        for path in sorted((landing_dir / day.isoformat()).glob(f"{source}*.csv")):
            match = _PART.match(path.name)
            if match and match.group(1) == source and (not non_empty or path.stat().st_size > 0):
                found.append(LandingFile(day, source, path))
    return found


def input_bytes(landing_dir: Path, days: list[date]) -> int:
    return sum(
        f.path.stat().st_size for s in ("orders", "order_lines") for f in landing_files(landing_dir, days, s)
    )
