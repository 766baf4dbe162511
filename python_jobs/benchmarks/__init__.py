"""Benchmarks: competitors run side by side in one run, printing ratios, peak memory and throughput."""
