"""One metric CRS for every layer, and the error an area measured in degrees makes.

Areas, distances and buffers only mean something in a projected CRS whose unit is the metre. EPSG:4326
coordinates are angles: a "square degree" shrinks with cos(latitude), so `gdf.area` on a lon/lat layer is
neither km² nor proportional to km² across latitudes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import geopandas as gpd
from pyproj import CRS
from shapely.geometry import box

# Metres per degree of latitude (and of longitude at the equator) on WGS84: the "naive" conversion factor.
METRES_PER_DEGREE = 111_320.0


class MissingCRSError(ValueError):
    """A layer came without a CRS: its coordinates cannot be placed on Earth."""


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS | str | int | None = None) -> gpd.GeoDataFrame:
    """`gdf` reprojected to one projected, metre-based CRS (the metro's UTM zone).

    `crs` is the metro's CRS when the caller has one (pass the raster's CRS so vector and raster agree);
    otherwise the UTM zone of the layer's centroid (`estimate_utm_crs`). A layer without a CRS is rejected:
    guessing one (the usual "it's probably 4326") silently puts data in the wrong place.
    """
    if gdf.crs is None:
        raise MissingCRSError(
            "layer has no CRS: set the one its source declares with gdf.set_crs(...) before any metric work"
        )
    target = CRS.from_user_input(crs) if crs is not None else gdf.estimate_utm_crs()
    if not target.is_projected or target.axis_info[0].unit_name not in ("metre", "meter"):
        raise ValueError(f"target CRS {target.to_string()} is not projected in metres")
    return gdf.to_crs(target)


@dataclass(frozen=True)
class AreaComparison:
    """The same square measured three ways (km² unless named otherwise)."""

    true_km2: float
    square_degrees: float  # `.area` of the lon/lat polygon: the number a naive pipeline reports
    naive_km2: float  # square degrees * 111.32² km²: ignores that a degree of longitude shrinks with cos(lat)
    projected_km2: float  # `.area` after `to_metric` (UTM)


def area_in_degrees_error(lon: float, lat: float, side_m: float = 1_000.0) -> AreaComparison:
    """A `side_m` square centred on (lon, lat), built in an equal-area projection, measured in 4326 and UTM.

    The square is drawn in a Lambert azimuthal equal-area projection centred on the point, so its true area
    is exactly side_m², independent of the UTM zone used to measure it back.
    """
    laea = CRS.from_proj4(f"+proj=laea +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs")
    half = side_m / 2
    square = gpd.GeoDataFrame(geometry=[box(-half, -half, half, half)], crs=laea)
    # Densify so the edges stay the same curve in every CRS (a 4-vertex square is straight only in LAEA).
    square["geometry"] = square.geometry.segmentize(side_m / 100)
    lonlat = square.to_crs(4326)
    with warnings.catch_warnings():
        # geopandas warns that area in a geographic CRS is meaningless: that is the mistake being measured.
        warnings.simplefilter("ignore", UserWarning)
        sq_deg = float(lonlat.area.iloc[0])
    projected = float(to_metric(lonlat).area.iloc[0])
    return AreaComparison(
        true_km2=side_m**2 / 1e6,
        square_degrees=sq_deg,
        naive_km2=sq_deg * (METRES_PER_DEGREE / 1_000) ** 2,
        projected_km2=projected / 1e6,
    )


def naive_overstatement(lat: float) -> float:
    """The factor by which square degrees * 111.32² overstates area at `lat`: 1 / cos(lat)."""
    return 1 / math.cos(math.radians(lat))
