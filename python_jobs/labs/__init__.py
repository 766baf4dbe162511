"""One module per lab: each runs its module's pattern and ends in a measured, reproducible outcome."""
