"""`make bench-geo-join`: point in polygon, N customer points against a metro's ~2,500 tracts, every engine side by
side in one run, every result checked equal to the others.

The inputs: the seeded metro's tracts (`geo.generate`'s Voronoi tracts at 2,000 px: 2,500 polygons over 60 km,
small in the towns, in their metric CRS) and N seeded points, clustered like customers (around the towns, by the
towns' size), a fifth spread over the map and a few percent outside it (in no tract). The methods:

* `sjoin` — GeoPandas `sjoin(predicate="within")`, the R-tree (STRtree) on the tracts; the reference for ratios;
* `naive` — every point against every tract in a Python loop, on a sample, its per-point time extrapolated to N
  (labelled so: it is not a measured run at N);
* `strtree` — shapely's STRtree queried with all points at once;
* `duckdb` — DuckDB spatial's ST_Within join (its SPATIAL_JOIN operator), and `duckdb_rtree` with an R-tree index
  on the points, which the plan then scans (RTREE_INDEX_SCAN; EXPLAIN is checked, tests/test_bench_geo_join.py);
* `postgis` — PostGIS ST_Contains with a GiST index on the tracts (plan checked with EXPLAIN); skipped with the
  reason when the server binaries or the extension are missing;
* `dask` — dask-geopandas' sjoin on a 2-worker LocalCluster, reading the points from the partitioned GeoParquet
  dataset (one partition per quadkey file, hulls from the bbox metadata: no shuffle);
* `grid` — the project's grid pre-index (`geo.grid_index`): cells inside one tract answer without a predicate,
  only boundary-cell points are tested with `contains_xy`.

Setup (building an index, loading DuckDB or PostGIS, starting a cluster or a server) is timed apart from the join.
Every method's pairs are reduced to one sorted int64 key per (point, tract) pair and compared with sjoin's, which
also counts the unmatched points. The partitioned GeoParquet read with a 1 % bbox is measured beside the joins.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil
import shapely
import typer

from python_jobs.config import load_settings
from python_jobs.geo import grid_index
from python_jobs.geo.crs import to_metric

SEED = 20261204
TRACT_PX = 2000  # 50 x 50 seeds: 2,500 tracts over 60 km
METHODS = ("sjoin", "naive", "strtree", "grid", "duckdb", "duckdb_rtree", "postgis", "dask")
Say = Callable[[str], None]


# --- inputs -------------------------------------------------------------------------------------------------


def make_tracts(size_px: int = TRACT_PX, seed: int = 42) -> gpd.GeoDataFrame:
    """The seeded metro's tracts (as `generate_metro` writes them, EPSG:4326) moved to their metric CRS, with an
    integer `tract` column (the row number) as the join's id."""
    from python_jobs.geo.generate import metro as gen_metro
    from python_jobs.geo.generate import model

    metro = model.build_metro(seed, size_px)
    tracts = to_metric(gen_metro._tracts(metro, {2020: metro.built(2020)}))
    tracts = tracts[["tract_id", "geometry"]].reset_index(drop=True)
    tracts.insert(0, "tract", np.arange(len(tracts), dtype=np.int64))
    return tracts


def make_points(
    n: int, tracts: gpd.GeoDataFrame, seed: int = SEED, *, outside: float = 0.03, spread: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """n seeded points (x, y) in the tracts' CRS: `outside` of them in a ring up to 10 % beyond the tracts'
    extent (in no tract), `spread` uniform over the extent, the rest clustered in Gaussian blobs whose centres
    and sizes follow the tracts' density (a town is where the tracts are small)."""
    gen = np.random.default_rng([seed, n])
    x0, y0, x1, y1 = tracts.total_bounds
    n_out = int(n * outside)
    n_uni = int(n * spread)
    n_clu = n - n_out - n_uni
    # Blob centres: tract centroids drawn with weight 1/area, so the dense towns get most customers.
    cent = shapely.get_coordinates(tracts.geometry.centroid.to_numpy())
    area = tracts.geometry.area.to_numpy()
    pick = gen.choice(len(cent), size=64, p=(1 / area) / (1 / area).sum())
    # A blob spans a few tracts, and at most 5 % of the map (a small metro has few, large tracts).
    blob_sd = np.minimum(np.sqrt(area[pick]) * gen.uniform(2.0, 6.0, size=64), 0.05 * (x1 - x0))
    which = gen.integers(0, 64, n_clu)
    xc = cent[pick, 0][which] + gen.normal(0.0, 1.0, n_clu) * blob_sd[which]
    yc = cent[pick, 1][which] + gen.normal(0.0, 1.0, n_clu) * blob_sd[which]
    xu, yu = gen.uniform(x0, x1, n_uni), gen.uniform(y0, y1, n_uni)
    # Outside: uniform in the box grown by 10 %, redrawn until outside the extent (a ring).
    dx, dy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    xo, yo = gen.uniform(x0 - dx, x1 + dx, 4 * n_out + 16), gen.uniform(y0 - dy, y1 + dy, 4 * n_out + 16)
    ring = (xo < x0) | (xo > x1) | (yo < y0) | (yo > y1)
    xo, yo = xo[ring][:n_out], yo[ring][:n_out]
    x, y = np.concatenate([xc, xu, xo]), np.concatenate([yc, yu, yo])
    order = gen.permutation(len(x))  # no method may profit from the points arriving grouped
    return x[order], y[order]


# --- measuring ----------------------------------------------------------------------------------------------


class RssSampler:
    """Peak RSS of this process, and of this process with its children (Dask workers, a PostgreSQL server started
    here), sampled by a thread every `poll_seconds`: a lower bound (a peak between two samples is missed, and a
    long call holding the GIL delays the sampler)."""

    def __init__(self, poll_seconds: float = 0.02) -> None:
        self.proc = psutil.Process()
        self.poll_seconds = poll_seconds
        self.peak_self = self.peak_tree = 0
        self.start_self = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        own = self.proc.memory_info().rss
        tree = own
        with contextlib.suppress(psutil.Error):
            for child in self.proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    tree += child.memory_info().rss
        self.peak_self, self.peak_tree = max(self.peak_self, own), max(self.peak_tree, tree)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


@dataclass
class MethodRun:
    method: str
    points: int  # points the timed join ran on (a sample for naive)
    setup_s: float
    join_s: float  # at `points`; for naive, extrapolated_s is the figure at N
    pairs: int
    unmatched: int
    identical: bool | None  # same pairs as sjoin (naive: on its sample)
    peak_rss_mib: float  # this process, sampled during the join
    delta_rss_mib: float  # that peak minus this process's RSS when the join started
    peak_tree_rss_mib: float  # this process and its children (Dask workers, PostgreSQL server)
    threads: str
    extrapolated_s: float | None = None
    note: str = ""
    skipped: str = ""  # why, when the method did not run

    def seconds_at(self, n: int) -> float:
        return self.extrapolated_s if self.extrapolated_s is not None else self.join_s


@dataclass
class PartitionRead:
    level: int
    files: int
    row_groups: int
    write_s: float
    full_s: float
    full_bytes: int
    boxes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SizeResult:
    n: int
    tracts: int
    unmatched: int
    runs: list[MethodRun]
    bandwidth_gb_s: float
    read_coords_s: float  # n x 16 bytes at that bandwidth: the floor for any method that reads every point
    partition: PartitionRead | None = None
    plans: dict[str, str] = field(default_factory=dict)
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after: was it shared?

    def run(self, method: str) -> MethodRun | None:
        return next((r for r in self.runs if r.method == method and not r.skipped), None)


def pair_keys(points: np.ndarray, polys: np.ndarray, n_polys: int) -> np.ndarray:
    """One sorted int64 per (point, polygon) pair: results compare with `array_equal`."""
    return np.sort(np.asarray(points, dtype=np.int64) * n_polys + np.asarray(polys, dtype=np.int64))


def memory_bandwidth_gb_s(nbytes: int = 400_000_000, repeats: int = 3) -> float:
    """Read bandwidth of this process: the best of `repeats` sums over an array of `nbytes` (larger than any
    cache), in GB/s (1e9 bytes)."""
    a = np.ones(nbytes // 8)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a.sum()
        best = min(best, time.perf_counter() - t)
    return nbytes / best / 1e9


# --- the methods: each returns (setup seconds, join seconds, point idx, polygon idx, note) ---------------------

Result = tuple[float, float, np.ndarray, np.ndarray, str]


def _sjoin(pts: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame) -> Result:
    t = time.perf_counter()
    _ = tracts.sindex  # the R-tree on the tracts, built once
    setup = time.perf_counter() - t
    t = time.perf_counter()
    joined = gpd.sjoin(pts[["geometry"]], tracts[["geometry"]], how="inner", predicate="within")
    a, b = joined.index.to_numpy(), joined["index_right"].to_numpy()
    return setup, time.perf_counter() - t, a, b, "R-tree (STRtree) on the tracts"


def _strtree(pts: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame) -> Result:
    t = time.perf_counter()
    tree = shapely.STRtree(tracts.geometry.to_numpy())
    setup = time.perf_counter() - t
    t = time.perf_counter()
    a, b = tree.query(pts.geometry.to_numpy(), predicate="within")
    return setup, time.perf_counter() - t, a, b, "query(points, predicate='within')"


def _grid(pts: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame) -> Result:
    t = time.perf_counter()
    index = grid_index.build(tracts.geometry.to_numpy())
    setup = time.perf_counter() - t
    t = time.perf_counter()
    xy = shapely.get_coordinates(pts.geometry.to_numpy())  # from the geometries, as the others start
    a, b, stats = grid_index.join_xy(index, xy[:, 0], xy[:, 1])
    seconds = time.perf_counter() - t
    s = index.stats
    note = (
        f"{index.nx}x{index.ny} cells ({s['interior_cells']:,} inside one tract, {s['boundary_cells']:,} boundary); "
        f"{stats['answered_by_cell'] / len(xy):.0%} of points answered by their cell, "
        f"{stats['exact_tests']:,} contains_xy tests"
    )
    return setup, seconds, a, b, note


def _duckdb(
    pts: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame, *, rtree: bool, plans: dict[str, str], threads: int
) -> Result:
    from python_jobs.geo import duckdb_spatial

    x, y = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    t = time.perf_counter()
    con = duckdb_spatial.connect(memory_limit="8GB")
    con.execute(f"SET threads = {threads}")
    try:
        con.register("xy", pd.DataFrame({"id": np.arange(len(x), dtype=np.int64), "x": x, "y": y}))
        con.execute("CREATE TABLE points AS SELECT id, ST_Point(x, y) AS geom FROM xy")
        con.unregister("xy")
        duckdb_spatial.load_geometries(con, "polygons", tracts, "tract")
        if rtree:
            # An index on the probe side is what DuckDB 1.5's SPATIAL_JOIN can scan (deferred bounds from the
            # join filter); one on the polygons is not used by the join (see duckdb_join_plan).
            con.execute("CREATE INDEX points_geom_rtree ON points USING RTREE (geom)")
        setup = time.perf_counter() - t
        plan = duckdb_join_plan(con)
        plans["duckdb_rtree" if rtree else "duckdb"] = plan
        t = time.perf_counter()
        out = con.execute(JOIN_SQL).fetchnumpy()
        seconds = time.perf_counter() - t
    finally:
        con.close()
    ops = [op for op in ("SPATIAL_JOIN", "RTREE_INDEX_SCAN") if op in plan]
    return setup, seconds, out["pt"], out["pg"], f"plan: {' + '.join(ops) or 'no spatial operator'}"


JOIN_SQL = "SELECT pt.id AS pt, pg.id AS pg FROM points pt JOIN polygons pg ON ST_Within(pt.geom, pg.geom)"


def duckdb_join_plan(con: Any) -> str:
    """DuckDB's physical plan of the join (EXPLAIN), as text."""
    return "\n".join(str(row[1]) for row in con.execute("EXPLAIN " + JOIN_SQL).fetchall())


@contextlib.contextmanager
def _postgis_connection(say: Say) -> Iterator[Any]:
    """A database with PostGIS on a throwaway server; raises PostGISUnavailable-like errors to the caller."""
    import psycopg

    from python_jobs.geo.postgis import enable_postgis
    from python_jobs.postgres.server import find_bindir, throwaway_postgres

    bindir = find_bindir(load_settings().pg_bindir)
    with throwaway_postgres(bindir=bindir) as server:
        dsn = server.fresh_database("geo_join_bench")
        with psycopg.connect(dsn) as con:
            enable_postgis(con, routing=False)
            yield con


def _postgis(pts: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame, con: Any, plans: dict[str, str]) -> Result:
    from python_jobs.geo.postgis import explain_indexes, load_geodataframe

    srid = int(tracts.crs.to_epsg())
    x, y = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    t = time.perf_counter()
    load_geodataframe(con, tracts[["tract", "geometry"]], "tracts", id_column="tract")  # + GiST + ANALYZE
    con.execute("DROP TABLE IF EXISTS xy; DROP TABLE IF EXISTS points")
    con.execute("CREATE UNLOGGED TABLE xy (id bigint, x float8, y float8)")
    # Text COPY with 17 significant digits: every double comes back exactly (float8 input is correctly rounded).
    buffer = io.StringIO()
    pd.DataFrame({"id": np.arange(len(x)), "x": x, "y": y}).to_csv(
        buffer, sep="\t", header=False, index=False, float_format="%.17g"
    )
    with con.cursor().copy("COPY xy (id, x, y) FROM STDIN") as copy:
        copy.write(buffer.getvalue())
    del buffer
    con.execute(
        f"CREATE UNLOGGED TABLE points AS SELECT id, ST_SetSRID(ST_MakePoint(x, y), {srid}) AS geom FROM xy"
    )
    con.execute("DROP TABLE xy")
    con.execute("ANALYZE points")
    con.commit()
    setup = time.perf_counter() - t
    query = "SELECT pt.id, pg.id FROM points AS pt JOIN tracts AS pg ON ST_Contains(pg.geom, pt.geom)"
    from psycopg import sql

    indexes = explain_indexes(con, sql.SQL(query))
    raw = con.execute("EXPLAIN " + query).fetchall()
    plans["postgis"] = "\n".join(r[0] for r in raw)
    t = time.perf_counter()
    out = io.BytesIO()
    with con.cursor().copy(f"COPY ({query}) TO STDOUT") as copy:
        for chunk in copy:
            out.write(chunk)
    out.seek(0)
    frame = pd.read_csv(out, sep="\t", header=None, names=["pt", "pg"], dtype=np.int64)
    seconds = time.perf_counter() - t
    note = f"GiST index scanned: {', '.join(sorted(indexes)) or 'NONE'}"
    return setup, seconds, frame["pt"].to_numpy(), frame["pg"].to_numpy(), note


def _dask(pts: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame, client: Any, dataset: Path | None) -> Result:
    """From the partitioned GeoParquet dataset when there is one: each quadkey file is a partition whose hull comes
    from its bbox metadata, so no shuffle. From memory otherwise: the points travel inside the task graph and are
    Hilbert-shuffled, which at 1M points took minutes (the graph is sent again at each step)."""
    from python_jobs.geo.dask_join import sjoin_dask

    polys = tracts[["geometry"]].assign(tract_id=tracts["tract"].to_numpy())
    t = time.perf_counter()
    if dataset is not None:
        pairs = sjoin_dask(client, dataset, polys, point_id="point_id")
        note = "reads the partitioned GeoParquet (one partition per quadkey file, no shuffle); read included"
    else:
        frame = gpd.GeoDataFrame(
            {"point_id": np.arange(len(pts), dtype=np.int64)}, geometry=pts.geometry.to_numpy(), crs=pts.crs
        )
        nparts = max(4, min(32, len(pts) // 500_000))
        pairs = sjoin_dask(client, frame, polys, point_id="point_id", npartitions=nparts)
        note = f"from memory, {nparts} partitions, Hilbert shuffle included"
    seconds = time.perf_counter() - t
    a = pairs["point_id"].to_numpy(dtype=np.int64)
    b = pairs["tract_id"].to_numpy().astype(np.int64)
    return 0.0, seconds, a, b, note


# --- one size -----------------------------------------------------------------------------------------------


def run_size(
    n: int,
    tracts: gpd.GeoDataFrame,
    *,
    methods: tuple[str, ...] = METHODS,
    naive_sample: int = 200,
    workdir: Path | None = None,
    say: Say = print,
) -> SizeResult:
    """Every method on the same n points; each result compared with sjoin's."""
    load_before = os.getloadavg()[0]
    x, y = make_points(n, tracts)
    pts = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=tracts.crs)
    del x, y
    npoly = len(tracts)
    runs: list[MethodRun] = []
    plans: dict[str, str] = {}
    reference: np.ndarray | None = None
    threads = os.cpu_count() or 1

    def record(
        method: str, fn: Callable[[], Result], threads_used: str, sample: np.ndarray | None = None
    ) -> None:
        nonlocal reference
        say(f"  {n:,} points: {method} …")
        try:
            with RssSampler() as rss:
                setup, seconds, a, b, note = fn()
        except Exception as exc:  # a missing server or extension: said, not fatal to the other methods
            say(f"  {method} skipped: {exc}")
            runs.append(MethodRun(method, 0, 0, 0, 0, 0, None, 0, 0, 0, threads_used, skipped=str(exc)))
            return
        keys = pair_keys(a, b, npoly)
        del a, b
        matched = len(np.unique(keys // npoly))
        pts_n = n if sample is None else len(sample)
        if method == "sjoin":
            reference = keys
            identical: bool | None = True
        elif reference is None:
            identical = None
        elif sample is None:
            identical = bool(np.array_equal(keys, reference))
        else:
            # The sample's pairs are numbered in the sample: map back to the points' numbers.
            pt = sample[keys // npoly]
            mine = pair_keys(pt, keys % npoly, npoly)
            in_sample = np.isin(reference // npoly, sample)
            identical = bool(np.array_equal(mine, reference[in_sample]))
        run = MethodRun(
            method,
            pts_n,
            setup,
            seconds,
            len(keys),
            pts_n - matched,
            identical,
            rss.peak_self / 2**20,
            (rss.peak_self - rss.start_self) / 2**20,
            rss.peak_tree / 2**20,
            threads_used,
            note=note,
        )
        if sample is not None:
            run.extrapolated_s = seconds / len(sample) * n
            run.note = f"{len(sample)} sampled points x {npoly:,} tracts, extrapolated per point to {n:,}"
        runs.append(run)
        say(
            f"    setup {setup:.2f} s, join {run.seconds_at(n):.3f} s{' (extrapolated)' if sample is not None else ''}"
            f", identical={identical}"
        )

    # The partitioned dataset first: the bbox reads are measured on it, and Dask reads its points from it.
    partition_result: PartitionRead | None = None
    dataset: Path | None = None
    if workdir is not None:
        say(f"  {n:,} points: partitioned GeoParquet, bbox reads …")
        dataset = workdir / f"points-{n}"
        # Level 4 (up to 256 files) for the real sizes; a small run gets 16 files, not 256 tiny partitions for Dask.
        partition_result = partition_read(pts, dataset, level=4 if n >= 500_000 else 2)
    for method in [m for m in METHODS if m in methods]:
        if method == "sjoin":
            record(method, lambda: _sjoin(pts, tracts), "1")
        elif method == "naive":
            sample = np.sort(np.random.default_rng(SEED).choice(n, size=min(naive_sample, n), replace=False))
            sub = pts.iloc[sample].reset_index(drop=True)

            def naive(sub: gpd.GeoDataFrame = sub) -> Result:
                from python_jobs.geo.vector import pairs_naive

                frame = sub.assign(pid=np.arange(len(sub)))
                t = time.perf_counter()
                pairs = pairs_naive(frame, tracts, "pid", "tract")
                seconds = time.perf_counter() - t
                arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
                return 0.0, seconds, arr[:, 0], arr[:, 1], ""

            record(method, naive, "1", sample)
        elif method == "strtree":
            record(method, lambda: _strtree(pts, tracts), "1")
        elif method == "grid":
            record(method, lambda: _grid(pts, tracts), "1")
        elif method in ("duckdb", "duckdb_rtree"):
            rt = method == "duckdb_rtree"
            record(
                method,
                lambda rt=rt: _duckdb(pts, tracts, rtree=rt, plans=plans, threads=threads),
                str(threads),
            )
        elif method == "postgis":
            record(method, lambda: _run_postgis(pts, tracts, plans, say), "1 + parallel workers")
        elif method == "dask":
            record(method, lambda: _run_dask(pts, tracts, dataset), "2 worker processes")
    unmatched = next((r.unmatched for r in runs if r.method == "sjoin"), -1)
    bw = memory_bandwidth_gb_s()
    load = (load_before, os.getloadavg()[0])
    return SizeResult(n, npoly, unmatched, runs, bw, n * 16 / (bw * 1e9), partition_result, plans, load)


def _run_postgis(pts: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame, plans: dict[str, str], say: Say) -> Result:
    t = time.perf_counter()
    with _postgis_connection(say) as con:
        started = time.perf_counter() - t
        setup, seconds, a, b, note = _postgis(pts, tracts, con, plans)
    return started + setup, seconds, a, b, f"{note}; server start {started:.1f} s in setup"


def _run_dask(pts: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame, dataset: Path | None) -> Result:
    import logging

    from python_jobs.compute.dask.cluster import dask_client
    from python_jobs.config import ComputeSettings

    # Each spatial_shuffle logs two WARNINGs ("Shuffle ... initialized/deactivated") that are not problems.
    logging.getLogger("distributed.shuffle._scheduler_plugin").setLevel(logging.ERROR)

    t = time.perf_counter()
    with dask_client(ComputeSettings(workers=2)) as client:
        client.wait_for_workers(2)
        started = time.perf_counter() - t
        _, seconds, a, b, note = _dask(pts, tracts, client, dataset)
    return started, seconds, a, b, f"{note}; cluster start in setup"


# --- partitioned GeoParquet: what a 1 % bbox read touches ----------------------------------------------------


def partition_read(pts: gpd.GeoDataFrame, root: Path, *, level: int = 4) -> PartitionRead:
    """Write the points partitioned by quadkey (level 4: up to 256 files, ~1,000 row groups in all), then read
    everything and three boxes of 1 % of the extent (cells of a 10 x 10 grid: the densest, one of median density,
    and one at a quarter of the map). A box cannot read fewer bytes than its share of the rows."""
    import shutil

    from python_jobs.geo import partition

    n = len(pts)
    frame = pts.assign(point_id=np.arange(n, dtype=np.int64))[["point_id", "geometry"]]
    shutil.rmtree(root.parent / f".{root.name}.versions", ignore_errors=True)
    root.unlink(missing_ok=True)
    rg = max(1_000, n // 1_000)
    t = time.perf_counter()
    written = partition.write_partitioned(frame, root, level=level, row_group_size=rg)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    full = partition.read_bbox(root)
    full_s = time.perf_counter() - t
    out = PartitionRead(level, written.files, written.row_groups, write_s, full_s, full.bytes_total)
    x0, y0, x1, y1 = frame.total_bounds
    side_x, side_y = 0.1 * (x1 - x0), 0.1 * (y1 - y0)  # 10 % x 10 % = 1 % of the area
    xy = shapely.get_coordinates(frame.geometry.to_numpy())
    hist, xe, ye = np.histogram2d(xy[:, 0], xy[:, 1], bins=10, range=[[x0, x1], [y0, y1]])
    i, j = np.unravel_index(np.argmax(hist), hist.shape)
    # The cell of median density among the 100: where a 1 % box holds about its share of the points.
    mi, mj = np.unravel_index(np.argsort(hist, axis=None)[hist.size // 2], hist.shape)
    boxes = {
        "densest 1 % cell": (xe[i], ye[j], xe[i] + side_x, ye[j] + side_y),
        "median-density 1 % cell": (xe[mi], ye[mj], xe[mi] + side_x, ye[mj] + side_y),
        "1 % at a quarter of the map": (
            x0 + 0.25 * (x1 - x0),
            y0 + 0.25 * (y1 - y0),
            x0 + 0.25 * (x1 - x0) + side_x,
            y0 + 0.25 * (y1 - y0) + side_y,
        ),
    }
    for name, box in boxes.items():
        t = time.perf_counter()
        got = partition.read_bbox(root, box)
        seconds = time.perf_counter() - t
        out.boxes.append(
            {
                "box": name,
                "rows": len(got.rows),
                "rows_share": len(got.rows) / n,
                "files_read": got.files_read,
                "row_groups_read": got.row_groups_read,
                "bytes_read": got.bytes_read,
                "bytes_share": got.bytes_read / got.bytes_total,
                "seconds": seconds,
            }
        )
    return out


# --- the report ---------------------------------------------------------------------------------------------


def fastest_exact(result: SizeResult) -> MethodRun | None:
    exact = [r for r in result.runs if not r.skipped and r.extrapolated_s is None and r.identical]
    return min(exact, key=lambda r: r.join_s, default=None)


def goals(result: SizeResult) -> list[tuple[str, str, bool | None]]:
    """(goal, measured, met) for one size."""
    out: list[tuple[str, str, bool | None]] = []
    sjoin, naive = result.run("sjoin"), result.run("naive")
    best = fastest_exact(result)
    if sjoin and best:
        ratio = sjoin.join_s / best.join_s
        out.append(("fastest exact join >= 3x sjoin", f"{best.method}: {ratio:.1f}x", ratio >= 3))
    if sjoin and naive and naive.extrapolated_s:
        ratio = naive.extrapolated_s / sjoin.join_s
        out.append(
            ("R-tree (sjoin) >= 50x the naive loop", f"{ratio:,.0f}x (naive extrapolated)", ratio >= 50)
        )
    if result.partition:
        for box in result.partition.boxes:
            out.append(
                (
                    f"1 % bbox read <= 10 % of the bytes ({box['box']})",
                    f"{box['bytes_share']:.1%} of bytes, {box['rows_share']:.1%} of rows",
                    box["bytes_share"] <= 0.10,
                )
            )
    out.append(
        ("every method's pairs equal sjoin's", "", all(r.identical for r in result.runs if not r.skipped))
    )
    return out


def table_markdown(result: SizeResult) -> str:
    sjoin = result.run("sjoin")
    lines = [
        "| method | setup s | join s | points/s | x sjoin | peak RSS MiB (this process) | Δ RSS MiB | "
        "peak RSS MiB (+ children) | threads | pairs | unmatched | identical | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|",
    ]
    for r in result.runs:
        if r.skipped:
            lines.append(f"| {r.method} | | | | | | | | | | | skipped | {r.skipped} |")
            continue
        secs = r.seconds_at(result.n)
        label = f"{secs:,.1f} (extrapolated)" if r.extrapolated_s is not None else f"{secs:.3f}"
        ratio = f"{sjoin.join_s / secs:.2f}" if sjoin else ""
        lines.append(
            f"| {r.method} | {r.setup_s:.2f} | {label} | {result.n / secs:,.0f} | {ratio} | {r.peak_rss_mib:,.0f} | "
            f"{r.delta_rss_mib:+,.0f} | {r.peak_tree_rss_mib:,.0f} | {r.threads} | {r.pairs:,} | {r.unmatched:,} | "
            f"{r.identical} | {r.note} |"
        )
    return "\n".join(lines)


def limit_text(result: SizeResult) -> str:
    best = fastest_exact(result)
    text = (
        f"Physical limit: any exact method reads every point's two doubles, {result.n:,} x 16 B = "
        f"{result.n * 16 / 1e6:,.0f} MB; at the {result.bandwidth_gb_s:.1f} GB/s this process reads memory "
        f"(a sum over 400 MB, best of 3) that is {result.read_coords_s * 1e3:.1f} ms."
    )
    if best:
        text += (
            f" The fastest exact join ({best.method}, {best.join_s * 1e3:.0f} ms) is "
            f"{best.join_s / result.read_coords_s:.0f}x that floor: it is bound by its per-point work (cell lookup, "
            "gathers, the exact tests of boundary points), not by memory bandwidth."
        )
    return text


def report_markdown(results: list[SizeResult], command: str, when: str) -> str:
    parts = [
        "# Point-in-polygon join benchmark (`make bench-geo-join`)",
        "",
        f"Run {when}: `{command}`. Machine: {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB. Join seconds exclude setup (index build, loading into "
        "DuckDB/PostGIS, server and cluster start), reported apart. Peak RSS is sampled (every 20 ms) during the "
        "join only, in this process; PostGIS's and Dask's work runs in other processes (the server, the workers), "
        "counted only in the '+ children' column. `naive` is a Python loop over a sample, its per-point time "
        "extrapolated to N: not a measured run.",
        "",
    ]
    for r in results:
        parts += [
            f"## {r.n:,} points x {r.tracts:,} tracts ({r.unmatched:,} points in no tract)",
            "",
            f"1-minute load average {r.load_average[0]:.1f} before, {r.load_average[1]:.1f} after "
            f"({os.cpu_count()} cores): above the core count, other work shared the machine.",
            "",
            table_markdown(r),
            "",
            limit_text(r),
            "",
            "| goal | measured | met |",
            "|---|---|---|",
            *[f"| {g} | {m} | {'yes' if ok else 'no' if ok is not None else '?'} |" for g, m, ok in goals(r)],
            "",
        ]
        if r.partition:
            p = r.partition
            parts += [
                f"Partitioned GeoParquet (quadkey level {p.level}: {p.files} files, {p.row_groups:,} row groups, "
                f"{p.full_bytes / 1e6:,.1f} MB; written in {p.write_s:.1f} s; full read {p.full_s:.2f} s):",
                "",
                "| box (1 % of the area) | rows | rows % | files read | row groups read | bytes read | bytes % | s |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
                *[
                    f"| {b['box']} | {b['rows']:,} | {b['rows_share']:.1%} | {b['files_read']} | "
                    f"{b['row_groups_read']:,} | {b['bytes_read'] / 1e6:,.1f} MB | {b['bytes_share']:.1%} | "
                    f"{b['seconds']:.2f} |"
                    for b in p.boxes
                ],
                "",
            ]
        for name, plan in r.plans.items():
            parts += [
                f"<details><summary>{name} plan</summary>",
                "",
                "```",
                plan,
                "```",
                "",
                "</details>",
                "",
            ]
    return "\n".join(parts)


def bar_chart(results: list[SizeResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        done = [run for run in r.runs if not run.skipped]
        names = [run.method + (" (extrap.)" if run.extrapolated_s is not None else "") for run in done]
        secs = [run.seconds_at(r.n) for run in done]
        colors = ["tab:green" if run.method == "grid" else "tab:blue" for run in done]
        ax.barh(names, secs, color=colors)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("join seconds (log scale; setup excluded)")
        ax.set_title(f"{r.n:,} points x {r.tracts:,} tracts")
        for i, s in enumerate(secs):
            ax.text(s, i, f" {s:.3g}s", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results: list[SizeResult], out: Path, command: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    (out / "report.md").write_text(report_markdown(results, command, when))
    (out / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=1, default=str))
    bar_chart(results, out / "geo_join.png")
    return out / "report.md"


def run(
    sizes: list[int],
    out: Path,
    *,
    methods: tuple[str, ...] = METHODS,
    tract_px: int = TRACT_PX,
    naive_sample: int = 200,
    partitions: bool = True,
    command: str = "make bench-geo-join",
    say: Say = print,
) -> list[SizeResult]:
    say(f"tracts: seeded metro at {tract_px} px …")
    tracts = make_tracts(tract_px)
    results = []
    for n in sizes:
        res = run_size(
            n,
            tracts,
            methods=methods,
            naive_sample=naive_sample,
            workdir=out / "work" if partitions else None,
            say=say,
        )
        results.append(res)
        say(table_markdown(res))
        say(limit_text(res))
        for goal, measured, ok in goals(res):
            say(f"  goal: {goal}: {measured} -> {'met' if ok else 'NOT met'}")
        write_report(results, out, command)  # after each size: a long run leaves its figures so far
    return results


app = typer.Typer(help=__doc__, add_completion=False)


@app.command()
def main(
    sizes: Annotated[
        str, typer.Option(help="Point counts, space- or comma-separated (1e6 1e7).")
    ] = "1e6 1e7",
    methods: Annotated[str, typer.Option(help="Comma-separated subset of the methods.")] = ",".join(METHODS),
    out: Annotated[
        Path | None,
        typer.Option(help="Report folder (default: data/reports/geo_join under GROCERY_DATA_DIR)."),
    ] = None,
    naive_sample: Annotated[int, typer.Option(help="Points the naive loop runs on.")] = 200,
    tract_px: Annotated[int, typer.Option(help="Metro size in pixels: (px/40)² tracts.")] = TRACT_PX,
) -> None:
    """Run the join benchmark at each size and write report.md, results.json and geo_join.png under OUT."""
    ns = [int(float(s)) for s in sizes.replace(",", " ").split()]
    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    unknown = set(chosen) - set(METHODS)
    if unknown:
        raise typer.BadParameter(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    out = out or load_settings().reports_dir / "geo_join"
    cmd = f'make bench-geo-join SIZES="{" ".join(f"{n:.0e}".replace("+0", "") for n in ns)}"'
    run(ns, out, methods=chosen, naive_sample=naive_sample, tract_px=tract_px, command=cmd)
    print(f"report: {out / 'report.md'}")


if __name__ == "__main__":
    app()
