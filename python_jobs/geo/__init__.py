"""Module 5, geospatial: a growing metro on the map.

`python_jobs.geo.generate` writes the seeded metro (Landsat-like imagery per year, census tracts, stores,
customers, delivery zones, roads) under `<data_dir>/landing/geo/` with its ground truth under
`<data_dir>/truth/geo/`; `python_jobs.geo.readers` reads raster and vector files and rejects what is wrong.
"""
