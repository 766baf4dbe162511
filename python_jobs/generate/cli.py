"""Command line: `python -m python_jobs.generate day --day 2026-01-07` (or `--day 3`, repeatable), `... days --days 7`.

Options left out fall back to the Settings read from the environment (GROCERY_SEED, GROCERY_SCALE,
GROCERY_BAD_SHARE, GROCERY_DATA_DIR), so `make`-style pipelines and a person at a terminal agree.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from python_jobs.cli_support import parse_days, progress_bar
from python_jobs.config import Settings, load_settings
from python_jobs.generate.day import DayResult, generate_day
from python_jobs.generate.orders import new_order_count

app = typer.Typer(
    help="Generate the seeded landing files and ground truth of simulated days (see docs/contracts.md).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)  # one line per day, also in CI logs

Seed = Annotated[int | None, typer.Option(help="Random seed. (default: GROCERY_SEED, else 42)", min=0)]
Scale = Annotated[
    float | None,
    typer.Option(
        help="Size factor: ~2000 x scale orders a day. (default: GROCERY_SCALE, else 1)", min=0.0001
    ),
]
BadShare = Annotated[
    float | None,
    typer.Option(
        "--bad-share",
        help="Extra bad lines per source, as a share of its genuine rows; 0 disables. "
        "(default: GROCERY_BAD_SHARE, else 0.01)",
        min=0.0,
        max=1.0,
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(help="Folder holding landing/ and truth/. (default: GROCERY_DATA_DIR, else ./data)"),
]


def _settings(
    seed: int | None, scale: float | None, bad_share: float | None, data_dir: Path | None
) -> Settings:
    overrides = {
        "seed": seed,
        "scale": scale,
        "bad_share": bad_share,
        "data_dir": data_dir and data_dir.resolve(),
    }
    return load_settings().with_(**{name: value for name, value in overrides.items() if value is not None})


def _run(settings: Settings, days: list[int]) -> None:
    """Generate the days in order, with a progress bar (counted in new orders) when on a terminal."""
    total = sum(new_order_count(day, settings.day_date(day), settings.scale) for day in days)
    with progress_bar(console, disable=not console.is_terminal) as progress:
        task = progress.add_task("orders", total=total)
        for day in days:
            progress.update(task, description=f"day {day} ({settings.day_date(day)})")
            started = time.perf_counter()
            result = generate_day(settings, day, on_orders=lambda n: progress.advance(task, n))
            _report(settings, result, time.perf_counter() - started)


def _report(settings: Settings, result: DayResult, seconds: float) -> None:
    rows = ", ".join(f"{n:,} {source}" for source, n in result.genuine_rows.items())
    bad = sum(result.bad_rows.values())
    console.print(
        f"day {result.day} ({result.when}): {rows}; {bad:,} bad lines -> "
        f"{settings.landing_dir / result.when.isoformat()} [{seconds:.1f} s]",
        highlight=False,
    )


@app.command("day")
def some_days(
    day: Annotated[
        list[str],
        typer.Option(help="Simulated day, YYYY-MM-DD or a day number (1 is the start date); repeatable."),
    ],
    seed: Seed = None,
    scale: Scale = None,
    bad_share: BadShare = None,
    data_dir: DataDir = None,
) -> None:
    """Write the landing files and ground truth of the given simulated days, in calendar order."""
    settings = _settings(seed, scale, bad_share, data_dir)
    dates = parse_days(settings, day)
    _run(settings, [settings.day_number(d) for d in dates])


@app.command("days")
def first_days(
    days: Annotated[int, typer.Option(help="Write days 1..DAYS.", min=1)],
    seed: Seed = None,
    scale: Scale = None,
    bad_share: BadShare = None,
    data_dir: DataDir = None,
) -> None:
    """Write the landing files and ground truth of days 1..DAYS."""
    _run(_settings(seed, scale, bad_share, data_dir), list(range(1, days + 1)))
