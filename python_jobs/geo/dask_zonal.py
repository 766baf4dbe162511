"""Zonal statistics of a built-up mask per tract, on a Dask cluster: the raster split into tiles, one task a tile.

The raster is the large side here, so it is what gets partitioned: each task reads one tile of the mask (a
window; no task ever holds the scene) and counts, for every tract whose bounds meet the tile, the pixels whose
centre lies in the tract, the valid ones and the built-up ones. A pixel lies in exactly one tile and the
pixel-centre rule does not depend on the window it is tested in, so the tiles' integer counts add up to exactly
`raster.zonal_builtup`'s, whatever the tile size or the worker count. The tracts travel once (scattered), and
each task picks its own with an STRtree query of its tile's box.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from distributed import Client
from rasterio.windows import Window

from python_jobs.geo.crs import to_metric
from python_jobs.geo.raster import ZONAL_COUNTS, pixel_area_m2, polygon_counts, zonal_table


def tiles(width: int, height: int, tile_px: int) -> list[Window]:
    """The raster cut into tile_px x tile_px windows (smaller at the right and bottom edges), row by row."""
    if tile_px < 1:
        raise ValueError("tile_px must be positive")
    return [
        Window(col, row, min(tile_px, width - col), min(tile_px, height - row))
        for row in range(0, height, tile_px)
        for col in range(0, width, tile_px)
    ]


def tile_counts(mask_path: str, window: Window, ids: np.ndarray, geoms: np.ndarray) -> pd.DataFrame:
    """One task: per tract meeting the tile, its pixels, valid pixels and built-up pixels inside the tile."""
    with rasterio.open(mask_path) as src:
        data = src.read(1, window=window)
        transform = src.window_transform(window)
    box = shapely.box(*rasterio.windows.bounds(window, src.transform))
    hits = shapely.STRtree(geoms).query(box, predicate="intersects")
    rows = [(ids[i], *polygon_counts(geoms[i], data, transform)) for i in np.sort(hits)]
    rows = [row for row in rows if row[1]]
    return pd.DataFrame(rows, columns=["tract_id", *ZONAL_COUNTS])


def zonal_builtup_dask(
    client: Client, mask_path: Path, tracts: gpd.GeoDataFrame, *, id_col: str = "tract_id", tile_px: int = 256
) -> pd.DataFrame:
    """`raster.zonal_builtup`'s table, computed tile by tile on `client`'s cluster (same columns and values)."""
    with rasterio.open(mask_path) as src:
        local = to_metric(tracts, src.crs)
        windows = tiles(src.width, src.height, tile_px)
        pixel_m2 = pixel_area_m2(src)
    ids = local[id_col].to_numpy()
    [ids_f, geoms_f] = client.scatter([ids, local.geometry.to_numpy()], broadcast=True)
    futures = client.map(tile_counts, [str(mask_path)] * len(windows), windows, ids=ids_f, geoms=geoms_f)
    parts = [part for part in client.gather(futures) if len(part)]
    summed = (
        pd.concat(parts).groupby("tract_id", sort=False)[list(ZONAL_COUNTS)].sum()
        if parts
        else pd.DataFrame(columns=list(ZONAL_COUNTS))
    )
    return zonal_table(ids, summed.reindex(ids, fill_value=0).to_numpy(), pixel_m2, id_col)
