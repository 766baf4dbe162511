"""`make lab-sqlmesh-envs`: SQLMesh's virtual (zero-copy) development environments, measured.

1. Builds a small warehouse (generate → ingest → SQLMesh prod, day by day) in data/labs/sqlmesh_envs/.
2. On a COPY of sqlmesh_project/ in a temporary folder (the repository is never edited), makes
   a) a non-breaking change: a new column in fct_orders, planned into the `dev` environment;
   b) a breaking change: a changed filter in fct_orders, planned into `dev` on top of it;
   and prints how `plan dev` categorised each model and which models it had to backfill.
3. Prints, for every model, the physical table behind the prod view and behind the dev view: unchanged models
   (and models only indirectly touched by a non-breaking change) point at the very same table, no copy.
4. Promotes `dev` to prod with a plan that only swaps views (no backfill), and checks the repository's
   sqlmesh_project/ is byte for byte what it was.

docs/sqlmesh-environments.md explains the output, beside dbt's answers to the same need.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from python_jobs.config import REPO_ROOT, Settings, load_settings
from python_jobs.orchestration import day_steps, pipeline_lock, run_step
from python_jobs.sqlmesh_step import SQLMESH_PROJECT, execution_time_for, open_context, process_day

if TYPE_CHECKING:
    from sqlmesh import Context
    from sqlmesh.core.plan import Plan

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()

FCT_ORDERS = Path("models/marts/fct_orders.sql")
# a) non-breaking: one more column, every existing column unchanged.
NON_BREAKING = (
    "  orders.last_loaded_on\nFROM orders",
    "  orders.last_loaded_on,\n  DAYOFWEEK(orders.ordered_at) IN (0, 6) AS is_weekend_order\nFROM orders",
)
# b) breaking: a changed filter (cancelled orders leave the fact table), so existing rows change.
BREAKING = (
    "    CAST(ordered_at AS DATE) BETWEEN @start_date AND @end_date\n",
    "    CAST(ordered_at AS DATE) BETWEEN @start_date AND @end_date AND order_status <> 'cancelled'\n",
)
MODEL_SCHEMAS = ("sqlmesh_intermediate", "sqlmesh_snapshots", "sqlmesh_marts", "sqlmesh_seeds")
# In a view's SQL: ... FROM warehouse.sqlmesh__sqlmesh_marts.sqlmesh_marts__fct_orders__3561893271
PHYSICAL = re.compile(r'"?(sqlmesh__\w+)"?\."?(\w+)"?')


@dataclass(frozen=True)
class PlanSummary:
    environment: str
    categories: dict[str, str]  # model -> change category of its new version
    backfilled: list[str]  # models with intervals to compute
    seconds: float


def tree_digest(folder: Path) -> str:
    """sha256 over the relative paths and bytes of the project's files (caches excluded)."""
    digest = hashlib.sha256()
    # SQLMesh itself writes .cache/, logs/ and the macros' __pycache__/ there (all git-ignored): not the project.
    generated = {".cache", "logs", "__pycache__"}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not generated & set(p.parts)):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def copy_project(root: Path) -> Path:
    """sqlmesh_project/ beside its own seeds/ (the seed models read ../../../seeds)."""
    shutil.copytree(REPO_ROOT / "seeds", root / "seeds")
    project = root / "sqlmesh_project"
    shutil.copytree(SQLMESH_PROJECT, project, ignore=shutil.ignore_patterns(".cache", "logs"))
    return project


def edit(project: Path, relative: Path, change: tuple[str, str]) -> None:
    path = project / relative
    text = path.read_text()
    old, new = change
    if text.count(old) != 1:
        raise RuntimeError(f"the lab's edit no longer matches {relative}: update NON_BREAKING/BREAKING")
    path.write_text(text.replace(old, new))


def build_prod(settings: Settings, days: int, project: Path) -> None:
    """Prod after `days` days, cached: a rerun with the same inputs copies the saved prod warehouse back."""
    key = hashlib.sha256(
        f"{days}|{settings.scale}|{settings.seed}|{tree_digest(project)}".encode()
    ).hexdigest()
    # Same file name in the cache: DuckDB's catalog is the file stem and SQLMesh's views name it.
    cached = settings.data_dir / "prod-cache" / key[:16] / "warehouse.duckdb"
    settings.warehouse_path.unlink(missing_ok=True)
    if cached.exists():
        shutil.copyfile(cached, settings.warehouse_path)
        console.print(f"prod warehouse reused from {cached.parent}")
        return
    with pipeline_lock(settings.data_dir):
        log = settings.data_dir / "logs" / "lab-sqlmesh-envs.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
        for day in range(1, days + 1):
            with console.status(f"day {day}: generate → ingest → sqlmesh (prod)"):
                for step in day_steps(settings, day, settings.warehouse_path, only=("generate", "ingest")):
                    run_step(step, log)
                process_day(settings.day_date(day), settings.warehouse_path, project)
    shutil.rmtree(cached.parent.parent, ignore_errors=True)
    cached.parent.mkdir(parents=True)
    shutil.copyfile(settings.warehouse_path, cached)


def plan_into(context: Context, environment: str, when: date) -> PlanSummary:
    """Plan, read what it will do (before applying: afterwards nothing is missing any more), then apply."""
    plan: Plan = context.plan(
        environment,
        no_prompts=True,
        auto_apply=False,
        execution_time=execution_time_for(when),
        skip_tests=True,
        # Give the dev environment a view for EVERY model, so unchanged ones can be compared with prod.
        include_unmodified=environment != "prod",
    )
    categories = {
        s.name: (s.change_category.name if s.change_category else "-")
        for s in plan.new_snapshots
        if s.is_model
    }
    backfilled = sorted({i.snapshot_id.name for i in plan.missing_intervals})
    started = time.perf_counter()
    context.apply(plan)
    return PlanSummary(environment, categories, backfilled, time.perf_counter() - started)


def physical_tables(warehouse: Path, environment: str) -> dict[str, str]:
    """model -> the physical table its view in `environment` selects from (read from the view's SQL)."""
    suffix = "" if environment == "prod" else f"__{environment}"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE schema_name IN "
            f"({', '.join(repr(s + suffix) for s in MODEL_SCHEMAS)})"
        ).fetchall()
    finally:
        con.close()
    tables = {}
    for schema, view, sql in rows:
        match = PHYSICAL.search(sql)
        if match:
            # The physical schema is sqlmesh__<model schema>; the table name ends in the version fingerprint.
            tables[f"{schema.removesuffix(suffix)}.{view}"] = match.group(2)
    return tables


def view_sql(warehouse: Path, environment: str, model: str) -> str:
    schema, view = model.split(".")
    schema += "" if environment == "prod" else f"__{environment}"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute(
            "SELECT sql FROM duckdb_views() WHERE schema_name = ? AND view_name = ?", [schema, view]
        ).fetchone()
    finally:
        con.close()
    return row[0] if row else "-"


def print_plan(summary: PlanSummary, title: str) -> None:
    if not summary.categories and not summary.backfilled:
        console.print(
            f"{title}: plan {summary.environment} ({summary.seconds:.1f}s): no new model version, nothing to backfill"
        )
        return
    table = Table(title=f"{title}: plan {summary.environment} ({summary.seconds:.1f}s)")
    for col in ("model", "change category", "backfilled?"):
        table.add_column(col)
    for name in sorted(set(summary.categories) | set(summary.backfilled)):
        table.add_row(
            name.replace('"', "").split(".", 1)[-1],
            summary.categories.get(name, "unchanged"),
            "[yellow]yes[/]" if name in summary.backfilled else "no (reused)",
        )
    console.print(table)


def print_tables(prod: dict[str, str], dev: dict[str, str], title: str) -> int:
    table = Table(title=title)
    for col in ("model", "prod view → physical table", "dev view → physical table", "same?"):
        table.add_column(col, overflow="fold")
    shared = 0
    for model in sorted(prod):
        same = dev.get(model) == prod[model]
        shared += same
        table.add_row(model, prod[model], dev.get(model, "-"), "[green]yes[/]" if same else "[yellow]NEW[/]")
    console.print(table)
    return shared


@app.command()
def main(
    days: Annotated[int, typer.Option(help="Simulated days in prod before the changes.")] = 3,
    scale: Annotated[float, typer.Option(help="Scale of the generated data.")] = 0.5,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data folder (default <data>/labs/sqlmesh_envs).")
    ] = None,
) -> None:
    """Non-breaking and breaking changes in a dev environment, zero-copy views, promotion without backfill."""
    settings = load_settings()
    folder = (data_dir or settings.data_dir / "labs" / "sqlmesh_envs").resolve()
    settings = settings.with_(data_dir=folder, warehouse_path=folder / "warehouse.duckdb", scale=scale)
    last_day = settings.day_date(days)
    before = tree_digest(SQLMESH_PROJECT)
    with tempfile.TemporaryDirectory(prefix="lab-sqlmesh-envs-") as tmp:
        project = copy_project(Path(tmp))
        build_prod(settings, days, project)
        warehouse = settings.warehouse_path
        prod_before = physical_tables(warehouse, "prod")
        console.rule(f"prod built: {days} days, {len(prod_before)} models")

        edit(project, FCT_ORDERS, NON_BREAKING)
        context = open_context(warehouse, project)
        try:
            a = plan_into(context, "dev", last_day)
        finally:
            context.close()
        print_plan(a, "a) new column in fct_orders (non-breaking)")
        dev_a = physical_tables(warehouse, "dev")
        shared = print_tables(prod_before, dev_a, "after a): where the dev views point")
        console.print(f"{shared} of {len(prod_before)} dev views read prod's own physical tables (zero copy)")
        for model in ("sqlmesh_marts.dim_customers", "sqlmesh_marts.fct_orders"):
            for env in ("prod", "dev"):
                console.print(
                    f"  {env:>4}: {view_sql(warehouse, env, model)}", highlight=False, soft_wrap=True
                )

        edit(project, FCT_ORDERS, BREAKING)
        context = open_context(warehouse, project)
        try:
            b = plan_into(context, "dev", last_day)
        finally:
            context.close()
        print_plan(b, "b) changed filter in fct_orders (breaking)")
        dev_b = physical_tables(warehouse, "dev")
        print_tables(prod_before, dev_b, "after b): where the dev views point")

        context = open_context(warehouse, project)
        try:
            promote = plan_into(context, "prod", last_day)
        finally:
            context.close()
        print_plan(promote, "promote dev to prod")
        prod_after = physical_tables(warehouse, "prod")
        same_as_dev = sum(prod_after[m] == dev_b.get(m) for m in prod_after)
        console.print(
            f"promotion: {len(promote.backfilled)} model(s) backfilled, {promote.seconds:.1f}s; "
            f"{same_as_dev} of {len(prod_after)} prod views now read exactly the tables dev built"
        )
    after = tree_digest(SQLMESH_PROJECT)
    if after != before:
        raise typer.Exit(f"sqlmesh_project/ changed during the lab ({before[:12]} → {after[:12]})")
    console.print(f"[green]sqlmesh_project/ untouched[/] (sha256 {after[:12]}); lab warehouse: {warehouse}")


if __name__ == "__main__":
    app()
