"""Module 1, batch: one computation over the orders landing data, written for several engines.

The computation (see `semantics.py` and docs/batch.md) is the same everywhere: the latest version of each order
(greatest `updated_at`, then the latest landing day), cancelled orders excluded, joined to its lines and to the
products seed, aggregated into daily sales per store x product (with the category), daily basket metrics per
store, and customer RFM features as of the last landing day.
"""
