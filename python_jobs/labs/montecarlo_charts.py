"""The Monte Carlo lab's PNG charts (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from python_jobs.labs.montecarlo_bench import Convergence, EngineResults


def throughput(results: EngineResults, path: Path) -> None:
    """paths/s against N, one line per engine and chunk size."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for engine in dict.fromkeys(r.engine for r in results.runs):
        for chunk in sorted({r.chunk_paths for r in results.runs}):
            runs = sorted(
                (r for r in results.runs if r.engine == engine and r.chunk_paths == chunk),
                key=lambda r: r.paths,
            )
            if runs:
                style = "-" if chunk == max(r.chunk_paths for r in results.runs) else "--"
                ax.plot(
                    [r.paths for r in runs],
                    [r.paths_per_s for r in runs],
                    style,
                    marker="o",
                    label=f"{engine}, chunk {chunk:,}",
                )
    ax.set_xscale("log")
    ax.set_xlabel("N (paths, all series)")
    ax.set_ylabel("paths/s")
    ax.set_title(f"throughput by engine, {results.workers} workers")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def amdahl_crossover(summary: dict, workers: int, path: Path) -> None:
    """Left: Amdahl's law with each engine's fitted serial fraction, through its measured speedup. Right:
    speedup against chunk size at small N, the per-task overhead's model, and the break-even line."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    p = np.arange(1, max(16, 2 * workers) + 1)
    left.plot(p, p, color="grey", lw=1, label="ideal (f = 0)")
    for e in summary["engines"]:
        f = e["serial_fraction"]
        if f is None:
            continue
        line = left.plot(p, 1 / (f + (1 - f) / p), "--", label=f"{e['engine']}: f = {f:.3f}")[0]
        left.plot([1, workers], [1.0, e["speedup"]], "o", color=line.get_color())
    left.axvline(workers, color="grey", ls=":", lw=1)
    left.set_xlabel("workers (cores)")
    left.set_ylabel("speedup over NumPy")
    left.set_title("Amdahl's law through the measured speedups (dotted: this machine)")
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    for e in summary["engines"]:
        points = sorted(e["crossover_points"])
        if e["engine"] == "numpy" or not points:
            continue
        chunks = np.array([c for c, _ in points], float)
        line = right.plot(chunks, [s for _, s in points], marker="o", label=f"{e['engine']} measured")[0]
        if e["per_task_ms"] is not None and e["crossover_model"]:
            # speedup(c) = p / (1 + p o r / c) with o r = crossover * (p - 1) / p from the model
            o_r = e["crossover_model"] * (workers - 1) / workers
            grid = np.geomspace(chunks.min() / 2, chunks.max() * 2, 50)
            right.plot(grid, workers / (1 + workers * o_r / grid), ":", color=line.get_color())
    right.axhline(1.0, color="black", lw=1)
    right.set_xscale("log")
    right.set_xlabel("chunk size (paths per task)")
    right.set_ylabel("speedup over NumPy")
    right.set_title("below the crossover, parallelism loses (dotted: overhead model)")
    if right.get_legend_handles_labels()[0]:  # NumPy alone: nothing to compare
        right.legend(fontsize=7)
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def convergence(conv: Convergence, path: Path) -> None:
    """Left: the estimate ± 2 SE against N and the exact value. Right: SE and |error| on log-log axes, with
    the 1/sqrt(N) slope."""
    n = np.array([p.paths for p in conv.points], float)
    est = np.array([p.stockout for p in conv.points])
    se = np.array([p.stockout_se for p in conv.points])
    lost_se = np.array([p.lost_se for p in conv.points])
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.errorbar(n, est, yerr=2 * se, fmt="o", capsize=3, label="estimate ± 2 SE")
    left.axhline(conv.exact_stockout, color="black", lw=1, label="closed form")
    left.set_xscale("log")
    left.set_xlabel("N (paths)")
    left.set_ylabel("stock-out probability")
    left.set_title(f"Poisson {conv.mean_daily}/day, fixed stock {conv.stock}")
    left.legend()
    right.loglog(n, se, "o-", label="SE, stock-out p")
    right.loglog(n, lost_se, "s-", label="SE, lost units")
    right.loglog(n, np.abs(est - conv.exact_stockout), "x", label="|error|, stock-out p")
    # Drawn at twice the first SE: on the SE itself it would hide under it.
    right.loglog(n, 2 * se[0] * np.sqrt(n[0] / n), ":", color="grey", label="∝ 1/sqrt(N) (2x the first SE)")
    right.set_xlabel("N (paths)")
    right.set_title("standard error falls as 1/sqrt(N)")
    right.legend(fontsize=8)
    right.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
