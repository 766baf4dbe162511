# Grocery-delivery analytics monorepo: every command a learner types.
# `make help` lists the targets. Each target installs what it needs first (via `setup`, idempotent).

SHELL := /bin/bash
.DEFAULT_GOAL := help

DAYS  ?= 3
SCALE ?= 1
SEED  ?= 42

# uv: the one on PATH, else the one pip installed as a module (make setup installs it if neither exists).
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV := .venv
STREAMING_VENV := .venv-streaming
PY := $(VENV)/bin/python

# Telemetry off everywhere; nothing may download at run time (uv never fetches a Python build either).
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export SQLMESH__DISABLE_ANONYMIZED_ANALYTICS := true
export RAY_USAGE_STATS_ENABLED := 0
export UV_PYTHON_DOWNLOADS := never
export DBT_PROFILES_DIR := $(CURDIR)/profiles
export PYTHONPATH := $(CURDIR)

STREAMING_PY := $(STREAMING_VENV)/bin/python
SIZE ?= 100MB
NAB_DIR ?= ../shared/data/nab

.PHONY: help setup java pipeline test test-fast lint fmt lab-scd2 docs bench-ingest clean \
	parity lab-sqlmesh-envs bench-transform lab-batch lab-stream eval-nab lab-montecarlo lab-tuning \
	pipeline-postgres lab-sprawl bench-geo-join

help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: $(VENV)/.synced $(STREAMING_VENV)/.synced java ## Install both locked environments and find Java (idempotent)

# --compile-bytecode: every dbt, SQLMesh and job process imports hundreds of modules. Without .pyc files each
# start compiles them again when PYTHONDONTWRITEBYTECODE is set (it is in this project's dev container), a cost
# paid by every `dbt` command; compiling once, at install, is cheaper (docs/measurements.md).
$(VENV)/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

# PyFlink pins an older pandas/pyarrow stack, so it lives in its own environment (see docs/environment.md).
$(STREAMING_VENV)/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	UV_PROJECT_ENVIRONMENT=$(STREAMING_VENV) $(UV) sync --frozen --compile-bytecode --no-default-groups --group streaming
	@touch $@

java: $(VENV)/.synced ## Show the Java (>= 17) Spark and Flink will use
	@$(PY) -m python_jobs.java >/dev/null

# `setup` first: the Flink replay runs in the streaming environment, which `make setup` installs.
# The steps are declared in python_jobs/orchestration/definitions.py; `--dry-run` prints each one's command, reads
# and writes. A rerun skips the Flink and Spark days already done; ingest, dbt and SQLMesh rebuild a fresh warehouse.
pipeline: setup ## DAYS days into data/warehouse.duckdb: generate, Flink replay, ingest, Spark, per day load sensors + batch, then dbt and SQLMesh day by day (plan: .venv/bin/python -m python_jobs.pipeline --dry-run)
	$(PY) -m python_jobs.pipeline --days $(DAYS) --scale $(SCALE) --seed $(SEED)

test: setup ## Run the whole test suite (real DuckDB, dbt, engines; no mocks)
	$(PY) -m pytest
	@# Tests of the streaming code's own Python run inside the streaming environment (PyFlink's stack).
	$(STREAMING_PY) -m pytest tests/streaming

test-fast: $(VENV)/.synced ## Tests without the slow ones
	$(PY) -m pytest -m "not slow"

lint: $(VENV)/.synced ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(VENV)/.synced ## Format the Python code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lab-scd2: $(VENV)/.synced ## SCD2 lab: change log beside SCD2 history (own warehouse in data/labs/scd2; report + PNG in data/reports/scd2)
	$(PY) -m python_jobs.labs.scd2 --days $(or $(LAB_DAYS),5) --scale $(SCALE)

# --static inlines the manifest and catalog into one page: the plain index.html fetches them at run time, which a
# browser refuses over file://, so it stays blank when opened from disk (tests/test_dbt_docs.py renders it).
docs: $(VENV)/.synced ## dbt docs as one self-contained page for data/warehouse.duckdb (run make pipeline first)
	cd dbt_project && $(CURDIR)/$(VENV)/bin/dbt docs generate --static --target-path $(CURDIR)/data/dbt/docs
	@echo "open data/dbt/docs/static_index.html (or: cd dbt_project && dbt docs serve --target-path ../data/dbt/docs)"

bench-ingest: $(VENV)/.synced ## Ingest benchmark: rows/s and peak RSS at growing file sizes
	$(PY) -m python_jobs.benchmarks.ingest

# --- Module 3: SQLMesh twin, parity, environments -------------------------------------------------------------
parity: $(VENV)/.synced ## Compare every shared mart between dbt and SQLMesh after DAYS days (both directions)
	$(PY) -m python_jobs.parity --days $(DAYS) --scale $(SCALE)

lab-sqlmesh-envs: $(VENV)/.synced ## SQLMesh virtual dev environments: breaking vs non-breaking change, zero-copy promote
	$(PY) -m python_jobs.labs.sqlmesh_envs

# A long history cheaply: make bench-transform BENCH_SCALES=10 DAYS=60 BACKFILL_DAYS=58 (days 1..58 in one build).
BENCH_SCALES ?= 1,10
BENCH_BACKENDS ?= duckdb,postgres
BACKFILL_DAYS ?= 1
bench-transform: $(VENV)/.synced ## dbt vs SQLMesh build times at default and 10x scale (DuckDB and Postgres)
	$(PY) -m python_jobs.benchmarks.transform --scales $(BENCH_SCALES) --days $(DAYS) \
		--backfill-days $(BACKFILL_DAYS) --backends $(BENCH_BACKENDS)

pipeline-postgres: setup ## The pipeline, then the same marts on a throwaway PostgreSQL (dbt + SQLMesh) and parity
	$(PY) -m python_jobs.postgres pipeline --days $(DAYS) --scale $(SCALE) --seed $(SEED)

# --- Module 5: geospatial -------------------------------------------------------------------------------------
# Point counts for the join benchmark: make bench-geo-join SIZES="1e6 1e7"; SIZES=2e4 is a quick smoke run.
SIZES ?= 1e6 1e7
bench-geo-join: $(VENV)/.synced ## Point-in-polygon join of SIZES points (1e6 1e7) x 2,500 tracts: sjoin, naive, STRtree, grid, DuckDB, PostGIS, Dask; report in data/reports/geo_join
	$(PY) -m python_jobs.benchmarks.geo_join --sizes "$(SIZES)"

# --- Module 1: batch (Spark, pandas, DuckDB, Polars) -----------------------------------------------------------
lab-batch: setup ## Batch lab: every engine on the same orders at SIZE (100MB..10GB): time, memory, equality
	$(PY) -m python_jobs.labs.batch --size $(SIZE) $(if $(ENGINE_TIMEOUT_S),--engine-timeout-s $(ENGINE_TIMEOUT_S))

# --- Module 2: streaming (PyFlink, own environment) ------------------------------------------------------------
# SIZE is shared with lab-batch (100MB there): here it is the largest N, 1e7 unless given on the command line.
MC_SIZE = $(if $(filter command line environment,$(origin SIZE)),$(SIZE),1e7)
FIT_SIZE ?= 1GB
lab-montecarlo: $(VENV)/.synced ## Monte Carlo lab: paths/s of NumPy, processes, Ray, Dask up to SIZE paths (1e7), overheads, RNG limit, memory, convergence; Dask fit of FIT_SIZE (1GB; 10GB) out of core
	$(PY) -m python_jobs.labs.montecarlo --size $(MC_SIZE) --fit-size $(FIT_SIZE) $(if $(WORKERS),--workers $(WORKERS))

# SIZE is shared with other labs (100MB above): the sprawl lab takes it only from the command line or the
# environment, else its own default of 512 pixels.
SPRAWL_SIZE = $(if $(filter command line environment,$(origin SIZE)),$(SIZE),512)
lab-sprawl: $(VENV)/.synced ## Sprawl lab: built-up per year (IoU vs truth), km², LCRPGR, rings, entropy, maps; SIZE px (512), SEED, or IMAGERY=dir TRACTS=gpkg
	$(PY) -m python_jobs.labs.sprawl $(if $(IMAGERY),--imagery $(IMAGERY),--size $(SPRAWL_SIZE) --seed $(SEED)) $(if $(TRACTS),--tracts $(TRACTS)) $(if $(TRUTH),--truth $(TRUTH)) $(if $(CONFIG),--config $(CONFIG))

lab-stream: setup ## Streaming lab: replay a day of cold-chain sensors through Flink; latency, late events, detector quality
	$(STREAMING_PY) -m streaming.lab

# The sample lives outside the repository (NAB_DIR, default ../shared/data/nab): without it the target says so
# and stops cleanly. `python -m streaming.nab_eval --nab-dir ... --results ...` re-scores without the Flink job.
eval-nab: setup ## The Flink detector over series in NAB layout, NAB-scored beside baselines and NAB's reference detectors (NAB_DIR=...)
	@if [ ! -d "$(NAB_DIR)/data" ]; then echo "eval-nab: no NAB sample at $(NAB_DIR) (set NAB_DIR=...): skipped"; exit 0; fi; \
	$(STREAMING_PY) -m streaming.nab --nab-dir $(NAB_DIR)

# --- Module 6: performance tuning (in progress) ------------------------------------------------------------------
PLAN ?= all
lab-tuning: $(VENV)/.synced ## Tuning lab: the slow Spark report fix by fix and each fix alone, cache levels, DuckDB beside it, the Dask report (SIZE=1GB, PLAN=all|ends|tuned,bound,cumulative,bound-cumulative,alone,levels,duckdb,dask)
	$(PY) -m python_jobs.labs.tuning --size $(SIZE) --plan $(PLAN)

clean: ## Remove generated data (data/) and build outputs
	rm -rf data dbt_project/target dbt_project/logs
