"""`python -m python_jobs.postgres`: the same marts on PostgreSQL — throwaway server, loader, build, parity.

Every command that needs a server takes `--dsn`; without it, `pipeline` starts a throwaway one (initdb + pg_ctl
from the installed PostgreSQL server binaries, 127.0.0.1, free port) and removes it afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from python_jobs.config import Settings, load_settings
from python_jobs.orchestration import PipelineBusyError, StepResult, build_warehouse, pipeline_lock
from python_jobs.postgres import federated
from python_jobs.postgres.attach import connect, warehouse_catalog
from python_jobs.postgres.build import build_on_postgres
from python_jobs.postgres.load import load_schemas
from python_jobs.postgres.parity import RelationParity, compare_schema
from python_jobs.postgres.server import throwaway_postgres

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console()

Dsn = Annotated[
    str, typer.Option(help="PostgreSQL connection string, e.g. postgresql://u:p@127.0.0.1:5432/db.")
]
WarehouseOpt = Annotated[
    Path | None, typer.Option(help="DuckDB warehouse (default: WAREHOUSE_PATH or data/warehouse.duckdb).")
]
DataDir = Annotated[Path | None, typer.Option(help="Data folder (default: GROCERY_DATA_DIR or ./data).")]

# The schemas each tool's marts live in: (schema in the DuckDB warehouse, schema in Postgres).
MART_SCHEMAS = {"dbt": ("marts", "marts"), "sqlmesh": ("sqlmesh_marts", "sqlmesh_marts")}


def _settings(data_dir: Path | None = None, warehouse: Path | None = None) -> Settings:
    return load_settings().at(data_dir, warehouse)


def parity_table(title: str, results: list[RelationParity]) -> Table:
    table = Table(title=f"{title}: {results[0].relation.split('.')[0]}" if results else title)
    for col in ("mart", "DuckDB rows", "Postgres rows", "only DuckDB", "only Postgres", "verdict"):
        table.add_column(
            col, justify="left" if col in ("mart", "verdict") else "right", no_wrap=col == "mart"
        )
    for r in results:
        verdict = "[green]equal[/]" if r.equal else "[red]DIFFERENT[/]"
        if r.type_differences:
            verdict += f" (cast: {'; '.join(r.type_differences)})"
        table.add_row(
            r.relation.split(".")[-1],
            f"{r.duckdb_rows:,}",
            f"{r.postgres_rows:,}",
            f"{r.only_in_duckdb:,}",
            f"{r.only_in_postgres:,}",
            verdict,
        )
    return table


def run_parity(warehouse: Path, dsn: str, tools: list[str]) -> list[RelationParity]:
    con = connect(dsn, warehouse=warehouse, postgres_read_only=True)
    try:
        results: list[RelationParity] = []
        for tool in tools:
            duck_schema, pg_schema = MART_SCHEMAS[tool]
            found = compare_schema(con, warehouse_catalog(warehouse), duck_schema, pg_schema)
            console.print(parity_table(f"{tool}: DuckDB ≡ Postgres", found))
            results += found
        return results
    finally:
        con.close()


@app.command()
def load(
    dsn: Dsn,
    warehouse: WarehouseOpt = None,
    schema: Annotated[list[str] | None, typer.Option(help="Schema to copy (repeatable).")] = None,
) -> None:
    """Copy the warehouse's raw tables into Postgres (replacing them, in one transaction)."""
    settings = _settings(warehouse=warehouse)
    copies = load_schemas(settings.warehouse_path, dsn, tuple(schema or ["raw"]))
    for c in copies:
        console.print(f"{c.schema}.{c.table}: {c.rows:,} rows")


@app.command()
def parity(
    dsn: Dsn,
    warehouse: WarehouseOpt = None,
    tool: Annotated[
        list[str] | None, typer.Option(help="dbt and/or sqlmesh (repeatable; default both).")
    ] = None,
) -> None:
    """Compare every mart of the warehouse with its Postgres twin (row counts, EXCEPT ALL both ways)."""
    settings = _settings(warehouse=warehouse)
    results = run_parity(settings.warehouse_path, dsn, tool or list(MART_SCHEMAS))
    if not all(r.equal for r in results):
        raise typer.Exit(1)


@app.command("federated")
def federated_cmd(dsn: Dsn, warehouse: WarehouseOpt = None, data_dir: DataDir = None) -> None:
    """Join Postgres marts with a local Parquet file and DuckDB tables in one DuckDB query."""
    settings = _settings(data_dir, warehouse)
    parquet = settings.data_dir / "federated" / "order_lines.parquet"
    con = connect(dsn, warehouse=settings.warehouse_path, postgres_read_only=True)
    try:
        catalog = warehouse_catalog(settings.warehouse_path)
        rows = federated.export_order_lines(con, catalog, parquet)
        console.print(f"order lines → {parquet} ({rows:,} rows)")
        sql = federated.revenue_query(parquet, catalog)
        started = time.perf_counter()
        result = con.execute(sql)
        names = [d[0] for d in result.description]
        table = Table(title=f"revenue by department x tier ({time.perf_counter() - started:.2f}s)")
        for name in names:
            table.add_column(name)
        for row in result.fetchall():
            table.add_row(*(str(v) for v in row))
        console.print(table)
        console.print(federated.physical_plan(con, sql), markup=False, highlight=False)
    finally:
        con.close()


@app.command()
def pipeline(
    days: Annotated[int, typer.Option(help="Simulated days to run (1..DAYS).")] = 3,
    scale: Annotated[float | None, typer.Option(help="Scale factor of the generated data.")] = None,
    seed: Annotated[int | None, typer.Option(help="Generator seed.")] = None,
    data_dir: DataDir = None,
    dsn: Annotated[str | None, typer.Option(help="Use this server instead of a throwaway one.")] = None,
    reuse_warehouse: Annotated[
        bool, typer.Option(help="Skip the DuckDB pipeline and use the warehouse already built for DAYS days.")
    ] = False,
) -> None:
    """DuckDB pipeline for DAYS days, then the same marts on Postgres, then DuckDB ≡ Postgres parity."""
    settings = _settings(data_dir)
    if scale is not None:
        settings = settings.with_(scale=scale)
    if seed is not None:
        settings = settings.with_(seed=seed)
    tools = list(MART_SCHEMAS)
    try:
        with pipeline_lock(settings.data_dir):
            duckdb_results = [] if reuse_warehouse else build_warehouse(settings, days, jobs=2)
            if dsn is not None:
                results = build_on_postgres(settings, days, dsn, tools=tools)
                verdicts = run_parity(settings.warehouse_path, dsn, tools)
            else:
                with throwaway_postgres(bindir=settings.pg_bindir) as server:
                    console.print(f"throwaway PostgreSQL on {server.host}:{server.port}")
                    results = build_on_postgres(settings, days, server.dsn, tools=tools)
                    verdicts = run_parity(settings.warehouse_path, server.dsn, tools)
    except PipelineBusyError as exc:
        console.print(f"[bold red]not started:[/] {exc}")
        raise typer.Exit(2) from None
    except subprocess.CalledProcessError as exc:
        console.print(f"[bold red]failed at step '{exc.cmd}'[/] (logs under {settings.data_dir / 'logs'}):")
        console.print(exc.output, markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(side_by_side(duckdb_results + results))
    if not all(v.equal for v in verdicts):
        console.print("[bold red]parity failed[/]")
        raise typer.Exit(1)
    console.print(
        f"[green]done[/]: {days} day(s) at scale {settings.scale}, every mart equal on both engines"
    )


@app.command()
def server(
    keep_seconds: Annotated[float, typer.Option(help="Stop after this many seconds (0: until Ctrl-C).")] = 0,
) -> None:
    """Start a throwaway server and print its variables; stop and delete it on Ctrl-C."""
    # `kill <pid>` should clean up like Ctrl-C does: turn SIGTERM into the same exception.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with throwaway_postgres(bindir=load_settings().pg_bindir) as srv:
        for key, value in srv.env().items():
            console.print(f"export {key}={value}")
        console.print(f"# DSN {srv.dsn} — Ctrl-C stops the server and deletes its files")
        try:
            if keep_seconds > 0:
                time.sleep(keep_seconds)
            else:
                signal.pause()
        except KeyboardInterrupt:
            pass


# (column title, step name): the DuckDB steps are the pipeline's own, the Postgres ones python_jobs.postgres.build's.
SIDE_BY_SIDE = [
    ("dbt · DuckDB", "dbt build"),
    ("dbt · Postgres", "dbt build (postgres)"),
    ("SQLMesh · DuckDB", "sqlmesh"),
    ("SQLMesh · Postgres", "sqlmesh (postgres)"),
]


def side_by_side(results: list[StepResult]) -> Table:
    """Wall seconds per day of each tool on each engine (dbt build; SQLMesh plan on day 1, run after)."""
    table = Table(title="wall seconds per simulated day")
    table.add_column("day")
    columns = [(title, step) for title, step in SIDE_BY_SIDE if any(r.step == step for r in results)]
    for title, _ in columns:
        table.add_column(title, justify="right")
    seconds = {(r.day, r.step): r.seconds for r in results}
    days = sorted({r.day for r in results if any(r.step == step for _, step in columns)})
    for day in days:
        table.add_row(day.isoformat(), *(f"{seconds.get((day, step), 0):.1f}" for _, step in columns))
    table.add_row("total", *(f"{sum(seconds.get((d, step), 0) for d in days):.1f}" for _, step in columns))
    load = [r.seconds for r in results if r.step == "load raw → postgres"]
    if load:
        table.caption = f"copying raw into Postgres: {load[0]:.1f}s (once, before day 1)"
    return table
