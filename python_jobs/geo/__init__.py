"""Module 5, geospatial: a growing metro on the map.

`python_jobs.geo.generate` writes the seeded metro (Landsat-like imagery per year, census tracts, stores,
customers, delivery zones, roads) under `<data_dir>/landing/geo/` with its ground truth under
`<data_dir>/truth/geo/`; `python_jobs.geo.readers` reads raster and vector files and rejects what is wrong;
`raster` (indices, built-up masks, zonal statistics, vectorising) and `crs` hold the raster and CRS patterns;
`postgis` enables PostGIS and pgRouting in the throwaway PostgreSQL and runs the joins in SQL.
"""
