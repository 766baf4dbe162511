"""A real Spark standalone cluster (one master, one worker) on 127.0.0.1, from the pyspark package's own files.

The pip wheel ships `sbin/spark-daemon.sh` but not `start-master.sh`/`start-worker.sh`; those two are thin
wrappers that call `spark-daemon.sh start <Master|Worker class> 1 ...`, which is what this module does. Every
folder the daemons write (conf, logs, pids, work) is ours, under `base`, so nothing touches the package or /tmp.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyspark

from python_jobs.java import find_java_home

SPARK_HOME = Path(pyspark.__file__).parent
MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"


@dataclass(frozen=True)
class Cluster:
    master_url: str
    master_ui: str
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _daemon(env: dict[str, str], action: str, cls: str, *args: str) -> None:
    subprocess.run(
        ["bash", str(SPARK_HOME / "sbin" / "spark-daemon.sh"), action, cls, "1", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


def _alive_workers(ui: str) -> int:
    try:
        with urllib.request.urlopen(f"{ui}/json/", timeout=2) as response:  # local only: 127.0.0.1
            return sum(w.get("state") == "ALIVE" for w in json.load(response).get("workers", []))
    except OSError:
        return 0


@contextmanager
def standalone_cluster(
    base: Path, *, cores: int = 2, memory: str = "2g", timeout: float = 90
) -> Iterator[Cluster]:
    for sub in ("conf", "logs", "pids", "work"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        "JAVA_HOME": str(find_java_home()),
        "SPARK_CONF_DIR": str(base / "conf"),
        "SPARK_LOG_DIR": str(base / "logs"),
        "SPARK_PID_DIR": str(base / "pids"),
        "SPARK_WORKER_DIR": str(base / "work"),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_IDENT_STRING": f"grocery-{port}",  # pid file names: two clusters never collide
    }
    master_url = f"spark://127.0.0.1:{port}"
    ui = f"http://127.0.0.1:{ui_port}"
    try:
        _daemon(
            env, "start", MASTER, "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui_port)
        )
        _daemon(
            env,
            "start",
            WORKER,
            "--host",
            "127.0.0.1",
            "--cores",
            str(cores),
            "--memory",
            memory,
            "--webui-port",
            str(worker_ui),
            master_url,
        )
        deadline = time.monotonic() + timeout
        while _alive_workers(ui) < 1:
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in (base / "logs").glob("*.out"))
                raise TimeoutError(f"no worker registered with {master_url} within {timeout}s:\n{logs}")
            time.sleep(1)
        yield Cluster(master_url, ui, env)
    finally:
        for cls in (WORKER, MASTER):
            subprocess.run(
                ["bash", str(SPARK_HOME / "sbin" / "spark-daemon.sh"), "stop", cls, "1"],
                env=env,
                capture_output=True,
            )
