"""The seeded metro: a core city and its suburbs growing outward along roads into farmland, 2000 to 2020.

`generate_metro` writes real file formats (GeoTIFF, GeoPackage) under `<data_dir>/landing/geo/` and the
ground truth (built-up masks, the model's summary) under `<data_dir>/truth/geo/`.
"""

from python_jobs.geo.generate.metro import DEFAULT_SIZE_PX, DEFAULT_YEARS, GeoPaths, generate_metro

__all__ = ["DEFAULT_SIZE_PX", "DEFAULT_YEARS", "GeoPaths", "generate_metro"]
