"""Points as GeoParquet partitioned by a spatial key, and a bounding-box read that skips what it can.

Layout of a dataset at `root` (a symlink to one version folder, swapped atomically on rewrite):

    root -> .root.versions/<id>/
        _partitioning.json          the key: scheme, level, extent, CRS, and one entry per partition
        cell=<quadkey>/part-0.parquet

The partition key is a *quadkey over the dataset's extent*: the extent (the points' total bounds at write time,
recorded in `_partitioning.json`) is cut into a 2**level by 2**level grid, and a point's key is the base-4
string of its cell (one digit per level, digit = 2*row_bit + col_bit, row 0 at the south). Keys that share a
prefix are nested cells, so a key's extent follows from the key and the manifest alone, and a reader can skip
a whole file without opening it. Level 3 gives up to 64 partitions.

Inside each file the rows are sorted by Hilbert distance (`GeoSeries.hilbert_distance` over the dataset's
extent), and the file carries the GeoParquet 1.1 `bbox` covering column (`to_parquet(write_covering_bbox=True)`),
whose min/max statistics per row group bound the row group's points: a reader skips row groups the query box
misses. Files are GeoParquet, so `geopandas.read_parquet(file, bbox=...)` and other readers work on them too.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

MANIFEST = "_partitioning.json"
SCHEME = "quadkey-over-extent"
BBOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")

BBox = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


@dataclass(frozen=True)
class WriteResult:
    root: Path
    version_dir: Path
    files: int
    rows: int
    row_groups: int


@dataclass(frozen=True)
class ReadResult:
    """The rows a bbox read returned, and how much of the dataset it had to touch to find them."""

    rows: gpd.GeoDataFrame
    files_read: int  # files whose footer was opened (their key's cell meets the box)
    files_total: int
    row_groups_read: int  # row groups whose bbox statistics meet the box, read from disk
    row_groups_total: int
    bytes_read: int  # compressed bytes of the row groups read (footers not counted)
    bytes_total: int


def quadkeys(x: np.ndarray, y: np.ndarray, extent: BBox, level: int) -> np.ndarray:
    """The quadkey (see module doc) of each point's cell in a 2**level grid over `extent`."""
    n = 1 << level
    xmin, ymin, xmax, ymax = extent
    # A point on the extent's max edge belongs to the last cell, not to a cell past the grid.
    col = np.clip(((x - xmin) / (xmax - xmin) * n).astype(np.int64), 0, n - 1)
    row = np.clip(((y - ymin) / (ymax - ymin) * n).astype(np.int64), 0, n - 1)
    digits = np.zeros(len(x), dtype=np.int64)
    keys = np.full(len(x), "", dtype=object)
    for bit in range(level - 1, -1, -1):
        digits = ((row >> bit) & 1) * 2 + ((col >> bit) & 1)
        keys = keys + digits.astype(str).astype(object)
    return keys


def cell_extent(key: str, extent: BBox) -> BBox:
    """The box of the cell a quadkey names, from the key and the dataset's extent alone."""
    xmin, ymin, xmax, ymax = extent
    col = row = 0
    for ch in key:
        digit = int(ch)
        row, col = row * 2 + (digit >> 1), col * 2 + (digit & 1)
    n = 1 << len(key)
    w, h = (xmax - xmin) / n, (ymax - ymin) / n
    return (xmin + col * w, ymin + row * h, xmin + (col + 1) * w, ymin + (row + 1) * h)


def _meets(a: BBox, b: BBox) -> bool:
    # Closed boxes: a point on the query's edge is inside, as for shapely's `intersects`.
    return a[0] <= b[2] and a[2] >= b[0] and a[1] <= b[3] and a[3] >= b[1]


def write_partitioned(
    gdf: gpd.GeoDataFrame,
    root: Path | str,
    *,
    level: int = 3,
    row_group_size: int = 1_000,
    _before_swap: Callable[[Path], None] | None = None,
) -> WriteResult:
    """Write point rows under `root` partitioned by quadkey (module doc), replacing any dataset there atomically.

    The new version is written in full beside the old one; only then does `root` (a symlink) switch to it with
    one `os.replace`. A crash before that leaves the previous dataset as it was, and the half-written folder is
    removed. `_before_swap` is a test hook, called with the new version folder just before the switch.
    """
    if gdf.crs is None:
        raise ValueError("points have no CRS; set it before writing GeoParquet")
    if not (gdf.geom_type == "Point").all():
        raise ValueError("write_partitioned partitions points; other geometries would straddle cells")
    root = Path(root)
    if root.exists() and not root.is_symlink():
        raise ValueError(f"{root} exists and is not a dataset written by write_partitioned")
    versions = root.parent / f".{root.name}.versions"
    versions.mkdir(parents=True, exist_ok=True)
    version_dir = versions / uuid.uuid4().hex
    try:
        result = _write_version(gdf, version_dir, level=level, row_group_size=row_group_size)
        if _before_swap is not None:
            _before_swap(version_dir)
        link = versions / f"{version_dir.name}.link"
        link.symlink_to(version_dir.relative_to(root.parent), target_is_directory=True)
        previous = root.resolve() if root.is_symlink() else None
        os.replace(link, root)  # the one atomic step: readers see the old or the new version, never a mix
    except BaseException:
        shutil.rmtree(version_dir, ignore_errors=True)
        raise
    if previous is not None and previous != version_dir.resolve():
        shutil.rmtree(previous, ignore_errors=True)
    return WriteResult(root, version_dir, *result)


def _write_version(
    gdf: gpd.GeoDataFrame, out: Path, *, level: int, row_group_size: int
) -> tuple[int, int, int]:
    x, y = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
    extent: BBox = tuple(float(v) for v in gdf.total_bounds)  # type: ignore[assignment]
    keys = quadkeys(x, y, extent, level)
    # Hilbert order over the whole extent: rows near each other on the map end in the same row groups, so each
    # row group's bbox statistics are tight.
    order = gdf.geometry.hilbert_distance(total_bounds=extent, level=16).to_numpy()
    frame = gdf.reset_index(drop=True)
    partitions: dict[str, dict[str, object]] = {}
    row_groups = 0
    out.mkdir(parents=True)
    for key in sorted(set(keys)):
        idx = np.flatnonzero(keys == key)
        part = frame.iloc[idx[np.argsort(order[idx], kind="stable")]].reset_index(drop=True)
        folder = out / f"cell={key}"
        folder.mkdir()
        path = folder / "part-0.parquet"
        part.to_parquet(path, index=False, write_covering_bbox=True, row_group_size=row_group_size)
        md = pq.read_metadata(path)
        row_groups += md.num_row_groups
        partitions[key] = {
            "file": str(path.relative_to(out)),
            "rows": len(part),
            # Totals kept here so a reader reports them without opening the files it skips.
            "row_groups": md.num_row_groups,
            "bytes": sum(_row_group_bytes(md, i) for i in range(md.num_row_groups)),
            "bbox": [float(v) for v in part.total_bounds],
        }
    manifest = {
        "scheme": SCHEME,
        "level": level,
        "extent": list(extent),
        "crs": gdf.crs.to_json_dict(),
        "partitions": partitions,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return len(partitions), len(frame), row_groups


def _bbox_column_indices(md: pq.FileMetaData) -> dict[str, int]:
    paths = {md.schema.column(j).path: j for j in range(md.num_columns)}
    return {f: paths[f"bbox.{f}"] for f in BBOX_FIELDS}


def _row_group_box(md: pq.FileMetaData, i: int, cols: dict[str, int]) -> BBox | None:
    rg = md.row_group(i)
    stats = {f: rg.column(j).statistics for f, j in cols.items()}
    if any(s is None or not s.has_min_max for s in stats.values()):
        return None  # no statistics: the row group must be read
    # The points of the row group lie within [min xmin, max xmax] by [min ymin, max ymax].
    return (stats["xmin"].min, stats["ymin"].min, stats["xmax"].max, stats["ymax"].max)


def _row_group_bytes(md: pq.FileMetaData, i: int) -> int:
    rg = md.row_group(i)
    return sum(rg.column(j).total_compressed_size for j in range(rg.num_columns))


def read_bbox(root: Path | str, bbox: BBox | None = None) -> ReadResult:
    """Rows whose bbox meets `bbox` (closed box, dataset CRS; for points: the points inside or on its edge),
    skipping files by their key's cell and row groups by their `bbox` statistics. `bbox=None` reads all."""
    base = Path(root).resolve()
    manifest = json.loads((base / MANIFEST).read_text())
    extent: BBox = tuple(manifest["extent"])  # type: ignore[assignment]
    crs = manifest["crs"]
    tables: list[pa.Table] = []
    files_read = rg_read = bytes_read = rg_total = bytes_total = 0
    for key, entry in sorted(manifest["partitions"].items()):
        rg_total += entry["row_groups"]
        bytes_total += entry["bytes"]
        if bbox is not None and not _meets(cell_extent(key, extent), bbox):
            continue  # skipped without opening the file
        files_read += 1
        md = pq.read_metadata(base / entry["file"])
        cols = _bbox_column_indices(md)
        wanted = []
        for i in range(md.num_row_groups):
            box = _row_group_box(md, i, cols)
            if bbox is None or box is None or _meets(box, bbox):
                wanted.append(i)
        if not wanted:
            continue
        rg_read += len(wanted)
        bytes_read += sum(_row_group_bytes(md, i) for i in wanted)
        table = pq.ParquetFile(base / entry["file"]).read_row_groups(wanted)
        if bbox is not None:
            # Row groups were chosen by their bounds; the rows inside still need the exact test.
            table = table.filter(
                (pc.field("bbox", "xmin") <= bbox[2])
                & (pc.field("bbox", "xmax") >= bbox[0])
                & (pc.field("bbox", "ymin") <= bbox[3])
                & (pc.field("bbox", "ymax") >= bbox[1])
            )
        tables.append(table.drop_columns(["bbox"]))
    first = pq.read_schema(base / next(iter(manifest["partitions"].values()))["file"])
    geom_col = json.loads(first.metadata[b"geo"])["primary_column"]
    data = (pa.concat_tables(tables) if tables else first.empty_table().drop_columns(["bbox"])).to_pandas()
    data[geom_col] = gpd.GeoSeries.from_wkb(data[geom_col].to_numpy(), crs=crs)
    rows = gpd.GeoDataFrame(data, geometry=geom_col, crs=crs)
    return ReadResult(
        rows=rows,
        files_read=files_read,
        files_total=len(manifest["partitions"]),
        row_groups_read=rg_read,
        row_groups_total=rg_total,
        bytes_read=bytes_read,
        bytes_total=bytes_total,
    )
