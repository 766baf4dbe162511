"""One simulated day, end to end: replay the world, write the landing files with their bad lines, then
the ground truth, and `summary.json` last (its presence means the day is complete)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from python_jobs.config import Settings
from python_jobs.generate import customers as customer_extract
from python_jobs.generate import stores as store_extract
from python_jobs.generate.corruption import EMPTY_FILE, SOURCE_NAMES, SOURCES, bad_lines
from python_jobs.generate.orders import (
    UPDATE_WINDOW_DAYS,
    late_orders,
    market,
    new_order_count,
    new_orders,
    order_lines,
    render_order_lines,
    render_orders,
    updated_orders,
)
from python_jobs.generate.products import load_catalog
from python_jobs.generate.rng import Stream, rng_for
from python_jobs.generate.truth import (
    BadRecord,
    write_bad_records,
    write_customer_changes,
    write_store_changes,
    write_summary,
)
from python_jobs.generate.world import replay
from python_jobs.generate.writer import AtomicFile, Block, remove_stale_temp_files

# Some days an upstream also delivers an empty extra part: on odd days of order_lines, on even days of orders.
EMPTY_PART_SOURCES = ("orders", "order_lines")
EMPTY_PART_SUFFIX = "late"
_LANDING_FILE = re.compile(rf"^({'|'.join(SOURCE_NAMES)})(-[A-Za-z0-9_]+)?\.csv$")

OrdersProgress = Callable[[int], None]  # called with the number of new orders just written


@dataclass(frozen=True)
class DayResult:
    day: int
    when: date
    genuine_rows: dict[str, int]
    bad_rows: dict[str, int]
    files: dict[str, str]  # landing file (relative to the landing folder) -> sha256


class _LandingDay:
    """The landing folder of one day: opens files, splices bad lines in, and keeps the books."""

    def __init__(self, settings: Settings, day: int, folder: Path) -> None:
        self.settings, self.day, self.folder = settings, day, folder
        self.genuine_rows: Counter[str] = Counter()
        self.bad_rows: Counter[str] = Counter()
        self.bad_records: list[BadRecord] = []
        self.opened: list[AtomicFile] = []

    def relative(self, name: str) -> str:
        return f"{self.folder.name}/{name}"

    def open(self, stack: ExitStack, source: str, suffix: str = "", empty: bool = False) -> AtomicFile:
        """A landing file that `stack` publishes when it closes; `empty` means not even a header."""
        name = f"{source}-{suffix}.csv" if suffix else f"{source}.csv"
        out = stack.enter_context(AtomicFile(self.folder / name, None if empty else SOURCES[source].columns))
        self.opened.append(out)
        return out

    @property
    def files(self) -> dict[str, str]:
        return {
            self.relative(out.path.name): out.sha256 for out in sorted(self.opened, key=lambda o: o.path.name)
        }

    def write(self, out: AtomicFile, source: str, rows: bytes, block_index: int) -> None:
        block = Block.of(rows)
        rng = rng_for(
            self.settings.seed, self.day, Stream.CORRUPTION, SOURCE_NAMES.index(source), block_index
        )
        inserts = bad_lines(SOURCES[source], block, self.settings.bad_share, rng, every_kind=block_index == 0)
        for written in out.write_block(block, inserts):
            self.bad_records.append(
                BadRecord(source, self.relative(out.path.name), written.line, written.kind, written.key)
            )
        self.genuine_rows[source] += block.n_rows
        self.bad_rows[source] += len(inserts)

    def remove_stale_files(self) -> None:
        """Landing files of an earlier run of this day that this run did not produce (e.g. an empty part
        written with another --bad-share)."""
        for path in self.folder.glob("*.csv"):
            if _LANDING_FILE.match(path.name) and self.relative(path.name) not in self.files:
                path.unlink()


def generate_day(settings: Settings, day: int, on_orders: OrdersProgress | None = None) -> DayResult:
    """Write `landing/<date>/` and `truth/<date>/` of simulated day `day` (1-based)."""
    when = settings.day_date(day)
    states = replay(settings.seed, settings.scale, settings.start_date, day, keep=UPDATE_WINDOW_DAYS + 1)
    today = states[-1]
    catalog = load_catalog(settings.seeds_dir, settings.seed)
    landing_folder = settings.landing_dir / when.isoformat()
    truth_folder = settings.truth_dir / when.isoformat()
    for folder in (landing_folder, truth_folder):
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(folder)
    (truth_folder / "summary.json").unlink(missing_ok=True)  # the day is incomplete until rewritten
    landing = _LandingDay(settings, day, landing_folder)
    seed, scale = settings.seed, settings.scale

    with ExitStack() as stack:
        landing.write(
            landing.open(stack, "customers"), "customers", customer_extract.render_extract(today.customers), 0
        )
        landing.write(landing.open(stack, "stores"), "stores", store_extract.render_extract(today.stores), 0)

    with ExitStack() as stack:
        orders_out, lines_out = landing.open(stack, "orders"), landing.open(stack, "order_lines")
        block = 0
        for chunk, orders in enumerate(
            new_orders(seed, day, when, scale, market(today.customers, today.stores, day))
        ):
            lines = order_lines(rng_for(seed, day, Stream.ORDER_LINES, chunk), orders.order_id, catalog)
            landing.write(orders_out, "orders", render_orders(orders), block)
            landing.write(lines_out, "order_lines", render_order_lines(lines), block)
            block += 1
            if on_orders:
                on_orders(len(orders))

        n_new = new_order_count(day, when, scale)
        late = late_orders(seed, day, when, today.customers, today.stores, n_new)
        late_lines = order_lines(rng_for(seed, day, Stream.LATE_ORDER_LINES), late.order_id, catalog)
        landing.write(orders_out, "orders", render_orders(late), block)
        landing.write(lines_out, "order_lines", render_order_lines(late_lines), block)
        block += 1

        earlier_markets = {s.day: market(s.customers, s.stores, s.day) for s in states[:-1]}
        for updates in updated_orders(seed, day, when, scale, earlier_markets):
            if len(updates):
                landing.write(orders_out, "orders", render_orders(updates), block)
                block += 1

    bad_records = landing.bad_records
    if settings.bad_share > 0:
        source = EMPTY_PART_SOURCES[day % 2]
        with ExitStack() as stack:
            empty = landing.open(stack, source, EMPTY_PART_SUFFIX, empty=True)
        bad_records.append(BadRecord(source, landing.relative(empty.path.name), 0, EMPTY_FILE, ""))
    landing.remove_stale_files()

    write_customer_changes(truth_folder / "customer_changes.csv", today.customer_changes)
    write_store_changes(truth_folder / "store_changes.csv", today.store_changes)
    write_bad_records(truth_folder / "bad_records.csv", bad_records)
    result = DayResult(
        day=day,
        when=when,
        genuine_rows={source: landing.genuine_rows[source] for source in SOURCE_NAMES},
        bad_rows={source: landing.bad_rows[source] for source in SOURCE_NAMES},
        files=landing.files,
    )
    write_summary(
        truth_folder / "summary.json",
        {
            "day": when.isoformat(),
            "day_number": day,
            "seed": seed,
            "scale": scale,
            "bad_share": settings.bad_share,
            "genuine_rows": result.genuine_rows,
            "bad_rows": result.bad_rows,
            "files": result.files,
        },
    )
    return result
