"""The sprawl lab on a tiny metro (128 px): report, maps, LCRPGR from its parts, the classifier at IoU ≥ 0.9
and above the plain rule every year; the same metro shipped as Landsat C2 L2 products (per-band uint16 DN, an
MTL.txt) read by the lab without tracts: area and change only, still accurate."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio

from python_jobs.geo.generate import generate_metro
from python_jobs.labs.sprawl_metrics import fit_exponential_decay, lcrpgr, normalised_entropy
from tests.conftest import run_module
from tests.geo_imagery_support import write_landsat_scene

PNGS = ("builtup_maps.png", "change_map.png", "rings.png")


def test_measures_from_their_definitions() -> None:
    r = lcrpgr(10.0, 20.0, 1000.0, 1500.0, 10)
    assert r["lcr"] == pytest.approx(math.log(2) / 10) and r["pgr"] == pytest.approx(math.log(1.5) / 10)
    assert r["ratio"] == pytest.approx(math.log(2) / math.log(1.5))
    assert lcrpgr(10.0, 20.0, None, None, 10)["ratio"] is None
    assert lcrpgr(10.0, 20.0, 100.0, 100.0, 10)["ratio"] is None  # PGR = 0: undefined, not infinite
    assert normalised_entropy([1, 1, 1, 1]) == pytest.approx(1.0)
    assert normalised_entropy([5, 0, 0, 0]) == pytest.approx(0.0)
    fit = fit_exponential_decay([0.5, 1.5, 2.5], [1000 * math.exp(-0.4 * r) for r in (0.5, 1.5, 2.5)])
    assert fit is not None and fit.gradient_per_km == pytest.approx(0.4) and fit.d0 == pytest.approx(1000)


def test_lab_sprawl_on_a_tiny_metro(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = run_module(
        "python_jobs.labs.sprawl",
        *("--size", "128", "--seed", "42", "--train-size", "128", "--block", "64", "--out", str(reports)),
        "--network-size",
        "128",
        # A fifth of the customers and orders: the routing part is the same code, a few seconds less.
        env={"GROCERY_DATA_DIR": str(tmp_path / "data"), "GROCERY_SCALE": "0.2"},
    )
    for name in ("report.md", "report.json", *PNGS):
        assert (reports / name).stat().st_size > 0, name
    assert (tmp_path / "data" / "labs" / "sprawl" / "masks" / "builtup_2020.tif").exists()
    assert not (tmp_path / "data" / "landing").exists()  # the lab's metro never replaces landing/geo
    s = json.loads((reports / "report.json").read_text())
    assert "seed 7" in s["classifier"]["fitted_on"]  # never the evaluated seed
    years = {y["year"]: y for y in s["years"]}
    assert sorted(years) == [2000, 2010, 2020]
    for y in years.values():
        assert y["iou"] >= 0.9, y
        assert y["iou"] > y["rule_iou"] + 0.05, y  # the classifier beats the plain NDBI/NDVI rule
        assert y["precision"] >= 0.9 and y["recall"] >= 0.9
    assert years[2000]["builtup_km2"] < years[2010]["builtup_km2"] < years[2020]["builtup_km2"]
    for p in s["periods"]:
        a, b = years[p["from"]], years[p["to"]]
        span = p["to"] - p["from"]
        assert p["lcr"] == pytest.approx(math.log(b["builtup_km2"] / a["builtup_km2"]) / span, abs=1e-5)
        assert p["pgr"] == pytest.approx(math.log(b["population"] / a["population"]) / span, abs=1e-5)
        assert p["ratio"] == pytest.approx(p["lcr"] / p["pgr"], rel=1e-3)
    rings = s["rings"]["years"]
    assert all(0 < rings[str(y)]["entropy"] <= 1 for y in years)
    assert rings["2020"]["decay"]["gradient_per_km"] > 0
    text = (reports / "report.md").read_text()
    assert "LCRPGR" in text and "![rings](rings.png)" in text
    net = s["network"]["totals"]
    assert net["orders"] == sum(w["orders"] for w in s["network"]["waves"]) > 0
    assert net["heuristic_km"] < net["naive_km"] and net["worst_small_gap"] <= 0.05
    assert "OR-Tools" in text and (reports / "network.png").stat().st_size > 0
    assert "2000-2020" in proc.stdout and "IoU" in proc.stdout

    # Training on the evaluated seed is refused before anything is generated (in-process: no second start-up).
    from typer.testing import CliRunner

    from python_jobs.labs.sprawl import app

    refused = CliRunner().invoke(
        app, ["--size", "128", "--seed", "42", "--train-seed", "42", "--out", str(tmp_path / "x")]
    )
    assert refused.exit_code != 0 and "must differ" in refused.output
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x-staging-*"))


def test_lab_sprawl_reads_landsat_products_without_tracts(tmp_path: Path) -> None:
    metro = generate_metro(tmp_path / "metro", seed=42, size_px=128, years=(2000, 2020))
    scenes = tmp_path / "scenes"
    for year, path in metro.imagery.items():
        with rasterio.open(path) as src:
            refl = src.read()
            crs, transform = src.crs, src.transform
            invalid = (refl == src.nodata).any(axis=0)
        qa = np.full(refl.shape[1:], 21824, dtype=np.uint16)
        write_landsat_scene(scenes, np.where(invalid, 0, refl), crs, transform, date(year, 7, 1), qa=qa,
                            invalid=invalid)  # fmt: skip
    reports = tmp_path / "reports"
    truth = metro.builtup_truth[2000].parent
    proc = run_module(
        "python_jobs.labs.sprawl",
        *("--imagery", str(scenes), "--truth", str(truth), "--out", str(reports)),
        env={"GROCERY_DATA_DIR": str(tmp_path / "data")},
    )
    s = json.loads((reports / "report.json").read_text())
    assert [y["year"] for y in s["years"]] == [2000, 2020]
    assert all(y["population"] is None for y in s["years"])
    assert s["periods"][0]["lcr"] > 0 and s["periods"][0]["ratio"] is None  # no tracts: no LCRPGR
    assert all(y["iou"] >= 0.9 for y in s["years"])  # DN -> reflectance from the MTL, default weights
    assert "No population" in (reports / "report.md").read_text()
    assert all((reports / name).stat().st_size > 0 for name in PNGS)
    assert "IMAGERY=" in proc.stdout
