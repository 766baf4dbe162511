"""`python -m python_jobs.compute`: the distributed compute module's jobs (see docs/compute.md)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from python_jobs.cli_support import known_name, parse_days, progress_bar
from python_jobs.compute.engines import ENGINES, get_engine
from python_jobs.config import Settings, load_compute_settings, load_settings

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option(help="Data folder (default: GROCERY_DATA_DIR or ./data).")]
Days = Annotated[
    list[str] | None,
    typer.Option("--day", help="A run day, YYYY-MM-DD or a day number; repeat for several."),
]
DayCount = Annotated[int | None, typer.Option("--days", help="Days 1..N (instead of --day).")]


def _settings(data_dir: Path | None, warehouse: Path | None = None) -> Settings:
    return load_settings().at(data_dir, warehouse)


def _days(settings: Settings, days: list[str] | None, count: int | None) -> list[date]:
    return parse_days(settings, days, count, required=True)


@app.callback()
def main() -> None:
    """Module 4: Monte Carlo stock-out risk per store x category on NumPy, processes, Ray and Dask."""


@app.command()
def run(
    day: Days = None,
    days: DayCount = None,
    data_dir: DataDir = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help=f"{', '.join(ENGINES)} (default: GROCERY_COMPUTE_ENGINE or numpy).",
            callback=known_name(get_engine),
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: GROCERY_COMPUTE_WORKERS or 2).")
    ] = None,
    fit: Annotated[
        str | None, typer.Option(help="Demand fit: pandas or dask (default: GROCERY_COMPUTE_FIT or pandas).")
    ] = None,
    paths: Annotated[
        int | None, typer.Option(help="Paths per store x category (default: GROCERY_COMPUTE_PATHS).")
    ] = None,
) -> None:
    """The pipeline's step: stock-out risk for the week after each run day, written for the loader."""
    from python_jobs.compute.fit import HistoryError
    from python_jobs.compute.job import run_day
    from python_jobs.compute.model import ParameterError

    settings = _settings(data_dir)
    compute = load_compute_settings()
    overrides = {"engine": engine, "fit": fit, "workers": workers, "paths": paths}
    compute = dataclasses.replace(compute, **{k: v for k, v in overrides.items() if v is not None})
    for when in _days(settings, day, days):
        with progress_bar(console, f"{when} · {compute.engine}", transient=True) as bar:
            task = bar.add_task("tasks", total=None)
            try:
                result = run_day(settings, compute, when, progress=lambda n, t=task: bar.advance(t, n))
            except (HistoryError, ParameterError) as error:
                console.print(f"[bold red]compute failed for {when}:[/] {error}")
                raise typer.Exit(1) from None
        console.print(
            f"{when}: {result.rows} store x category rows ({compute.paths} paths each) -> {result.path}"
        )


@app.command()
def load(
    day: Days = None,
    days: DayCount = None,
    data_dir: DataDir = None,
    warehouse: Annotated[
        Path | None, typer.Option(help="DuckDB file (default: data/warehouse.duckdb).")
    ] = None,
) -> None:
    """Hand the compute outputs of run days to the spine's loader (raw.compute_stockout_risk)."""
    from python_jobs.compute.job import load_day

    settings = _settings(data_dir, warehouse)
    for when in _days(settings, day, days):
        try:
            rows = load_day(settings, when)
        except FileNotFoundError as error:
            console.print(f"[bold red]{error}[/]")
            raise typer.Exit(1) from None
        console.print(f"raw.compute_stockout_risk/{when}: {rows} rows")


@app.command()
def tune(
    day: Annotated[
        str, typer.Option(help="Run day whose fitted series are searched, YYYY-MM-DD or a number.")
    ],
    data_dir: DataDir = None,
    series: Annotated[int, typer.Option(help="How many store x category series (the first ones).")] = 4,
    paths: Annotated[int, typer.Option(help="Paths per policy (blocks of 512, ASHA's rungs).")] = 4096,
    samples: Annotated[int, typer.Option(help="Tune trials per series.")] = 16,
    seed: Annotated[int, typer.Option(help="TPE's seed.")] = 0,
) -> None:
    """Reorder policy (s, S) per series: Ray Tune (TPE + ASHA) against the plain grid over the same space."""
    from rich.table import Table

    from python_jobs.compute.fit import Window, fit_pandas, rule_of_thumb_policy
    from python_jobs.compute.job import history_files
    from python_jobs.compute.model import Series, SimulationSpec
    from python_jobs.compute.policy import CostModel, space_in_days
    from python_jobs.compute.ray.tune import TuneOptions, search_policies

    settings = _settings(data_dir)
    when = _days(settings, [day], None)[0]
    spec = SimulationSpec(paths=paths, seed=settings.seed, block_paths=512)
    fit = fit_pandas(history_files(settings, when), Window(settings.start_date, when))
    chosen = Series.from_frame(rule_of_thumb_policy(fit, spec.lead_days).head(series))
    storage = settings.data_dir / "tmp" / "ray-tune"
    found = search_policies(
        spec,
        chosen,
        space_in_days,
        CostModel(),
        load_compute_settings(),
        storage,
        TuneOptions(num_samples=samples, seed=seed),
    )
    table = Table(title=f"reorder policy search as of {when}: {paths} paths a policy, common random numbers")
    for column in (
        "store x category",
        "searcher",
        "trials",
        "full runs",
        "blocks",
        "wall s",
        "best (s, S)",
        "cost/week",
        "gap",
    ):
        table.add_column(column, justify="right")
    for item in found.series:
        for name, result in (("grid", item.grid), ("Tune TPE+ASHA", item.tune)):
            gap = result.best.expected_cost / item.grid.best.expected_cost - 1
            table.add_row(
                f"{item.store_id} x {item.category_id}",
                name,
                str(result.trials),
                str(result.full_evaluations),
                str(result.blocks),
                f"{result.wall_seconds:.2f}",
                f"({result.best.reorder_point}, {result.best.order_up_to})",
                f"{result.best.expected_cost / 100:.2f}",
                f"{gap:+.1%}",
            )
    Console(width=140).print(table)


@app.command()
def engines() -> None:
    """List the simulation engines."""
    for engine in ENGINES.values():
        console.print(f"{engine.name:<12} {engine.family:<6} {engine.memory}")
