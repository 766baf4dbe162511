"""Seeded generator of the grocery-delivery company's daily landing files and their ground truth.

The generator plays the role of the upstream systems: every simulated day it "delivers" a full extract of
customers and stores plus a delta of orders and order lines into `data/landing/<date>/`, sprinkled with bad
records, and writes what really happened (changes, bad lines, counts) into `data/truth/<date>/`, so the
ingest and the transformation projects can be checked against it. See docs/contracts.md.

Entry point: `python -m python_jobs.generate --help`; in code, `generate_day(settings, day)`.
"""

from python_jobs.generate.day import DayResult, generate_day

__all__ = ["DayResult", "generate_day"]
