"""The sprawl lab's PNG maps and chart (matplotlib, no display). Masks are read decimated (at most
`MAX_PX` a side, nearest), so a full scene is never loaded for a picture."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import itertools

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import rasterio
from matplotlib.colors import ListedColormap
from rasterio.enums import Resampling

from python_jobs.geo.crs import to_metric
from python_jobs.geo.raster import MASK_NODATA

MAX_PX = 1024


def _read_small(path: Path) -> tuple[np.ndarray, list[float], object]:
    with rasterio.open(path) as src:
        f = max(1, int(np.ceil(max(src.width, src.height) / MAX_PX)))
        data = src.read(
            1, out_shape=(src.height // f or 1, src.width // f or 1), resampling=Resampling.nearest
        )
        b = src.bounds
        return data, [b.left, b.right, b.bottom, b.top], src.crs


def builtup_maps(masks: dict[int, Path], tracts: gpd.GeoDataFrame | None, path: Path) -> None:
    """One panel per year: built-up red, not built light, never seen grey, tract outlines on top."""
    years = sorted(masks)
    fig, axes = plt.subplots(1, len(years), figsize=(4.2 * len(years), 4.4), squeeze=False)
    cmap = ListedColormap(["#f3efe0", "#c0392b", "#9e9e9e"])
    for ax, year in zip(axes[0], years, strict=True):
        data, extent, crs = _read_small(masks[year])
        shown = np.where(data == MASK_NODATA, 2, data)
        ax.imshow(shown, cmap=cmap, vmin=0, vmax=2, extent=extent, interpolation="nearest")
        if tracts is not None:
            to_metric(tracts, crs).boundary.plot(ax=ax, color="#2c3e50", linewidth=0.3)
        ax.set_xlim(extent[:2])
        ax.set_ylim(extent[2:])
        ax.set_title(f"built-up {year}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("built-up (red) over the tracts; grey: never seen (nodata or cloud every year)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def change_map(change: Path, years: list[int], path: Path) -> None:
    """The year a pixel became built-up: one colour per period, light for never, grey for never seen."""
    data, extent, _ = _read_small(change)
    n = len(years)
    colours = ["#7f0000", "#d7301f", "#fc8d59", "#fdcc8a", "#ffffb2"][: max(n, 1)]
    if n > len(colours):
        colours = list(plt.get_cmap("YlOrRd_r")(np.linspace(0, 0.85, n)))
    cmap = ListedColormap([*colours[:n], "#eef3ea", "#9e9e9e"])
    shown = np.where(data == MASK_NODATA, n + 1, np.minimum(data, n))
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(shown, cmap=cmap, vmin=0, vmax=n + 1, extent=extent, interpolation="nearest")
    labels = [f"by {years[0]}"] + [f"{a}-{b}" for a, b in itertools.pairwise(years)]
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(n)]
    handles += [plt.Rectangle((0, 0), 1, 1, color=cmap(n)), plt.Rectangle((0, 0), 1, 1, color=cmap(n + 1))]
    ax.legend(handles, [*labels, "not built", "never seen"], loc="lower right", fontsize=8)
    ax.set_title("when each pixel became built-up")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ring_chart(rings: dict, path: Path) -> None:
    """Built-up share per ring and population density per ring (log) with the fitted exponential decay."""
    r_km = np.asarray(rings["mid_km"])
    with_pop = any(y.get("density_per_km2") for y in rings["years"].values())
    fig, axes = plt.subplots(1, 2 if with_pop else 1, figsize=(11 if with_pop else 6, 4.2), squeeze=False)
    ax = axes[0][0]
    for year, row in sorted(rings["years"].items()):
        ax.plot(r_km, row["builtup_share"], marker="o", label=f"{year} (H={row['entropy']:.2f})")
    ax.set_xlabel("distance from the centre (km, ring middle)")
    ax.set_ylabel("built-up share of the ring")
    ax.set_title("built-up share by ring (H: normalised entropy)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if with_pop:
        ax = axes[0][1]
        for year, row in sorted(rings["years"].items()):
            if not row.get("density_per_km2"):
                continue
            (line,) = ax.plot(r_km, row["density_per_km2"], marker="o", linestyle="none")
            fit = row.get("decay")
            if fit:
                rr = np.linspace(0, r_km.max(), 50)
                ax.plot(
                    rr,
                    fit["d0"] * np.exp(-fit["gradient_per_km"] * rr),
                    color=line.get_color(),
                    label=f"{year}: b={fit['gradient_per_km']:.3f}/km, R²={fit['r2']:.2f}",
                )
        ax.set_yscale("log")
        ax.set_xlabel("distance from the centre (km)")
        ax.set_ylabel("people per km²")
        ax.set_title("density gradient D(r) = D0·exp(-b·r)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
