"""Ingest: validate landing files in bounded-memory chunks and load them into the warehouse `raw` schema.

`loader.load_day` is the only writer of `raw` and `ingest` tables (besides dbt and SQLMesh, which write their own
schemas): engine jobs of later modules hand their output to it instead of writing the warehouse themselves.
"""
