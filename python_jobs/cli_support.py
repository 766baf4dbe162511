"""What every command line of the project shares: the day convention's errors and the engine registries'
names, so a wrong `--day` or engine reads the same in every CLI."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from python_jobs.config import Settings


def parse_days(
    settings: Settings, days: Iterable[str] | None, count: int | None = None, *, required: bool = False
) -> list[date]:
    """`--day` values (YYYY-MM-DD or a day number, repeatable) or `--days N` as sorted distinct dates."""
    days = list(days or ())
    if (count is not None and days) or (required and count is None and not days):
        raise typer.BadParameter("give --day (repeatable) or --days N", param_hint="--day")
    try:
        if count is not None:
            return [settings.day_date(n) for n in range(1, count + 1)]
        return sorted({settings.parse_day(d) for d in days})
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--day") from error


def parse_day(settings: Settings, day: str) -> date:
    (when,) = parse_days(settings, [day])
    return when


def known_name(lookup: Callable[[str], object]) -> Callable[[str | None], str | None]:
    """A typer callback that rejects a name `lookup` raises ValueError for (e.g. a registry's get_engine)."""

    def check(name: str | None) -> str | None:
        if name is not None:
            try:
                lookup(name)
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from None
        return name

    return check


def progress_bar(
    console: Console | None = None, description: str = "{task.description}", **options: Any
) -> Progress:
    """The project's one progress display: description, bar, done/total, elapsed (rich; `options` go to Progress,
    e.g. transient=True or disable=...)."""
    columns = (TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, **options)


def import_entry(ref: str) -> Any:
    """The object a registry names as "package.module:attribute", imported only when it is needed."""
    module, sep, attribute = ref.partition(":")
    if not sep or not attribute:
        raise ValueError(f"{ref!r} is not module:attribute")
    return getattr(importlib.import_module(module), attribute)
