"""Dask: data parallelism (DataFrames out of core) and futures on a distributed cluster."""
