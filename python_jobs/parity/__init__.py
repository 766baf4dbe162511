"""Parity between two builds of the same marts (dbt ≡ SQLMesh here; reusable for DuckDB ≡ PostgreSQL)."""

from python_jobs.parity.compare import Verdict, compare_relations

__all__ = ["Verdict", "compare_relations"]
