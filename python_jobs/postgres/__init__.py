"""The same marts on PostgreSQL: throwaway server, raw loader, build, DuckDB ≡ Postgres parity, federation."""
