"""`make lab-scd2`: run the multi-day simulation, then show a few customers' change logs beside their SCD2 rows.

Outputs (under data/reports/scd2/): report.md (tables + oracle agreement) and timeline.png.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import duckdb
import matplotlib

matplotlib.use("Agg")  # no screen needed: the lab writes a PNG
import matplotlib.pyplot as plt
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from python_jobs.config import REPO_ROOT, Settings, load_settings
from python_jobs.labs.scd2_oracle import compare, expected_versions, read_customer_changes

app = typer.Typer(help=__doc__, add_completion=False)
console = Console()

SHOWN_COLUMNS = [
    "valid_from",
    "valid_to",
    "is_current",
    "closed_by_delete",
    "street_address",
    "city",
    "loyalty_tier",
    "email",
]


def pick_customers(changes: pd.DataFrame) -> dict[str, int]:
    """One customer per story, deterministically: the smallest id among those with the most change days."""
    per_customer = changes.groupby("customer_id").agg(kinds=("change_kind", set), days=("day", "nunique"))
    stories = {
        "deleted, then came back": lambda k: {"deleted", "returned"} <= k,
        "moved house": lambda k: "address_move" in k,
        "changed loyalty tier": lambda k: "tier_change" in k,
        "had an email typo fixed": lambda k: "email_fix" in k,
    }
    chosen: dict[str, int] = {}
    for story, wanted in stories.items():
        candidates = per_customer[
            per_customer["kinds"].map(wanted) & ~per_customer.index.isin(chosen.values())
        ]
        if len(candidates):
            best = candidates.sort_values("days", ascending=False, kind="stable")
            best = best[best["days"] == best["days"].iloc[0]]
            chosen[story] = int(best.index.min())
    return chosen


def load_dimension(warehouse: Path) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql("SELECT * FROM marts.dim_customers ORDER BY customer_id, valid_from").df()
    finally:
        con.close()


def plot_timeline(
    stories: dict[str, int], dim: pd.DataFrame, changes: pd.DataFrame, start, end, out: Path
) -> None:
    fig, ax = plt.subplots(figsize=(12, 1.4 + 0.9 * len(stories)))
    first = pd.Timestamp(start)
    horizon = pd.Timestamp(end) + pd.Timedelta(days=1)
    for row, customer_id in enumerate(stories.values()):
        versions = dim[dim.customer_id == customer_id]
        for k, v in enumerate(versions.itertuples()):
            stop = horizon if pd.Timestamp(v.valid_to) >= horizon else pd.Timestamp(v.valid_to)
            begin = max(pd.Timestamp(v.valid_from), first)  # versions opened before day 1 start at the edge
            ax.barh(
                row, stop - begin, left=begin, height=0.5, color=f"C{k % 10}", alpha=0.75, edgecolor="black"
            )
            label = f"v{k + 1} {v.loyalty_tier}, {v.city}" + (" (current)" if v.is_current else "")
            ax.text(begin + (stop - begin) / 2, row, label, ha="center", va="center", fontsize=7)
        log = changes[changes.customer_id == customer_id].drop_duplicates(["day", "change_kind"])
        for ev in log.itertuples():
            if ev.change_kind == "deleted":
                ax.plot(pd.Timestamp(ev.day) + pd.Timedelta(days=1), row + 0.38, "kx", markersize=9)
                ax.text(
                    pd.Timestamp(ev.day) + pd.Timedelta(days=1),
                    row + 0.55,
                    "deleted",
                    fontsize=6,
                    ha="center",
                )
            elif ev.updated_at >= first:
                ax.plot(ev.updated_at, row + 0.38, "v", color="crimson", markersize=7)
                ax.text(ev.updated_at, row + 0.55, ev.change_kind, fontsize=6, ha="center")
    ax.set_yticks(range(len(stories)), [f"#{c}\n{s}" for s, c in stories.items()], fontsize=8)
    ax.set_xlim(first, horizon)
    ax.set_ylim(-0.6, len(stories) - 0.2)
    ax.set_title(
        "SCD2 versions in marts.dim_customers (bars) vs the generator's change log "
        "(▼ change at its updated_at; ✕ delete, seen at the nightly snapshot)",
        fontsize=9,
    )
    ax.invert_yaxis()
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def write_report(settings: Settings, days: int, out_dir: Path) -> Path:
    dates = [settings.day_date(d) for d in range(1, days + 1)]
    changes = read_customer_changes(settings.truth_dir, dates)
    dim = load_dimension(settings.warehouse_path)
    expected = expected_versions(changes)
    diff = compare(expected, dim)
    stories = pick_customers(changes)

    out_dir.mkdir(parents=True, exist_ok=True)
    plot_timeline(stories, dim, changes, dates[0], dates[-1], out_dir / "timeline.png")

    verdict = "agree" if diff.empty else f"DISAGREE on {len(diff)} versions"
    sections = [
        f"# SCD2 lab: {days} simulated days at scale {settings.scale} (seed {settings.seed})\n",
        f"Oracle (replayed change log) vs `marts.dim_customers`: **{verdict}** — {len(expected):,} expected "
        f"versions, {len(dim):,} in the dimension, {int(dim.closed_by_delete.sum()):,} closed by a hard delete, "
        f"{int(dim.is_current.sum()):,} current.\n",
        "![timeline](timeline.png)\n",
    ]
    for story, customer_id in stories.items():
        log = changes[changes.customer_id == customer_id][
            ["day", "change_kind", "field", "old_value", "new_value", "updated_at"]
        ]
        versions = dim[dim.customer_id == customer_id][SHOWN_COLUMNS]
        sections.append(
            f"## Customer {customer_id}: {story}\n\nGenerator change log:\n\n{_markdown(log)}\n\n"
            f"SCD2 rows in `marts.dim_customers`:\n\n{_markdown(versions)}\n"
        )
        table = Table(title=f"customer {customer_id}: {story}")
        for col in ("from", "when", "what", "detail"):
            table.add_column(col)
        for ev in log.itertuples():
            detail = f"{ev.field}: {ev.old_value} → {ev.new_value}" if ev.field else ""
            table.add_row("change log", str(ev.updated_at), ev.change_kind, detail)
        for k, v in enumerate(versions.itertuples(), start=1):
            state = "current" if v.is_current else "closed by delete" if v.closed_by_delete else "superseded"
            table.add_row(
                f"SCD2 v{k}", f"{v.valid_from} → {v.valid_to}", state, f"{v.loyalty_tier}, {v.city}"
            )
        console.print(table)
    if not diff.empty:
        sections.append(f"## Differences\n\n{_markdown(diff.head(50))}\n")
    report = out_dir / "report.md"
    report.write_text("\n".join(sections))
    console.print(f"oracle vs dim_customers: [bold]{verdict}[/] ({len(expected):,} versions)")
    console.print(f"report: {report}\ntimeline: {out_dir / 'timeline.png'}")
    return report


@app.command()
def main(
    days: Annotated[int, typer.Option(help="Simulated days.")] = 5,
    scale: Annotated[float, typer.Option(help="Scale factor.")] = 1.0,
    skip_pipeline: Annotated[bool, typer.Option(help="Report on the lab's existing warehouse.")] = False,
) -> None:
    """Run the pipeline for DAYS days in the lab's own folder and report customers' change logs beside their
    SCD2 versions. The lab never touches data/warehouse.duckdb: it builds data/labs/scd2/warehouse.duckdb."""
    settings = load_settings().with_(scale=scale)
    lab_dir = settings.data_dir / "labs" / "scd2"
    lab = settings.with_(data_dir=lab_dir, warehouse_path=lab_dir / "warehouse.duckdb")
    if not skip_pipeline:
        console.print(f"building {days} days at scale {scale:g} into {lab.warehouse_path}")
        cmd = [sys.executable, "-m", "python_jobs.pipeline", "--days", str(days), "--scale", str(scale)]
        cmd += ["--seed", str(settings.seed), "--data-dir", str(lab_dir)]
        if subprocess.run(cmd, cwd=REPO_ROOT).returncode != 0:
            raise typer.Exit(1)
    # The report goes beside the other labs' reports, the warehouse it read stays in the lab's folder.
    write_report(lab, days, settings.reports_dir / "scd2")


if __name__ == "__main__":
    app()
