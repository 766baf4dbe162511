"""A grid pre-index for point in polygon: most points are answered by one array lookup, the rest tested exactly.

Built once from the polygons (`build`): a regular grid over their extent, each cell classified with GEOS's exact
predicates on the cell's box grown by a tiny margin —

* no polygon meets the cell: its points are in no polygon;
* exactly one polygon meets it and holds it in its interior (`contains_properly`): its points are in that polygon,
  with no test at all;
* otherwise (a boundary crosses it, or polygons overlap there): a boundary cell, whose candidate polygons (those
  meeting it) are kept in a CSR list.

The join (`join_xy`) is vectorised NumPy: each point's cell from its coordinates, the cell's state by fancy
indexing, and one `shapely.contains_xy` call over the (boundary point, candidate polygon) pairs, with the polygons
prepared. The margin makes the floor in the cell computation safe: a point an ulp outside the box drawn for its
cell is still inside the grown box that was classified. Exact: the same pairs as `sjoin(predicate="within")`
(a point on a polygon's boundary is within none of them), overlapping polygons included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely


@dataclass(frozen=True)
class GridIndex:
    polygons: np.ndarray  # shapely geometries, prepared
    extent: tuple[float, float, float, float]
    nx: int
    ny: int
    state: np.ndarray  # int32 per cell (row-major, row 0 at ymin): polygon index, EMPTY or BOUNDARY
    cand_start: np.ndarray  # int64, ncells + 1: CSR offsets into cand_poly (boundary cells have some)
    cand_poly: np.ndarray  # int32 polygon indices
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def cell_size(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.extent
        return (x1 - x0) / self.nx, (y1 - y0) / self.ny


EMPTY = -1
BOUNDARY = -2


def build(polygons: np.ndarray, *, cells_per_side: int | None = None) -> GridIndex:
    """Classify every cell of an `cells_per_side`² grid over the polygons' extent (default: 16·√polygons per
    side, about 256 cells per polygon)."""
    polys = np.asarray(polygons, dtype=object)
    shapely.prepare(polys)
    n = cells_per_side or max(8, int(16 * np.sqrt(len(polys))))
    x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(polys))
    w, h = max((x1 - x0) / n, 1e-9), max((y1 - y0) / n, 1e-9)
    margin = 1e-6 * max(w, h)
    jj, ii = np.divmod(np.arange(n * n, dtype=np.int64), n)
    boxes = shapely.box(
        x0 + ii * w - margin, y0 + jj * h - margin, x0 + (ii + 1) * w + margin, y0 + (jj + 1) * h + margin
    )
    tree = shapely.STRtree(polys)
    cell, poly = tree.query(boxes, predicate="intersects")
    order = np.lexsort((poly, cell))
    cell, poly = cell[order], poly[order].astype(np.int32)
    counts = np.bincount(cell, minlength=n * n)
    state = np.full(n * n, EMPTY, dtype=np.int32)
    single = np.flatnonzero(counts == 1)
    first = np.searchsorted(cell, single)
    only = poly[first]
    interior = shapely.contains_properly(polys[only], boxes[single])
    state[single[interior]] = only[interior]
    boundary = (counts >= 1) & (state == EMPTY)
    state[boundary] = BOUNDARY
    keep = boundary[cell]
    cand_poly = poly[keep]
    cand_start = np.zeros(n * n + 1, dtype=np.int64)
    np.cumsum(np.bincount(cell[keep], minlength=n * n), out=cand_start[1:])
    stats = {
        "cells": n * n,
        "interior_cells": int((state >= 0).sum()),
        "boundary_cells": int(boundary.sum()),
        "empty_cells": int((state == EMPTY).sum()),
        "candidates": len(cand_poly),
    }
    return GridIndex(polys, (x0, y0, x1, y1), n, n, state, cand_start, cand_poly, stats)


def join_xy(index: GridIndex, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(point index, polygon index) of every point strictly within a polygon (points answered by their cell first,
    then the tested ones: sort if you need an order), and counts: points answered by their cell alone, points
    tested, exact tests made."""
    x0, y0, x1, y1 = index.extent
    w, h = index.cell_size
    # Outside the polygons' extent a point is in none of them; NaN compares False and lands there too.
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    with np.errstate(invalid="ignore"):  # NaN or huge coordinates cast to garbage cells, masked by `inside`
        cx = np.clip(((x - x0) / w).astype(np.int64), 0, index.nx - 1)
        cy = np.clip(((y - y0) / h).astype(np.int64), 0, index.ny - 1)
    cell = cy * index.nx + cx
    state = np.where(inside, index.state[cell], EMPTY)
    resolved = np.flatnonzero(state >= 0)
    test = np.flatnonzero(state == BOUNDARY)
    starts = index.cand_start[cell[test]]
    counts = index.cand_start[cell[test] + 1] - starts
    total = int(counts.sum())
    pt = np.repeat(test, counts)
    # Position k of the flattened candidate list: its cell's start plus k's rank within the cell.
    rank = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    pg = index.cand_poly[np.repeat(starts, counts) + rank]
    hit = shapely.contains_xy(index.polygons[pg], x[pt], y[pt])
    points = np.concatenate([resolved, pt[hit]])
    polys = np.concatenate([state[resolved].astype(np.int32), pg[hit]])
    stats = {"answered_by_cell": len(resolved), "points_tested": len(test), "exact_tests": total}
    return points, polys, stats
