"""Writing the metro: imagery and truth masks (GeoTIFF), tracts and the business on the map (GeoPackage).

Every file is written to a temporary name in its folder and renamed over the final name once complete, so a
crash leaves the previous file. GeoPackages record a modification time in `gpkg_contents`; it is pinned
(OGR_CURRENT_DATE) so that the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.features import rasterize

from python_jobs.config import Settings
from python_jobs.generate import vocab
from python_jobs.generate.stores import STORE_SITES
from python_jobs.generate.world import replay
from python_jobs.geo.generate import model
from python_jobs.geo.generate.model import BANDS, CRS_UTM, Metro

DEFAULT_SIZE_PX = 512
DEFAULT_YEARS = (2000, 2010, 2020)
NODATA = -9999.0
CRS_GEOGRAPHIC = "EPSG:4326"
PINNED_OGR_DATE = "2000-01-01T00:00:00Z"
PEOPLE_PER_BUILT_PIXEL_2000 = 3.2  # ~3,500 people per built km2
DENSIFICATION_PER_YEAR = 0.01
PEOPLE_PER_RURAL_PIXEL = 0.05
TRACT_PX = 40  # about one tract per 40x40 pixels on average, denser in the towns
ZONE_RADIUS_M = {"express": 2500.0, "supermarket": 4000.0, "hypermarket": 6000.0, "dark_store": 5000.0}


@dataclass(frozen=True)
class GeoPaths:
    """What `generate_metro` wrote."""

    imagery: dict[int, Path]  # year -> landing/geo/imagery_<year>.tif
    tracts: Path  # landing/geo/tracts.gpkg, layer "tracts"
    business: Path  # landing/geo/business.gpkg, layers stores, customers, delivery_zones, roads
    builtup_truth: dict[int, Path]  # year -> truth/geo/builtup_<year>.tif
    summary: Path  # truth/geo/summary.json
    extra: dict[str, Path] = field(default_factory=dict)

    def all(self) -> list[Path]:
        return [
            *self.imagery.values(),
            self.tracts,
            self.business,
            *self.builtup_truth.values(),
            self.summary,
        ]


def _temp_for(path: Path) -> Path:
    # Same folder (so os.replace is a rename) and same suffix (GDAL drivers look at it).
    return path.with_name(f".tmp-{os.getpid()}-{path.name}")


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_for(path)
    temp.unlink(missing_ok=True)
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _block(size: int) -> int:
    # 256 from 512 px up; smaller test rasters still get more than one tile (a block as big as the image
    # would make GDAL report the file as striped).
    return 256 if size >= 512 else max(16, size // 2 // 16 * 16)


def _write_tiff(
    path: Path, metro: Metro, data: np.ndarray, nodata: float | int | None, tags: dict[str, str], band_names
) -> None:
    count, height, width = data.shape
    block = _block(metro.size_px)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": data.dtype.name,
        "crs": CRS_UTM,
        "transform": metro.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "compress": "deflate",
        "predictor": 3 if data.dtype.kind == "f" else 2,
    }
    factors = [f for f in (2, 4, 8) if metro.size_px // f >= 16]
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.update_tags(**tags)
        for i, name in enumerate(band_names, start=1):
            dst.set_band_description(i, name)
            dst.update_tags(i, name=name)
        if factors:
            resampling = Resampling.average if data.dtype.kind == "f" else Resampling.nearest
            dst.build_overviews(factors, resampling)
            dst.update_tags(ns="rio_overview", resampling=resampling.name)


@contextmanager
def _pinned_ogr_date():
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_OGR_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def _write_gpkg(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    with _pinned_ogr_date():
        for name, frame in layers.items():
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")


def _tracts(metro: Metro, built: dict[int, np.ndarray]) -> gpd.GeoDataFrame:
    """Voronoi cells of seeded points (denser in the towns), clipped to the map, with population by year."""
    gen = model.rng(metro.seed, model.TRACTS)
    x0, y0, x1, y1 = metro.bounds
    n = max(12, (metro.size_px // TRACT_PX) ** 2)
    n_uniform = n // 2
    pts = [np.column_stack([gen.uniform(x0, x1, n_uniform), gen.uniform(y0, y1, n_uniform)])]
    weights = np.array([c.radius_2000 for c in metro.cities])
    which = gen.choice(len(metro.cities), size=n - n_uniform, p=weights / weights.sum())
    centres = np.array([[c.x, c.y] for c in metro.cities])[which]
    spread = np.array([c.radius(2020) for c in metro.cities])[which][:, None]
    pts.append(centres + gen.normal(0.0, 0.6, (n - n_uniform, 2)) * spread)
    xy = np.concatenate(pts)
    xy = xy[(xy[:, 0] > x0) & (xy[:, 0] < x1) & (xy[:, 1] > y0) & (xy[:, 1] < y1)]
    frame = shapely.box(x0, y0, x1, y1)
    cells = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=frame, ordered=True)
    polygons = shapely.intersection(shapely.get_parts(cells), frame)
    polygons = polygons[~shapely.is_empty(polygons)]

    tract_px = rasterize(
        ((p, i + 1) for i, p in enumerate(polygons)),
        out_shape=(metro.size_px, metro.size_px),
        transform=metro.transform,
        dtype="int32",
    )
    columns: dict[str, object] = {"tract_id": [f"T{i + 1:04d}" for i in range(len(polygons))]}
    land = ~metro.water
    for year, mask in sorted(built.items()):
        density = PEOPLE_PER_BUILT_PIXEL_2000 * (1 + DENSIFICATION_PER_YEAR * (year - model.BASE_YEAR))
        people = np.where(mask, density, np.where(land, PEOPLE_PER_RURAL_PIXEL, 0.0))
        per_tract = np.bincount(tract_px.ravel(), weights=people.ravel(), minlength=len(polygons) + 1)[1:]
        columns[f"pop_{year}"] = np.round(per_tract).astype(np.int64)
    utm = gpd.GeoDataFrame(columns, geometry=list(polygons), crs=CRS_UTM)
    utm["area_km2"] = np.round(utm.geometry.area / 1e6, 4)
    return utm.to_crs(CRS_GEOGRAPHIC)


def _stores(metro: Metro, built_last: np.ndarray) -> gpd.GeoDataFrame:
    """The generator's twelve stores (python_jobs.generate.stores.STORE_SITES), each on a built pixel of its
    city: the same store_id, name, format and city as the landing extracts."""
    gen = model.rng(metro.seed, model.STORES)
    xy = []
    for site in STORE_SITES:
        city = metro.cities[vocab.CITIES.index(site.city)]
        for _ in range(100):  # a built spot near the centre; the centre itself if none turns up
            dx, dy = gen.normal(0.0, 0.4 * city.radius_2000, 2)
            row, col = ~metro.transform @ (city.x + dx, city.y + dy)
            r, c = int(col), int(row)
            if 0 <= r < metro.size_px and 0 <= c < metro.size_px and built_last[c, r]:
                xy.append((city.x + dx, city.y + dy))
                break
        else:
            xy.append((city.x, city.y))
    frame = gpd.GeoDataFrame(
        {
            "store_id": np.arange(1, len(STORE_SITES) + 1, dtype=np.int64),
            "store_name": [s.name for s in STORE_SITES],
            "store_format": [s.store_format for s in STORE_SITES],
            "city": [s.city for s in STORE_SITES],
            "opened_date": [s.opened.isoformat() for s in STORE_SITES],
        },
        geometry=shapely.points(np.array(xy)),
        crs=CRS_UTM,
    )
    return frame


def _delivery_zones(metro: Metro, stores: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each store's zone: the area closer to it than to any other store, within its format's reach."""
    frame = shapely.box(*metro.bounds)
    cells = shapely.voronoi_polygons(
        shapely.multipoints(shapely.get_coordinates(stores.geometry.values)), extend_to=frame, ordered=True
    )
    cells = shapely.get_parts(cells)
    reach = shapely.buffer(stores.geometry.values, stores["store_format"].map(ZONE_RADIUS_M).to_numpy())
    zones = shapely.intersection(shapely.intersection(cells, reach), frame)
    return gpd.GeoDataFrame({"store_id": stores["store_id"].to_numpy()}, geometry=zones, crs=CRS_UTM)


def _customers(metro: Metro, settings: Settings | None, built_last: np.ndarray) -> gpd.GeoDataFrame:
    """The generator's customers on day 1 (same seed, scale and start date), each at a built pixel of their city."""
    scale = settings.scale if settings else 1.0
    start = settings.start_date if settings else date(2026, 1, 5)
    customers = replay(metro.seed, scale, start, 1)[0].customers
    gen = model.rng(metro.seed, model.CUSTOMERS)
    nearest_city = np.argmin(metro.dist_city, axis=0)
    flat_built = built_last.ravel()
    x = np.empty(len(customers))
    y = np.empty(len(customers))
    for k in range(len(metro.cities)):
        mine = np.flatnonzero(customers.city == k)
        if len(mine) == 0:
            continue
        cells = np.flatnonzero(flat_built & (nearest_city.ravel() == k))
        if len(cells) == 0:
            cells = np.array([int(np.argmin(metro.dist_city[k]))])
        pick = cells[gen.integers(0, len(cells), len(mine))]
        rows, cols = np.divmod(pick, metro.size_px)
        jitter = gen.random((len(mine), 2))
        x[mine], y[mine] = metro.transform @ (cols + jitter[:, 0], rows + jitter[:, 1])
    return gpd.GeoDataFrame(
        {"customer_id": customers.ids, "city": [vocab.CITIES[c] for c in customers.city.tolist()]},
        geometry=shapely.points(x, y),
        crs=CRS_UTM,
    )


def _roads(metro: Metro) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "road_id": np.arange(1, len(metro.roads) + 1, dtype=np.int64),
            "road_class": [r.road_class for r in metro.roads],
            "speed_kmh": np.array([r.speed_kmh for r in metro.roads], dtype=np.int64),
        },
        geometry=[r.line for r in metro.roads],
        crs=CRS_UTM,
    )


def generate_metro(
    settings_or_paths: Settings | Path | str,
    seed: int | None = None,
    size_px: int = DEFAULT_SIZE_PX,
    years: Sequence[int] = DEFAULT_YEARS,
) -> GeoPaths:
    """Write the seeded metro under `<data_dir>/landing/geo/` and its truth under `<data_dir>/truth/geo/`.

    `settings_or_paths` is the project's Settings (its data_dir, and its seed, scale and start date for the
    customers) or a data folder. The same seed and size give byte-identical files.
    """
    settings = settings_or_paths if isinstance(settings_or_paths, Settings) else None
    data_dir = settings.data_dir if settings else Path(settings_or_paths).resolve()
    if seed is None:
        seed = settings.seed if settings else 42
    years = sorted(set(years))
    if not years:
        raise ValueError("at least one year is needed")
    landing = data_dir / "landing" / "geo"
    truth = data_dir / "truth" / "geo"
    metro = model.build_metro(seed, size_px)
    built = {year: metro.built(year) for year in years}

    imagery: dict[int, Path] = {}
    builtup_truth: dict[int, Path] = {}
    summary_years: dict[str, dict[str, float]] = {}
    for year in years:
        bands, clouds = model.reflectance(metro, year, built[year])
        edge = model.scene_edge(metro, year)
        bands[:, edge] = NODATA
        tags = {
            "ACQUISITION_YEAR": str(year),
            "SENSOR": "synthetic Landsat-like (python_jobs.geo.generate)",
            "UNITS": "surface reflectance 0..1",
            "SCALE": "1.0",
            "OFFSET": "0.0",
            "SEED": str(seed),
        }
        imagery[year] = _atomic(
            landing / f"imagery_{year}.tif",
            lambda p, b=bands, t=tags: _write_tiff(p, metro, b, NODATA, t, BANDS),
        )
        mask = built[year].astype(np.uint8)[None]
        builtup_truth[year] = _atomic(
            truth / f"builtup_{year}.tif",
            lambda p, m=mask, y=year: _write_tiff(
                p, metro, m, None, {"ACQUISITION_YEAR": str(y), "VALUES": "1 built-up, 0 not"}, ("built",)
            ),
        )
        summary_years[str(year)] = {
            "built_share": round(float(built[year].mean()), 6),
            "cloud_share": round(float(clouds.mean()), 6),
            "nodata_share": round(float(edge.mean()), 6),
        }

    tracts = _tracts(metro, built)
    tracts_path = _atomic(landing / "tracts.gpkg", lambda p: _write_gpkg(p, {"tracts": tracts}))
    stores = _stores(metro, built[years[-1]])
    layers = {
        "stores": stores,
        "customers": _customers(metro, settings, built[years[-1]]),
        "delivery_zones": _delivery_zones(metro, stores),
        "roads": _roads(metro),
    }
    layers = {name: frame.to_crs(CRS_GEOGRAPHIC) for name, frame in layers.items()}
    business = _atomic(landing / "business.gpkg", lambda p: _write_gpkg(p, layers))

    summary = {
        "seed": seed,
        "size_px": size_px,
        "pixel_m": model.PIXEL_M,
        "raster_crs": CRS_UTM,
        "vector_crs": CRS_GEOGRAPHIC,
        "bounds_utm": list(metro.bounds),
        "cities": [{"name": c.name, "x": round(c.x, 2), "y": round(c.y, 2)} for c in metro.cities],
        "years": summary_years,
        "population": {str(y): int(tracts[f"pop_{y}"].sum()) for y in years},
        "stores": "python_jobs.generate.stores.STORE_SITES (store_id = position + 1)",
        "customers": "python_jobs.generate.world.replay(seed, scale, start_date, 1): the day-1 customer base",
    }
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    summary_path = _atomic(truth / "summary.json", lambda p: p.write_text(text))
    return GeoPaths(imagery, tracts_path, business, builtup_truth, summary_path)
