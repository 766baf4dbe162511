"""Command line: `python -m python_jobs.geo generate --seed 42 --size 512 --data-dir data`; the pipeline's step
`python -m python_jobs.geo run --data-dir data` (generates the metro when missing) and `load` (raw.geo_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from python_jobs.config import load_settings

# The generator's default size, from the light job module: importing the generator takes seconds, and `load`
# needs none of it (tests/test_geo_job.py checks the two agree).
from python_jobs.geo.job import PIPELINE_SIZE_PX as DEFAULT_SIZE_PX

app = typer.Typer(
    help="Module 5, geospatial: the seeded metro's files and the warehouse's geo tables.",
    no_args_is_help=True,
    add_completion=False,
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
    from python_jobs.geo.generate import DEFAULT_YEARS, generate_metro

    settings = load_settings().at(data_dir)
    paths = generate_metro(settings, seed if seed is not None else settings.seed, size, year or DEFAULT_YEARS)
    for path in paths.all():
        typer.echo(str(path))


@app.command()
def run(
    seed: Annotated[
        int | None, typer.Option(help="Random seed. (default: GROCERY_SEED, else 42)", min=0)
    ] = None,
    scale: Annotated[
        float | None, typer.Option(help="Scale of the customer base. (default: GROCERY_SCALE, else 1)")
    ] = None,
    size: Annotated[
        int,
        typer.Option(help="Raster width and height in 30 m pixels, if the metro must be generated.", min=64),
    ] = DEFAULT_SIZE_PX,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data folder (default: GROCERY_DATA_DIR, else ./data)."),
    ] = None,
) -> None:
    """The pipeline's geo step: tracts, tract x year built-up areas and store catchments under <data>/geo/."""
    from python_jobs.geo.job import run as run_job

    settings = load_settings().at(data_dir)
    changes = {k: v for k, v in {"seed": seed, "scale": scale}.items() if v is not None}
    result = run_job(settings.with_(**changes), size)
    c = result.customers
    typer.echo(
        f"geo: {'generated the metro, ' if result.generated else ''}years {', '.join(map(str, result.years))}; "
        + ", ".join(f"{name} {rows}" for name, rows in result.rows.items())
        + f"; customers {c['rows_in']} = {c['in_tract']} in a tract + {c['unmatched']} unmatched"
        f" + {c['quarantined']} quarantined"
    )


@app.command()
def load(
    data_dir: Annotated[
        Path | None, typer.Option(help="Data folder (default: GROCERY_DATA_DIR, else ./data).")
    ] = None,
    warehouse: Annotated[
        Path | None, typer.Option(help="DuckDB file (default: <data>/warehouse.duckdb).")
    ] = None,
) -> None:
    """Hand the geo step's outputs to the spine's loader: raw.geo_* (whole-table replace)."""
    from python_jobs.geo.job import load as load_job

    settings = load_settings().at(data_dir, warehouse)
    try:
        loaded = load_job(settings)
    except FileNotFoundError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    for table, rows in loaded.items():
        typer.echo(f"raw.{table}: {rows} rows")
