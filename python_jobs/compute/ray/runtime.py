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


def ensure_ray(settings: ComputeSettings) -> None:
    if ray.is_initialized():
        return
    if settings.ray_address:
        ray.init(
            address=settings.ray_address,
            runtime_env=runtime_env(settings),
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    else:
        ray.init(
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
    url = ray.get_runtime_context().dashboard_url if ray.is_initialized() else None
    return f"http://{url}" if url else None
