"""One Ray runtime per process: started on first use, reused after (starting one costs many seconds).

No address: `ray.init()` starts a local cluster inside this process' session (a head with `workers` CPUs). An
address (GROCERY_RAY_ADDRESS, e.g. 127.0.0.1:6379 of a `ray start --head`): the same code connects to that
cluster as a driver. Either way the workers must import this project, so its root goes on their PYTHONPATH.
"""

from __future__ import annotations

import logging

import ray

from python_jobs.config import REPO_ROOT, ComputeSettings


def runtime_env(settings: ComputeSettings) -> dict[str, object]:
    return {"env_vars": {**settings.process_env(), "PYTHONPATH": str(REPO_ROOT)}}


# What `ray.init` answered in this process: it carries the dashboard's address (the runtime context does not).
_context: object | None = None


def ensure_ray(settings: ComputeSettings) -> None:
    global _context
    if ray.is_initialized():
        return
    if settings.ray_address:
        _context = ray.init(
            address=settings.ray_address,
            runtime_env=runtime_env(settings),
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    else:
        _context = ray.init(
            # "local", not None: None joins whichever `ray start` cluster this machine last started (another
            # job's or test's), and refuses num_cpus there; "local" always starts this process' own runtime.
            address="local",
            num_cpus=settings.workers,
            include_dashboard=settings.dashboards,
            runtime_env=runtime_env(settings),
            logging_level=logging.WARNING,
            log_to_driver=False,
        )


def dashboard_url() -> str | None:
    url = getattr(_context, "dashboard_url", None) if ray.is_initialized() else None
    return url if not url or url.startswith("http") else f"http://{url}"
