"""`make lab-sprawl SIZE=512 SEED=42` (or `IMAGERY=... TRACTS=...`): urban sprawl from imagery, year by year.

Per year: the built-up mask (`geo.classify`: a four-feature spectral score whose weights are fitted on a
metro of ANOTHER seed, clouds masked, built-up never reverting, cloudy pixels filled from the other years and
flagged), its area in km² and growth, the population (tracts), SDG 11.3.1's LCRPGR (land consumption rate /
population growth rate), concentric rings from the centre (built-up share and population density per ring,
the density gradient fitted as an exponential decay, Shannon entropy of the built-up across rings,
normalised), and IoU / precision / recall against the truth when there is one (beside the plain NDBI/NDVI
rule's IoU). Without IMAGERY the seeded metro is generated (SIZE pixels, SEED); with IMAGERY real Landsat 8/9
C2 L2 or Sentinel-2 L2A products are read as they ship (`geo.imagery`). Without tracts: area and change only.
The metro and the masks go to data/labs/sprawl/; the report to data/reports/sprawl/ (Markdown, JSON, PNG
maps), replaced only when the lab finishes.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from python_jobs.cli_support import progress_bar
from python_jobs.config import load_settings
from python_jobs.geo.classify import ClassifierConfig, classify_years, fit_config, write_rule_masks
from python_jobs.geo.generate import generate_metro
from python_jobs.geo.imagery import GridReader, Scene, discover_scenes, grid_of, metric_grid
from python_jobs.geo.readers import GeoInputError, read_vector
from python_jobs.labs import sprawl_charts as charts
from python_jobs.labs import sprawl_metrics as metrics
from python_jobs.labs.montecarlo import publish
from python_jobs.labs.sprawl_network import (
    DEFAULT_NETWORK_SIZE_PX,
    network_map,
    network_markdown,
    run_network,
)

app = typer.Typer(help=__doc__, add_completion=False)
console = Console(width=None if sys.stdout.isatty() else 150)
IOU_GOAL = 0.9


def _parse_bands(text: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, _, token = part.partition("=")
        if role not in ("red", "nir", "swir1", "cloud") or not token:
            raise typer.BadParameter(f"band roles like red=SR_B4,nir=SR_B5,swir1=SR_B6, got {part!r}")
        out[role] = token
    return out


def _load_config(path: Path | None) -> tuple[ClassifierConfig, dict]:
    """The classifier and imagery sections of a TOML file ([classifier], [imagery]); defaults without one."""
    if path is None:
        return ClassifierConfig(), {}
    data = tomllib.loads(path.read_text())
    config = ClassifierConfig.from_toml(path) if "classifier" in data else ClassifierConfig()
    return config, dict(data.get("imagery", {}))


def _train_config(train_seed: int, train_size: int, base: ClassifierConfig, log) -> ClassifierConfig:
    """Fit the classifier's weights on a metro of `train_seed` generated in a scratch folder."""
    scratch = Path(tempfile.mkdtemp(prefix="sprawl-train-"))
    try:
        paths = generate_metro(scratch, seed=train_seed, size_px=train_size)
        scenes = discover_scenes(scratch / "landing" / "geo")
        readers = {s.year: GridReader(s) for s in scenes}
        try:
            config = fit_config(
                readers,
                paths.builtup_truth,
                base=base,
                label=f"seed {train_seed}, {train_size} px synthetic metro (fitted by the lab)",
            )
        finally:
            for r in readers.values():
                r.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"classifier fitted on seed {train_seed} ({train_size} px): {config.to_dict()}")
    return config


def _pop_column(tracts: gpd.GeoDataFrame, pattern: str, year: int) -> str | None:
    column = pattern.format(year=year)
    return column if column in tracts.columns else None


@app.command()
def main(
    size: Annotated[
        int, typer.Option(help="Synthetic metro: width and height in 30 m pixels.", min=64)
    ] = 512,
    seed: Annotated[int, typer.Option(help="Synthetic metro: seed (evaluated).", min=0)] = 42,
    imagery: Annotated[
        Path | None,
        typer.Option(
            help="Real imagery: a Landsat C2 L2 / Sentinel-2 L2A product folder, a folder of them (one per "
            "date), or stacked GeoTIFFs. Default: generate the seeded metro."
        ),
    ] = None,
    tracts: Annotated[
        Path | None, typer.Option(help="Tracts (any CRS) with a population column per year.")
    ] = None,
    pop_column: Annotated[str, typer.Option(help="Population column name pattern.")] = "pop_{year}",
    truth: Annotated[
        Path | None, typer.Option(help="Folder of builtup_<year>.tif truth masks (1 built-up, 0 not).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="TOML with \\[classifier] weights/thresholds and \\[imagery] scale, offset, bands."
        ),
    ] = None,
    bands: Annotated[
        str, typer.Option(help="Band file tokens, e.g. red=SR_B3,nir=SR_B4,swir1=SR_B5 (Landsat 5/7).")
    ] = "",
    scale: Annotated[
        float | None, typer.Option(help="reflectance = DN*scale+offset (overrides metadata).")
    ] = None,
    offset: Annotated[float | None, typer.Option(help="See --scale.")] = None,
    train_seed: Annotated[
        int | None,
        typer.Option(
            help="Fit the classifier on a metro of this seed (never --seed). Default 7 (8 if --seed 7)."
        ),
    ] = None,
    train_size: Annotated[int, typer.Option(help="Training metro size (pixels).", min=64)] = 256,
    fit: Annotated[
        bool, typer.Option(help="Synthetic run: fit the weights on the training seed (else the config's).")
    ] = True,
    rings: Annotated[int, typer.Option(help="Concentric rings from the centre.", min=2)] = 10,
    centre: Annotated[
        str, typer.Option(help="Ring centre 'lon,lat' (EPSG:4326). Default: first year's built-up centroid.")
    ] = "",
    block: Annotated[
        int, typer.Option(help="Block size (pixels) of the block-by-block passes.", min=16)
    ] = 256,
    out: Annotated[Path | None, typer.Option(help="Report folder (default: data/reports/sprawl).")] = None,
    network_size: Annotated[
        int,
        typer.Option(
            help="Synthetic run: pixels of the region the day's orders are routed on and new stores sited "
            "in (0: skip that part).",
            min=0,
        ),
    ] = DEFAULT_NETWORK_SIZE_PX,
) -> None:
    """Classify every year, measure the sprawl, print the table, write the report and maps."""
    started = time.perf_counter()
    if train_seed is None:
        train_seed = 7 if seed != 7 else 8
    if imagery is None and fit and train_seed == seed:
        raise typer.BadParameter("--train-seed must differ from --seed: never train on the evaluated truth")
    settings = load_settings()
    reports = out or settings.reports_dir / "sprawl"
    # The lab's own folder (docs/index.md, conventions): its metro never replaces data/landing/geo.
    lab_dir = settings.data_dir / "labs" / "sprawl"
    work = lab_dir / "masks"
    staging = reports.parent / f".{reports.name}-staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    classifier, imagery_cfg = _load_config(config)
    timings: dict[str, float] = {}
    notes: list[str] = []

    def lap(name: str, t0: float) -> float:
        timings[name] = round(time.perf_counter() - t0, 2)
        return time.perf_counter()

    t = time.perf_counter()
    synthetic = imagery is None
    if synthetic:
        console.print(f"[bold]Sprawl lab[/]: seeded metro, seed {seed}, {size} px (30 m)")
        paths = generate_metro(lab_dir, seed=seed, size_px=size)
        imagery_path = paths.imagery[min(paths.imagery)].parent
        tracts = tracts or paths.tracts
        truth = truth or paths.builtup_truth[min(paths.builtup_truth)].parent
        command = f"make lab-sprawl SIZE={size} SEED={seed}"
    else:
        imagery_path = imagery
        command = f"make lab-sprawl IMAGERY={imagery}" + (f" TRACTS={tracts}" if tracts else "")
        console.print(f"[bold]Sprawl lab[/]: imagery {imagery}")
    t = lap("inputs", t)

    scale = scale if scale is not None else imagery_cfg.get("scale")
    offset = offset if offset is not None else imagery_cfg.get("offset")
    tokens = _parse_bands(bands) or dict(imagery_cfg.get("bands", {}))
    kwargs: dict = {"scale": scale, "offset": offset}
    if tokens and not synthetic:
        if any(v.isdigit() for v in tokens.values()):
            kwargs["stacked_bands"] = {k: int(v) for k, v in tokens.items()}
        else:
            kwargs["band_tokens"] = tokens
    try:
        scenes: list[Scene] = discover_scenes(imagery_path, **kwargs)
    except GeoInputError as exc:
        raise typer.BadParameter(str(exc)) from exc
    years = [s.year for s in scenes]
    for s in scenes:
        notes += [f"{s.name}: {n}" for n in s.notes]
    if synthetic and fit:
        classifier = _train_config(train_seed, train_size, classifier, console.print)
        t = lap("fit classifier", t)

    grid, note = metric_grid(grid_of(scenes[0].bands["red"]))
    if note:
        notes.append(note)
    readers = {s.year: GridReader(s, grid) for s in scenes}
    for r in readers.values():
        notes += r.resampled
    with progress_bar(console) as progress:
        task = progress.add_task(f"classify {len(years)} years", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        classified = classify_years(readers, classifier, work, block=block, progress=advance)
        rule_masks = write_rule_masks(readers, work, block=block) if truth else {}
    for r in readers.values():
        r.close()
    t = lap("classify", t)

    tract_frame = None
    if tracts is not None:
        try:
            tract_frame = read_vector(tracts).good
        except GeoInputError as exc:
            raise typer.BadParameter(str(exc)) from exc
    per_year = []
    for year in years:
        area = metrics.builtup_km2(classified.masks[year])
        row: dict = {"year": year, **{k: round(v, 4) for k, v in area.items()}}
        row["cloud_share"] = round(classified.cloud_share[year], 4)
        row["filled_share"] = round(classified.filled_share[year], 4)
        column = _pop_column(tract_frame, pop_column, year) if tract_frame is not None else None
        row["population"] = (
            round(metrics.population_in_scene(tract_frame, grid.crs, grid.bounds, column)) if column else None
        )
        truth_path = truth / f"builtup_{year}.tif" if truth else None
        if truth_path is not None and truth_path.exists():
            acc = metrics.accuracy(classified.masks[year], truth_path)
            rule = metrics.accuracy(rule_masks[year], truth_path)
            row |= {k: round(v, 4) for k, v in acc.items()} | {"rule_iou": round(rule["iou"], 4)}
            row["truth_km2"] = round(metrics.builtup_km2(truth_path)["builtup_km2"], 4)
        per_year.append(row)
    for prev, cur in itertools.pairwise(per_year):
        cur["growth_km2"] = round(cur["builtup_km2"] - prev["builtup_km2"], 4)
        cur["growth_pct"] = (
            round(100 * (cur["builtup_km2"] / prev["builtup_km2"] - 1), 2) if prev["builtup_km2"] else None
        )
        if cur["population"] and prev["population"]:
            cur["pop_growth_pct"] = round(100 * (cur["population"] / prev["population"] - 1), 2)
    periods = []
    pairs = list(itertools.pairwise(per_year))
    if len(per_year) > 2:
        pairs.append((per_year[0], per_year[-1]))
    for a, b in pairs:
        span = b["year"] - a["year"]
        if span <= 0:
            continue
        result = metrics.lcrpgr(a["builtup_km2"], b["builtup_km2"], a["population"], b["population"], span)
        periods.append(
            {
                "from": a["year"],
                "to": b["year"],
                **{k: None if v is None else round(v, 5) for k, v in result.items()},
            }
        )
    t = lap("area, population, LCRPGR, accuracy", t)

    if centre:
        lon, lat = (float(v) for v in centre.split(","))
        point = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs="EPSG:4326").to_crs(grid.crs)
        ring_centre = (float(point.x.iloc[0]), float(point.y.iloc[0]))
        centre_note = f"given ({lon}, {lat})"
    else:
        ring_centre = metrics.builtup_centroid(classified.masks[years[0]])
        centre_note = f"centroid of the {years[0]} built-up"
    edges = metrics.ring_edges_m(classified.masks[years[0]], ring_centre, rings)
    mid_km = ((edges[:-1] + edges[1:]) / 2 / 1000).tolist()
    ring_area_km2 = (np.pi * (edges[1:] ** 2 - edges[:-1] ** 2) / 1e6).tolist()
    ring_years = {}
    for year in years:
        rb = metrics.ring_builtup(classified.masks[year], ring_centre, edges)
        row = {
            "builtup_km2": [round(v, 4) for v in rb["builtup_km2"]],
            "builtup_share": [round(v, 4) for v in rb["builtup_share"]],
            "entropy": metrics.normalised_entropy(rb["builtup_km2"]),
        }
        column = _pop_column(tract_frame, pop_column, year) if tract_frame is not None else None
        if column:
            people = metrics.ring_population(tract_frame, grid.crs, ring_centre, edges, column)
            density = [p / a for p, a in zip(people, ring_area_km2, strict=True)]
            row["density_per_km2"] = [round(d, 2) for d in density]
            fit_ = metrics.fit_exponential_decay(mid_km, density)
            row["decay"] = None if fit_ is None else {k: round(v, 5) for k, v in fit_.__dict__.items()}
        ring_years[year] = row
    ring_summary = {
        "centre": [round(c, 2) for c in ring_centre],
        "centre_from": centre_note,
        "edges_km": [round(e / 1000, 3) for e in edges],
        "mid_km": [round(m, 3) for m in mid_km],
        "years": ring_years,
    }
    t = lap("rings", t)

    charts.builtup_maps(classified.masks, tract_frame, staging / "builtup_maps.png")
    charts.change_map(classified.change, years, staging / "change_map.png")
    charts.ring_chart(ring_summary, staging / "rings.png")
    t = lap("maps", t)

    network_text = ""
    network_summary = None
    if synthetic and network_size:
        with console.status(f"routing the day's orders and siting stores on a {network_size}-px region"):
            figures = run_network(replace(settings, seed=seed), lab_dir / "network", size_px=network_size)
            network_map(figures, lab_dir / "network", staging / "network.png")
        network_text = (
            network_markdown(figures) + "\n![the region, its stores and the new sites](network.png)\n"
        )
        network_summary = {
            "size_px": figures.size_px,
            "store_id": figures.store_id,
            "totals": figures.totals,
            "waves": figures.waves.to_dict("records"),
            "small_cases": figures.small_cases.to_dict("records"),
            "siting": figures.siting.to_dict("records"),
            "hot_spots": figures.hot_spots.to_dict("records"),
            "orders_read": figures.orders_read,
        }
        t = lap("routing and siting", t)

    summary = {
        "command": command,
        "when": datetime.now().isoformat(timespec="seconds"),
        "synthetic": synthetic,
        "seed": seed if synthetic else None,
        "size_px": size if synthetic else None,
        "grid": {
            "crs": grid.crs.to_string(),
            "width": grid.width,
            "height": grid.height,
            "pixel_m2": round(grid.pixel_m2, 2),
        },
        "classifier": classifier.to_dict(),
        "years": per_year,
        "periods": periods,
        "rings": ring_summary,
        "network": network_summary,
        "notes": notes,
        "timings_s": timings,
        "seconds": round(time.perf_counter() - started, 2),
        "iou_goal": IOU_GOAL,
    }
    (staging / "report.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (staging / "report.md").write_text(markdown(summary, network_text))
    publish(staging, reports)
    print_tables(summary)
    if network_summary:
        n = network_summary["totals"]
        console.print(
            f"routing (store {network_summary['store_id']}, {n['orders']} orders): naive {n['naive_km']:.0f} km, "
            f"heuristic {n['heuristic_km']:.0f} km ({n['km_saved']:.1%} saved), "
            f"{n['over_ortools']:+.1%} of OR-Tools' minutes, worst small-case gap {n['worst_small_gap']:.1%}"
        )
        for row in network_summary["siting"]:
            console.print(
                f"siting ({row['method']}, +{row['new_sites']} stores, {row['max_minutes']:.0f} min): "
                f"population {row['population_before']:,.0f} -> {row['population_after']:,.0f}, "
                f"orders {row['orders_before']:,.0f} -> {row['orders_after']:,.0f}"
            )
    console.print(f"report: {reports / 'report.md'}  ({summary['seconds']:.1f} s)")


def _f(x, spec: str = ",.2f") -> str:
    return "-" if x is None else format(x, spec)


def year_rows(s: dict) -> list[list[str]]:
    rows = []
    for y in s["years"]:
        rows.append(
            [
                str(y["year"]),
                _f(y["builtup_km2"]),
                _f(y.get("truth_km2")),
                _f(y.get("growth_pct"), "+.1f"),
                _f(y["population"], ",.0f"),
                _f(y.get("pop_growth_pct"), "+.1f"),
                _f(s["rings"]["years"][y["year"]]["entropy"], ".3f"),
                _f((s["rings"]["years"][y["year"]].get("decay") or {}).get("gradient_per_km"), ".3f"),
                _f(y.get("iou"), ".3f"),
                _f(y.get("precision"), ".3f"),
                _f(y.get("recall"), ".3f"),
                _f(y.get("rule_iou"), ".3f"),
                _f(100 * y["cloud_share"], ".1f"),
            ]
        )
    return rows


YEAR_HEADER = [
    "year",
    "built-up km²",
    "truth km²",
    "growth %",
    "population",
    "pop growth %",
    "entropy",
    "density gradient /km",
    "IoU",
    "precision",
    "recall",
    "plain rule IoU",
    "cloud %",
]


def period_rows(s: dict) -> list[list[str]]:
    return [
        [f"{p['from']}-{p['to']}", _f(p["lcr"], ".4f"), _f(p["pgr"], ".4f"), _f(p["ratio"], ".2f")]
        for p in s["periods"]
    ]


def print_tables(s: dict) -> None:
    table = Table(title=f"Sprawl lab: {s['command']}")
    for h in YEAR_HEADER:
        table.add_column(h, justify="right")
    for row in year_rows(s):
        table.add_row(*row)
    console.print(table)
    if s["periods"]:
        table = Table(title="SDG 11.3.1 LCRPGR (LCR = ln(U2/U1)/y, PGR = ln(P2/P1)/y)")
        for h in ("period", "LCR /yr", "PGR /yr", "LCRPGR"):
            table.add_column(h, justify="right")
        for row in period_rows(s):
            table.add_row(*row)
        console.print(table)
    for note in s["notes"]:
        console.print(f"note: {note}")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def markdown(s: dict, network_text: str = "") -> str:
    g = s["grid"]
    lines = [
        "# Sprawl lab",
        "",
        f"`{s['command']}` — {s['when']}, {s['seconds']:.1f} s. Grid {g['width']}x{g['height']} px "
        f"({g['pixel_m2']:g} m² each), {g['crs']}.",
        "",
        "## Built-up, population, accuracy per year",
        "",
        *_md_table(YEAR_HEADER, year_rows(s)),
        "",
        "Built-up km² counts filled pixels (cloud or nodata that year, classified from the other years); "
        "IoU, precision and recall are over every pixel with a class, the clear-only IoU is in report.json "
        f"(`iou_clear`). Goal: IoU ≥ {s['iou_goal']} every year. The plain rule is NDBI > 0 and NDVI < 0.2.",
        "",
    ]
    with_pop = any(p["pgr"] is not None for p in s["periods"])
    if s["periods"] and with_pop:
        lines += [
            "## SDG 11.3.1: land consumption rate / population growth rate",
            "",
            *_md_table(["period", "LCR /yr", "PGR /yr", "LCRPGR"], period_rows(s)),
            "",
            "LCRPGR > 1: land is built faster than people arrive (sprawl); < 1: densification. "
            "Population is the tracts' inside the scene (by area share).",
            "",
        ]
    elif not s["periods"]:
        lines += ["One date: no change, no LCR or LCRPGR.", ""]
    else:
        lines += [
            "## Built-up change",
            "",
            "No population (no tracts with a population column): no PGR, no LCRPGR; the land consumption "
            "rate alone.",
            "",
            *_md_table(["period", "LCR /yr"], [r[:2] for r in period_rows(s)]),
            "",
        ]
    r = s["rings"]
    lines += [
        f"## Rings from the centre ({r['centre_from']}; {len(r['mid_km'])} rings to {r['edges_km'][-1]} km)",
        "",
        "| year | built-up share by ring (inner → outer) | entropy | density gradient b /km | R² |",
        "|---:|---|---:|---:|---:|",
    ]
    for year, row in r["years"].items():
        decay = row.get("decay") or {}
        shares = " ".join(_f(v, ".2f") for v in row["builtup_share"])
        lines.append(
            f"| {year} | {shares} | {_f(row['entropy'], '.3f')} | {_f(decay.get('gradient_per_km'), '.3f')} "
            f"| {_f(decay.get('r2'), '.2f')} |"
        )
    lines += [
        "",
        "Entropy: Shannon entropy of the built-up km² across rings / ln(rings) (1: spread evenly, 0: one ring). "
        "Density gradient: b in D(r) = D0·exp(-b·r), fitted on ln(people/km²) per ring (areal weighting of "
        "tracts); a falling b is a flattening city.",
        "",
        "## Classifier",
        "",
        "```",
        json.dumps(s["classifier"], indent=1),
        "```",
        "",
        "## Maps",
        "",
        "![built-up per year](builtup_maps.png)",
        "",
        "![year each pixel became built-up](change_map.png)",
        "",
        "![rings](rings.png)",
        "",
        network_text,
        "## Timings (s)",
        "",
        ", ".join(f"{k}: {v}" for k, v in s["timings_s"].items()),
        "",
    ]
    if s["notes"]:
        lines += ["## Notes", "", *(f"- {n}" for n in s["notes"]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    app()
