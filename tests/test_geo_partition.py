"""Spatially partitioned GeoParquet (python_jobs.geo.partition) and the Dask point-in-polygon join
(python_jobs.geo.dask_join), on the seeded metro and on seeded synthetic points."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dask_geopandas
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from distributed import Client

from python_jobs.compute.dask.cluster import dask_client
from python_jobs.config import ComputeSettings, load_settings
from python_jobs.geo.dask_join import sjoin_dask, sjoin_local
from python_jobs.geo.generate import GeoPaths, generate_metro
from python_jobs.geo.partition import (
    MANIFEST,
    cell_extent,
    quadkeys,
    read_bbox,
    write_partitioned,
)
from python_jobs.geo.readers import read_vector

N_POINTS = 200_000


@pytest.fixture(scope="module")
def metro(tmp_path_factory: pytest.TempPathFactory) -> GeoPaths:
    data = tmp_path_factory.mktemp("geo") / "data"
    settings = load_settings({}).with_(data_dir=data, warehouse_path=data / "warehouse.duckdb")
    return generate_metro(settings, seed=42, size_px=128, years=(2020,))


@pytest.fixture(scope="module")
def tracts(metro: GeoPaths) -> gpd.GeoDataFrame:
    return read_vector(metro.tracts, layer="tracts").good


@pytest.fixture(scope="module")
def orders(tracts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Seeded synthetic orders over the tracts' extent (the generator's ~1,000 customers are too few)."""
    rng = np.random.default_rng(20261204)
    xmin, ymin, xmax, ymax = tracts.total_bounds
    return gpd.GeoDataFrame(
        {
            "order_id": np.arange(N_POINTS, dtype=np.int64),
            "customer_id": rng.integers(0, 1_000, N_POINTS),
            "amount": rng.gamma(2.0, 12.0, N_POINTS).round(2),
        },
        geometry=gpd.points_from_xy(rng.uniform(xmin, xmax, N_POINTS), rng.uniform(ymin, ymax, N_POINTS)),
        crs=tracts.crs,
    )


@pytest.fixture(scope="module")
def dataset(orders: gpd.GeoDataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parts") / "orders"
    result = write_partitioned(orders, root, level=3, row_group_size=1_000)
    assert (result.files, result.rows) == (64, N_POINTS)
    return root


def _inside(gdf: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    x, y = gdf.geometry.x, gdf.geometry.y
    keep = (x >= bbox[0]) & (x <= bbox[2]) & (y >= bbox[1]) & (y <= bbox[3])
    return gdf[keep.to_numpy()]


def _sorted(gdf: gpd.GeoDataFrame, key: str) -> pd.DataFrame:
    frame = pd.DataFrame(gdf.drop(columns="geometry"))
    frame["wkb"] = gdf.geometry.to_wkb()
    return frame.sort_values(key).reset_index(drop=True)


def test_quadkey_cells_nest_and_contain_their_points() -> None:
    rng = np.random.default_rng(1)
    extent = (10.0, 40.0, 12.0, 41.0)
    x, y = rng.uniform(10, 12, 5_000), rng.uniform(40, 41, 5_000)
    keys = quadkeys(x, y, extent, 4)
    for key in set(keys):
        cx0, cy0, cx1, cy1 = cell_extent(key, extent)
        mine = keys == key
        assert ((x[mine] >= cx0) & (x[mine] <= cx1) & (y[mine] >= cy0) & (y[mine] <= cy1)).all()
        # A key's prefix names the parent cell, which contains the child.
        px0, py0, px1, py1 = cell_extent(key[:-1], extent)
        assert px0 <= cx0 and py0 <= cy0 and cx1 <= px1 and cy1 <= py1
    # The extent's max corner falls in the last cell, not outside the grid.
    assert quadkeys(np.array([12.0]), np.array([41.0]), extent, 2)[0] == "33"


def test_files_are_geoparquet_with_bbox_covering_and_hilbert_sorted_row_groups(dataset: Path) -> None:
    manifest = json.loads((dataset / MANIFEST).read_text())
    assert manifest["scheme"] == "quadkey-over-extent" and len(manifest["partitions"]) == 64
    path = dataset / next(iter(manifest["partitions"].values()))["file"]
    geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    assert geo["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    md = pq.read_metadata(path)
    assert md.num_row_groups > 1
    # Spatially sorted: the row groups' boxes are much smaller than the file's box.
    file_box = pq.read_table(path, columns=["bbox"]).column("bbox").combine_chunks()
    fw = max(file_box.field("xmax").to_numpy()) - min(file_box.field("xmin").to_numpy())
    fh = max(file_box.field("ymax").to_numpy()) - min(file_box.field("ymin").to_numpy())
    cols = {md.schema.column(j).path: j for j in range(md.num_columns)}
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        w = rg.column(cols["bbox.xmax"]).statistics.max - rg.column(cols["bbox.xmin"]).statistics.min
        h = rg.column(cols["bbox.ymax"]).statistics.max - rg.column(cols["bbox.ymin"]).statistics.min
        assert w * h < 0.6 * fw * fh
    # Plain GeoPandas reads a partition file, and its own bbox filter (on the covering column) finds the same rows.
    whole = gpd.read_parquet(path)
    assert len(whole) == md.num_rows
    box = tuple(whole.geometry.iloc[:200].total_bounds)
    assert sorted(gpd.read_parquet(path, bbox=box)["order_id"]) == sorted(_inside(whole, box)["order_id"])  # type: ignore[arg-type]


def test_full_read_round_trips_every_row(dataset: Path, orders: gpd.GeoDataFrame) -> None:
    result = read_bbox(dataset)
    assert result.files_read == result.files_total == 64
    assert result.row_groups_read == result.row_groups_total
    assert result.rows.crs == orders.crs
    pd.testing.assert_frame_equal(_sorted(result.rows, "order_id"), _sorted(orders, "order_id"))


def test_bbox_read_equals_filtering_a_full_read_and_skips_most_of_the_data(
    dataset: Path, orders: gpd.GeoDataFrame
) -> None:
    xmin, ymin, xmax, ymax = orders.total_bounds
    w, h = xmax - xmin, ymax - ymin
    # ~1 % of the area (a tenth of each side), placed off the grid's cell edges.
    bbox = (xmin + 0.37 * w, ymin + 0.52 * h, xmin + 0.47 * w, ymin + 0.62 * h)
    result = read_bbox(dataset, bbox)
    expected = _inside(orders, bbox)
    assert len(expected) > 1_000
    pd.testing.assert_frame_equal(_sorted(result.rows, "order_id"), _sorted(expected, "order_id"))
    # Files skipped by the key's cell, row groups by their bbox statistics.
    assert result.files_read <= 0.1 * result.files_total
    assert result.row_groups_read <= 0.1 * result.row_groups_total
    assert result.bytes_read < 0.2 * result.bytes_total
    # A box on a cell corner and a box outside the data.
    corner = (xmin + 0.49 * w, ymin + 0.49 * h, xmin + 0.51 * w, ymin + 0.51 * h)
    pd.testing.assert_frame_equal(
        _sorted(read_bbox(dataset, corner).rows, "order_id"), _sorted(_inside(orders, corner), "order_id")
    )
    empty = read_bbox(dataset, (xmax + 1, ymax + 1, xmax + 2, ymax + 2))
    assert len(empty.rows) == 0 and empty.files_read == 0 and list(empty.rows.columns) == list(orders.columns)


def test_customers_partition_and_read_back(metro: GeoPaths, tmp_path: Path) -> None:
    customers = read_vector(metro.business, layer="customers").good
    root = tmp_path / "customers"
    write_partitioned(customers, root, level=2, row_group_size=100)
    bbox = tuple(customers.geometry.iloc[:50].total_bounds)
    result = read_bbox(root, bbox)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(
        _sorted(result.rows, "customer_id"),
        _sorted(_inside(customers, bbox), "customer_id"),  # type: ignore[arg-type]
    )


def test_a_crashed_rewrite_leaves_the_previous_dataset(orders: gpd.GeoDataFrame, tmp_path: Path) -> None:
    root = tmp_path / "orders"
    first = orders.iloc[:5_000]
    write_partitioned(first, root, level=2)
    before = _sorted(read_bbox(root).rows, "order_id")

    def crash(_: Path) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_partitioned(orders.iloc[5_000:12_000], root, level=2, _before_swap=crash)
    pd.testing.assert_frame_equal(_sorted(read_bbox(root).rows, "order_id"), before)
    versions = tmp_path / ".orders.versions"
    assert os.listdir(versions) == [root.resolve().name]  # the half-written version is gone

    write_partitioned(orders.iloc[5_000:12_000], root, level=2)
    assert len(read_bbox(root).rows) == 7_000
    assert len(os.listdir(versions)) == 1  # the replaced version is removed


@pytest.fixture(scope="module")
def client() -> Client:
    with dask_client(ComputeSettings(workers=2)) as c:
        yield c


def test_dask_sjoin_matches_geopandas(
    client: Client, orders: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame
) -> None:
    points = orders.iloc[:40_000]
    expected = sjoin_local(points, tracts, point_id="order_id")
    assert len(expected) > 0.9 * len(points)  # most points fall in a tract
    got = sjoin_dask(client, points, tracts, point_id="order_id", npartitions=4)
    pd.testing.assert_frame_equal(got, expected)


def test_dask_sjoin_from_partitioned_geoparquet_matches_geopandas(
    client: Client, orders: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # The cell files come back as spatially compact dask partitions: no shuffle, and the join still agrees.
    points = orders.iloc[40_000:80_000]
    root = tmp_path / "orders"
    write_partitioned(points, root, level=2)
    parts = dask_geopandas.read_parquet(str(root.resolve()))
    assert parts.npartitions == 16 and parts.spatial_partitions is not None
    got = sjoin_dask(client, root, tracts, point_id="order_id")
    pd.testing.assert_frame_equal(got, sjoin_local(points, tracts, point_id="order_id"))
