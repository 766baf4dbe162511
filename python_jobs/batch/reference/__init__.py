"""The batch computation on the single-process reference engines: DuckDB and Polars."""
