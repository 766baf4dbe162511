"""Point-in-polygon join of many points against the tracts, on a Dask cluster (dask-geopandas) or in one process.

The distributed join: the points become a dask-geopandas frame (from memory, or from a partitioned GeoParquet
dataset by `read_parquet`), are shuffled into spatially compact partitions along a Hilbert curve
(`spatial_shuffle`), and are joined with `dask_geopandas.sjoin`. Each partition then carries its convex hull
(`spatial_partitions`), so the join pairs a points partition only with the tracts partitions whose hulls it
meets, instead of every partition with every other.

Apache Sedona is the other distributed spatial engine people reach for (on Spark or Flink); it needs its jars
from Maven at session start, which this offline setup cannot fetch, so the distributed path here is Dask.
"""

from __future__ import annotations

from pathlib import Path

import dask_geopandas
import geopandas as gpd
import pandas as pd
from distributed import Client

PAIR_COLUMNS = ("point_id", "tract_id")


def _pairs(joined: pd.DataFrame, point_id: str) -> pd.DataFrame:
    # One row per (point, tract) pair, sorted, so two engines' results compare with `equals`.
    out = joined[[point_id, "tract_id"]].rename(columns={point_id: "point_id"})
    # Dask turns object strings into pyarrow strings; the pairs, not the dtype, are the result.
    out = out.astype({"point_id": "int64", "tract_id": object})
    return out.sort_values(list(PAIR_COLUMNS), kind="stable").reset_index(drop=True)


def sjoin_local(points: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame, *, point_id: str) -> pd.DataFrame:
    """The reference: GeoPandas' single-process `sjoin` (STRtree), points `within` tracts."""
    tracts = tracts[["tract_id", "geometry"]].to_crs(points.crs)
    joined = gpd.sjoin(points[[point_id, "geometry"]], tracts, how="inner", predicate="within")
    return _pairs(joined, point_id)


def sjoin_dask(
    client: Client,
    points: gpd.GeoDataFrame | Path | str,
    tracts: gpd.GeoDataFrame,
    *,
    point_id: str,
    npartitions: int = 8,
    tract_partitions: int = 4,
) -> pd.DataFrame:
    """The same pairs as `sjoin_local`, computed on `client`'s cluster.

    `points` is a GeoDataFrame or a GeoParquet dataset folder (e.g. a `partition.write_partitioned` root, whose
    cell folders become dask partitions).
    """
    if isinstance(points, gpd.GeoDataFrame):
        dpoints = dask_geopandas.from_geopandas(points[[point_id, "geometry"]], npartitions=npartitions)
    else:
        dpoints = dask_geopandas.read_parquet(str(Path(points).resolve()), columns=[point_id, "geometry"])
    crs = dpoints.crs
    if dpoints.spatial_partitions is None:
        # Hilbert shuffle: each partition becomes a compact patch of the map with a small hull. A spatially
        # partitioned dataset already is that (read_parquet takes each file's hull from its GeoParquet bbox).
        dpoints = dpoints.spatial_shuffle(by="hilbert", npartitions=npartitions)
    dtracts = dask_geopandas.from_geopandas(
        tracts[["tract_id", "geometry"]].to_crs(crs), npartitions=tract_partitions
    ).spatial_shuffle(by="hilbert", npartitions=tract_partitions)
    joined = dask_geopandas.sjoin(dpoints, dtracts, how="inner", predicate="within")
    result = client.compute(joined[[point_id, "tract_id"]]).result()
    return _pairs(result, point_id)
