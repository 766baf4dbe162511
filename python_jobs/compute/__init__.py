"""Module 4, distributed compute: the stock-out risk of every store x category by Monte Carlo.

`fit` turns the order history into a daily demand distribution per store x category (pandas as the reference,
Dask DataFrame out of core); `kernel` simulates next week's demand against a stock policy, one block of paths at
a time; `engines` runs the kernel's tasks on NumPy, processes, Ray tasks, Ray actors or Dask, all giving the
same bits; `risk` turns the exact integer totals into the figures the warehouse keeps; `job` is the pipeline's
step, handing its Parquet output to the spine's loader. See docs/compute.md.
"""
