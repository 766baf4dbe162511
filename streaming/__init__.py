"""Module 2: the cold-chain streaming jobs (PyFlink 2.3, run in the `.venv-streaming` environment).

Nothing here imports DuckDB: jobs write files, and the spine's loader (main environment) puts them into `raw`.
"""
