"""Zonal statistics on the Dask cluster (python_jobs.geo.dask_zonal) equal the single-process zonal_builtup."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from python_jobs.compute.dask.cluster import dask_client
from python_jobs.config import ComputeSettings
from python_jobs.geo.dask_zonal import tiles, zonal_builtup_dask
from python_jobs.geo.generate import GeoPaths, generate_metro
from python_jobs.geo.raster import write_builtup_mask, zonal_builtup
from python_jobs.geo.readers import read_vector


@pytest.fixture(scope="module")
def metro(tmp_path_factory: pytest.TempPathFactory) -> GeoPaths:
    return generate_metro(tmp_path_factory.mktemp("zonal") / "data", seed=42, size_px=128, years=(2020,))


@pytest.fixture(scope="module")
def client() -> Client:
    with dask_client(ComputeSettings(workers=2)) as c:
        yield c


def test_tiles_cover_the_raster_once() -> None:
    windows = tiles(100, 70, 32)
    assert len(windows) == 4 * 3
    assert sum(w.width * w.height for w in windows) == 100 * 70
    assert {(w.col_off, w.row_off) for w in windows} == {(c, r) for c in (0, 32, 64, 96) for r in (0, 32, 64)}


@pytest.mark.parametrize("tile_px", [37, 64, 512])
def test_dask_zonal_equals_single_process(
    metro: GeoPaths, client: Client, tmp_path: Path, tile_px: int
) -> None:
    mask = write_builtup_mask(metro.imagery[2020], tmp_path / "builtup.tif")
    tracts = read_vector(metro.tracts).good
    want = zonal_builtup(mask, tracts)
    got = zonal_builtup_dask(client, mask, tracts, tile_px=tile_px)
    # Tiles that cut through tracts change nothing: every count, area and share is the same, to the bit.
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False, check_exact=True)
    assert got["builtup_pixels"].sum() > 0
