"""Command line: `python -m python_jobs.geo generate --seed 42 --size 512 --data-dir data`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from python_jobs.config import load_settings
from python_jobs.geo.generate import DEFAULT_SIZE_PX, DEFAULT_YEARS, generate_metro

app = typer.Typer(
    help="Module 5, geospatial: the seeded metro's files.", no_args_is_help=True, add_completion=False
)


@app.callback()
def main() -> None:
    """Keeps `generate` a subcommand (typer would otherwise collapse a one-command app)."""


@app.command()
def generate(
    seed: Annotated[
        int | None, typer.Option(help="Random seed. (default: GROCERY_SEED, else 42)", min=0)
    ] = None,
    size: Annotated[
        int, typer.Option(help="Raster width and height in 30 m pixels.", min=64)
    ] = DEFAULT_SIZE_PX,
    year: Annotated[list[int] | None, typer.Option(help="Image year (repeatable).")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder holding landing/ and truth/. (default: GROCERY_DATA_DIR, else ./data)"),
    ] = None,
) -> None:
    """Write the metro's imagery, tracts and business layers under landing/geo/, its truth under truth/geo/."""
    settings = load_settings().at(data_dir)
    paths = generate_metro(settings, seed if seed is not None else settings.seed, size, year or DEFAULT_YEARS)
    for path in paths.all():
        typer.echo(str(path))
