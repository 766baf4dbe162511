"""The typed configuration, read once from the environment at a job's entry point.

Every job receives a `Settings` instance (or the few fields it needs) as an argument, and the engine jobs their
engine's settings (`SparkSettings`, `ModinSettings`) the same way; nothing reads the environment anywhere else,
so tests can build their own settings pointing at a temporary folder. Where a child process (the JVM, Ray's
workers) needs environment variables, the settings object builds them (`process_env()`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every tool that would phone home is told not to, in every process the project starts (the Makefile exports
# the same for commands typed by hand). Nothing may reach the network at run time.
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "true",
    "RAY_USAGE_STATS_ENABLED": "0",
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse_path: Path
    seeds_dir: Path
    start_date: date
    seed: int
    scale: float
    bad_share: float
    # Folder of PostgreSQL's initdb/pg_ctl when set (GROCERY_PG_BINDIR); None: search the usual places.
    pg_bindir: Path | None = None

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def truth_dir(self) -> Path:
        return self.data_dir / "truth"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def day_date(self, day: int) -> date:
        """Simulated day number (1-based) to its calendar date."""
        if day < 1:
            raise ValueError(f"simulated days start at 1, got {day}")
        return self.start_date + timedelta(days=day - 1)

    def day_number(self, when: date) -> int:
        return (when - self.start_date).days + 1

    def parse_day(self, text: str) -> date:
        """The one reading of a `--day` value: a calendar date (YYYY-MM-DD), or a simulated day number (1 is
        `start_date`) for typing at a terminal. Every CLI of the project converts its days here."""
        text = text.strip()
        if text.isdigit():
            return self.day_date(int(text))
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"a day is YYYY-MM-DD or a day number, not {text!r}") from None

    def at(self, data_dir: Path | None = None, warehouse: Path | None = None) -> Settings:
        """These settings pointed at another data folder (and its warehouse.duckdb) and/or another warehouse
        file: what every CLI's --data-dir and --warehouse options mean."""
        settings = self
        if data_dir is not None:
            data_dir = data_dir.resolve()
            settings = settings.with_(data_dir=data_dir, warehouse_path=data_dir / "warehouse.duckdb")
        if warehouse is not None:
            settings = settings.with_(warehouse_path=warehouse.resolve())
        return settings

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read the settings from environment variables (GROCERY_*), with defaults for a laptop run."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("GROCERY_DATA_DIR", REPO_ROOT / "data")).resolve()
    return Settings(
        data_dir=data_dir,
        warehouse_path=Path(env.get("WAREHOUSE_PATH", data_dir / "warehouse.duckdb")).resolve(),
        seeds_dir=Path(env.get("GROCERY_SEEDS_DIR", REPO_ROOT / "seeds")).resolve(),
        start_date=date.fromisoformat(env.get("GROCERY_START_DATE", "2026-01-05")),
        seed=int(env.get("GROCERY_SEED", "42")),
        scale=float(env.get("GROCERY_SCALE", "1")),
        bad_share=float(env.get("GROCERY_BAD_SHARE", "0.01")),
        pg_bindir=Path(env["GROCERY_PG_BINDIR"]) if env.get("GROCERY_PG_BINDIR") else None,
    )


@dataclass(frozen=True)
class SparkSettings:
    """The Spark jobs' settings (GROCERY_SPARK_*, JAVA_HOME, PYSPARK_PYTHON): `load_spark_settings` reads them."""

    master: str = "local[*]"
    # Small on purpose: the pipeline's daily data is a few MB, and every shuffle partition is a task.
    shuffle_partitions: int = 4
    driver_memory: str = "2g"
    executor_memory: str = "1g"
    event_log_dir: Path | None = None
    # Fault injection for the recovery tests and docs: "<task|exit>:<output>:<YYYY-MM-DD>", e.g.
    # "task:product_daily:2026-01-07" fails a write task of that output on that run day,
    # "exit:product_daily:2026-01-07" ends the driver right after that output is committed.
    fail_at: str | None = None
    # The JVM's Java (None: the first Java >= 17 that python_jobs.java finds) and the Python the executors run
    # (None: this interpreter; a standalone worker's executors must run the same Python as the driver).
    java_home: Path | None = None
    python: str | None = None

    def process_env(self) -> dict[str, str]:
        """The variables the JVM PySpark starts, and its Python workers, must see."""
        from python_jobs.java import find_java_home  # runs `java -version`: only when a JVM is about to start

        return {
            "JAVA_HOME": str(self.java_home or find_java_home()),
            "PYSPARK_PYTHON": self.python or sys.executable,
        }


def load_spark_settings(data_dir: Path, env: dict[str, str] | None = None) -> SparkSettings:
    env = dict(os.environ if env is None else env)
    return SparkSettings(
        master=env.get("GROCERY_SPARK_MASTER", "local[*]"),
        shuffle_partitions=int(env.get("GROCERY_SPARK_SHUFFLE_PARTITIONS", "4")),
        driver_memory=env.get("GROCERY_SPARK_DRIVER_MEMORY", "2g"),
        executor_memory=env.get("GROCERY_SPARK_EXECUTOR_MEMORY", "1g"),
        event_log_dir=Path(env.get("GROCERY_SPARK_EVENT_LOG_DIR", data_dir / "spark-events")).resolve(),
        fail_at=env.get("GROCERY_BATCH_FAIL_AT") or None,
        java_home=Path(env["JAVA_HOME"]) if env.get("JAVA_HOME") else None,
        python=env.get("PYSPARK_PYTHON") or None,
    )


@dataclass(frozen=True)
class ModinSettings:
    """The Modin engine's settings (MODIN_ENGINE): `load_modin_settings` reads them."""

    engine: str = "ray"

    def process_env(self) -> dict[str, str]:
        """The variables Modin and Ray (and the worker processes Ray starts) must see: telemetry off included."""
        return {**TELEMETRY_OFF, "MODIN_ENGINE": self.engine}


def load_modin_settings(env: dict[str, str] | None = None) -> ModinSettings:
    env = dict(os.environ if env is None else env)
    return ModinSettings(engine=env.get("MODIN_ENGINE") or "ray")


@dataclass(frozen=True)
class ComputeSettings:
    """The distributed compute module's settings (GROCERY_COMPUTE_*, GROCERY_RAY_ADDRESS, GROCERY_DASK_SCHEDULER):
    `load_compute_settings` reads them. No address: an in-process Ray runtime and a Dask LocalCluster; an
    address: the same code on that running Ray head or Dask scheduler."""

    engine: str = "numpy"  # the pipeline step's simulation engine (python_jobs/compute/engines.py)
    fit: str = (
        "pandas"  # the pipeline step's demand fit: pandas (in memory) or dask (out of core, on the cluster)
    )
    workers: int = 2
    paths: int = 10_000  # Monte Carlo paths per store x category (a probability near 0.1 to +-0.003)
    chunk_paths: int = 8192  # paths per task: a multiple of the block size
    tune_paths: int = 1024  # paths per policy when the job searches each series' reorder policy
    ray_address: str | None = None
    dask_scheduler: str | None = None
    dask_memory_limit: str = (
        "auto"  # per LocalCluster worker (e.g. "300MiB"): above it, workers spill to disk
    )
    dashboards: bool = False  # start the Ray and Dask dashboards (the labs do)

    def process_env(self) -> dict[str, str]:
        return dict(TELEMETRY_OFF)


def load_compute_settings(env: dict[str, str] | None = None) -> ComputeSettings:
    env = dict(os.environ if env is None else env)
    defaults = ComputeSettings()
    return ComputeSettings(
        engine=env.get("GROCERY_COMPUTE_ENGINE") or defaults.engine,
        fit=env.get("GROCERY_COMPUTE_FIT") or defaults.fit,
        workers=int(env.get("GROCERY_COMPUTE_WORKERS") or defaults.workers),
        paths=int(env.get("GROCERY_COMPUTE_PATHS") or defaults.paths),
        chunk_paths=int(env.get("GROCERY_COMPUTE_CHUNK_PATHS") or defaults.chunk_paths),
        tune_paths=int(env.get("GROCERY_COMPUTE_TUNE_PATHS") or defaults.tune_paths),
        ray_address=env.get("GROCERY_RAY_ADDRESS") or None,
        dask_scheduler=env.get("GROCERY_DASK_SCHEDULER") or None,
        dask_memory_limit=env.get("GROCERY_DASK_MEMORY_LIMIT") or defaults.dask_memory_limit,
        dashboards=env.get("GROCERY_COMPUTE_DASHBOARDS", "0") == "1",
    )
