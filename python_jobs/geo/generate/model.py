"""The metro's model on the raster grid: where the cities, roads and river are, and what is built each year.

Everything is laid out in fractions of the extent, so a 128-pixel test metro and a 2048-pixel lab metro have
the same shape. Growth is monotone by construction: every year-dependent term only widens with the year and
the noise that roughens the edges is fixed per seed, so a pixel built in 2000 stays built in 2020.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy import ndimage

from python_jobs.generate import vocab

PIXEL_M = 30.0  # Landsat's pixel
CRS_UTM = "EPSG:32633"  # UTM 33N: the made-up metro lies near 52.5 N, 15 E
CENTER_EASTING = 500_000.0
CENTER_NORTHING = 5_817_000.0
BASE_YEAR = 2000

# Stable sub-stream numbers under the geo namespace; append, never renumber (that changes every file).
GEO_NAMESPACE = 5  # module 5
LAYOUT, NOISE, PARCELS, TRACTS, STORES, CUSTOMERS, ROADS = range(7)
YEAR_STREAM = 100  # + year: per-year reflectance noise and clouds

ROAD_CLASSES = {"motorway": 100, "arterial": 60, "local": 40}  # class -> speed_kmh


def rng(seed: int, *sub: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, GEO_NAMESPACE, *sub]))


@dataclass(frozen=True)
class City:
    name: str
    x: float  # metres (UTM)
    y: float
    radius_2000: float
    growth_per_year: float  # relative radius growth

    def radius(self, year: int) -> float:
        return self.radius_2000 * (1.0 + self.growth_per_year * (year - BASE_YEAR))


@dataclass(frozen=True)
class Road:
    road_class: str
    line: shapely.LineString  # UTM

    @property
    def speed_kmh(self) -> int:
        return ROAD_CLASSES[self.road_class]


@dataclass(frozen=True)
class Metro:
    seed: int
    size_px: int
    transform: Affine
    cities: tuple[City, ...]  # vocab.CITIES order: the core city first
    roads: tuple[Road, ...]
    water: np.ndarray  # bool (rows, cols)
    noise: np.ndarray  # float, smooth, about -1..1: roughens the built-up edge
    dist_road: np.ndarray  # metres to the nearest motorway or arterial
    dist_core: np.ndarray  # metres to the core city's centre
    dist_city: np.ndarray  # (city, rows, cols) metres to each city's centre

    @property
    def extent_m(self) -> float:
        return self.size_px * PIXEL_M

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        x0, y1 = self.transform.c, self.transform.f
        return (x0, y1 - self.extent_m, x0 + self.extent_m, y1)

    def built(self, year: int) -> np.ndarray:
        """The ground-truth built-up mask of a year (bool)."""
        e = self.extent_m
        t = year - BASE_YEAR
        # Compact towns: inside a radius that grows with the year, with a ragged edge.
        relative = np.stack(
            [(c.radius(year) - d) / c.radius(year) for c, d in zip(self.cities, self.dist_city, strict=True)]
        )
        town = relative.max(axis=0) + 0.25 * self.noise > 0
        # Ribbon development: a corridor along the main roads that widens and reaches further out each year.
        corridor = 45.0 + 5.0 * t
        reach = (0.14 + 0.012 * t) * e
        ribbon = (self.dist_road + 40.0 * self.noise < corridor) & (self.dist_core < reach)
        return (town | ribbon) & ~self.water


def _smooth_noise(gen: np.random.Generator, size: int, cell_px: float) -> np.ndarray:
    """Smooth noise scaled to about -1..1: a coarse random grid blurred to the pixel grid."""
    field = ndimage.gaussian_filter(gen.standard_normal((size, size)), cell_px, mode="wrap")
    return field / (float(np.abs(field).max()) or 1.0)


def _wiggly_line(
    gen: np.random.Generator, a: tuple[float, float], b: tuple[float, float], wiggle: float
) -> shapely.LineString:
    """A road from a to b through a few points pushed sideways: roads are not ruler-straight."""
    (ax, ay), (bx, by) = a, b
    steps = np.linspace(0.0, 1.0, 7)
    nx, ny = -(by - ay), bx - ax
    norm = float(np.hypot(nx, ny)) or 1.0
    side = gen.normal(0.0, wiggle, size=len(steps))
    side[0] = side[-1] = 0.0
    xs = ax + steps * (bx - ax) + side * nx / norm
    ys = ay + steps * (by - ay) + side * ny / norm
    return shapely.LineString(np.column_stack([xs, ys]))


def build_metro(seed: int, size_px: int) -> Metro:
    """The seeded layout: cities, roads, river, the fixed noise, and the distance fields the years share."""
    if size_px < 64:
        raise ValueError(f"the metro needs at least 64x64 pixels, got {size_px}")
    e = size_px * PIXEL_M
    x0, y1 = CENTER_EASTING - e / 2, CENTER_NORTHING + e / 2
    transform = Affine(PIXEL_M, 0.0, x0, 0.0, -PIXEL_M, y1)
    cx, cy = CENTER_EASTING, CENTER_NORTHING
    gen = rng(seed, LAYOUT)

    # The core city at the centre, the nine suburbs on a ring around it (in vocab.CITIES order).
    n_sub = len(vocab.CITIES) - 1
    angles = (
        2 * np.pi * (np.arange(n_sub) / n_sub) + gen.uniform(-0.2, 0.2, n_sub) + gen.uniform(0, 2 * np.pi)
    )
    dists = gen.uniform(0.27, 0.38, n_sub) * e
    cities = [City(vocab.CITIES[0], cx, cy, 0.09 * e, 0.035)]
    for k in range(n_sub):
        cities.append(
            City(
                vocab.CITIES[k + 1],
                cx + dists[k] * np.cos(angles[k]),
                cy + dists[k] * np.sin(angles[k]),
                float(gen.uniform(0.025, 0.04) * e),
                float(gen.uniform(0.04, 0.07)),
            )
        )

    # Motorways from the core through every other suburb to the map's edge; an arterial ring through the
    # suburbs; local roads linking the remaining suburbs to the ring.
    roads: list[Road] = []
    for k, city in enumerate(cities[1:]):
        if k % 2 == 0:
            edge = (cx + 0.75 * e * np.cos(angles[k]), cy + 0.75 * e * np.sin(angles[k]))
            roads.append(Road("motorway", _wiggly_line(gen, (cx, cy), edge, 0.02 * e)))
        else:
            roads.append(Road("local", _wiggly_line(gen, (cx, cy), (city.x, city.y), 0.015 * e)))
    ring = [(c.x, c.y) for c in cities[1:]]
    for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
        roads.append(Road("arterial", _wiggly_line(gen, a, b, 0.01 * e)))
    frame = shapely.box(x0, y1 - e, x0 + e, y1)
    roads = [Road(r.road_class, shapely.intersection(r.line, frame)) for r in roads]
    roads = [r for r in roads if isinstance(r.line, shapely.LineString) and not r.line.is_empty]

    rows, cols = np.mgrid[0:size_px, 0:size_px]
    px = x0 + (cols + 0.5) * PIXEL_M
    py = y1 - (rows + 0.5) * PIXEL_M
    dist_city = np.stack([np.hypot(px - c.x, py - c.y) for c in cities])

    # A river meandering across the southern part of the map.
    phase = gen.uniform(0, 2 * np.pi)
    river_y = cy - 0.22 * e + 0.05 * e * np.sin(2 * np.pi * 1.3 * (px - x0) / e + phase)
    water = np.abs(py - river_y) < max(45.0, 0.008 * e)

    main = [r.line for r in roads if r.road_class != "local"]
    on_road = rasterize(((line, 1) for line in main), out_shape=(size_px, size_px), transform=transform)
    dist_road = ndimage.distance_transform_edt(on_road == 0) * PIXEL_M

    noise = _smooth_noise(rng(seed, NOISE), size_px, cell_px=4.0)
    return Metro(
        seed=seed,
        size_px=size_px,
        transform=transform,
        cities=tuple(cities),
        roads=tuple(roads),
        water=water,
        noise=noise,
        dist_road=dist_road,
        dist_core=dist_city[0],
        dist_city=dist_city,
    )


BANDS = ("red", "nir", "swir1")
# Typical surface reflectance (red, NIR, SWIR1) of each cover: the contrast NDVI and NDBI rely on.
BUILT = ((0.12, 0.20), (0.17, 0.24), (0.25, 0.34))
CROP = ((0.03, 0.07), (0.28, 0.46), (0.14, 0.20))
FALLOW = ((0.12, 0.17), (0.20, 0.26), (0.24, 0.30))  # bare soil: a classifier's honest confusion
WATER = ((0.02, 0.04), (0.01, 0.03), (0.005, 0.015))
CLOUD = ((0.50, 0.65), (0.52, 0.68), (0.40, 0.55))
FALLOW_SHARE = 0.12
PARCEL_PX = 10  # ~300 m fields


def reflectance(metro: Metro, year: int, built: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A year's (3, rows, cols) float32 reflectance and its cloud mask (clouds are bright, not nodata)."""
    n = metro.size_px
    gen = rng(metro.seed, YEAR_STREAM + year)
    parcels = (np.arange(n)[:, None] // PARCEL_PX) * (n // PARCEL_PX + 1) + np.arange(n)[None, :] // PARCEL_PX
    n_parcels = int(parcels.max()) + 1
    fallow = (gen.random(n_parcels) < FALLOW_SHARE)[parcels]  # crops rotate: a new draw every year
    crop_level = gen.random(n_parcels)[parcels]

    out = np.empty((3, n, n), dtype=np.float32)
    pixel_level = gen.random((n, n))
    for b in range(3):
        crop = np.where(fallow, _between(FALLOW[b], crop_level), _between(CROP[b], crop_level))
        value = np.where(built, _between(BUILT[b], pixel_level), crop)
        value = np.where(metro.water, _between(WATER[b], pixel_level), value)
        out[b] = value + gen.normal(0.0, 0.008, (n, n))

    # A few cloud patches, soft-edged ellipses.
    rows, cols = np.mgrid[0:n, 0:n]
    clouds = np.zeros((n, n), dtype=bool)
    for _ in range(int(gen.integers(2, 5))):
        r0, c0 = gen.uniform(0, n, 2)
        ra, rb = gen.uniform(0.03, 0.07, 2) * n
        edge = 1.0 + 0.3 * metro.noise
        clouds |= ((rows - r0) / ra) ** 2 + ((cols - c0) / rb) ** 2 < edge
    cloud_level = gen.random((n, n))
    for b in range(3):
        out[b] = np.where(clouds, _between(CLOUD[b], cloud_level), out[b])
    return np.clip(out, 0.0, 1.0).astype(np.float32), clouds


def _between(bounds: tuple[float, float], level: np.ndarray) -> np.ndarray:
    low, high = bounds
    return low + (high - low) * level


def scene_edge(metro: Metro, year: int) -> np.ndarray:
    """The corner of the map outside the satellite's swath this year: nodata, as at a real scene's edge."""
    n = metro.size_px
    gen = rng(metro.seed, YEAR_STREAM + year, 1)
    rows, cols = np.mgrid[0:n, 0:n]
    width = gen.uniform(0.02, 0.06) * n
    return cols + 0.2 * rows < width
