"""A real Flink standalone cluster on 127.0.0.1, started from the wheel's own `bin/` scripts.

    python -m streaming.cluster start --home DIR      # JobManager + 1 TaskManager, free ports, own conf/pid/log
    python -m streaming.cluster submit --home DIR -- streaming/datastream_job.py --input ... --out ...
    python -m streaming.cluster stop --home DIR

Jobs run in the local mini-cluster by default; submitting the same script with `flink run -py` runs it here.
Everything the cluster writes (config, pids, logs) lives under DIR, never inside the installed wheel.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pyflink

from python_jobs.config import REPO_ROOT
from python_jobs.java import find_java_home

FLINK_HOME = Path(pyflink.__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StandaloneCluster:
    home: Path

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def state(self) -> dict:
        return json.loads((self.home / "cluster.json").read_text())

    @property
    def rest(self) -> str:
        return f"127.0.0.1:{self.state['rest_port']}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FLINK_HOME": str(FLINK_HOME),
            "FLINK_CONF_DIR": str(self.conf_dir),
            "FLINK_LOG_DIR": str(self.home / "log"),
            "FLINK_PID_DIR": str(self.home / "pid"),
            "JAVA_HOME": str(find_java_home()),
            # The TaskManager's Python workers and the `flink run` client import `streaming.*` from the repo.
            "PYTHONPATH": str(REPO_ROOT),
            "PYFLINK_CLIENT_EXECUTABLE": sys.executable,
        }

    def write_config(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
        self.conf_dir.mkdir(parents=True)
        # flink-daemon.sh does not create these; without them the daemon dies before writing a single log line.
        (self.home / "log").mkdir()
        (self.home / "pid").mkdir()
        for name in ("log4j.properties", "log4j-cli.properties", "log4j-console.properties"):
            shutil.copy(FLINK_HOME / "conf" / name, self.conf_dir / name)
        ports = {"rpc_port": free_port(), "rest_port": free_port()}
        (self.home / "cluster.json").write_text(json.dumps(ports))
        java_opts = next(
            line.split("all:", 1)[1].strip()
            for line in (FLINK_HOME / "conf" / "config.yaml").read_text().splitlines()
            if line.strip().startswith("all:")
        )
        conf = {
            "env.java.opts.all": java_opts,
            "env.pid.dir": str(self.home / "pid"),
            "env.log.dir": str(self.home / "log"),
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.rpc.port": ports["rpc_port"],
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.memory.process.size": "1024m",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1",
            "taskmanager.memory.process.size": "1536m",
            "taskmanager.numberOfTaskSlots": 2,
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": ports["rest_port"],
            "parallelism.default": 1,
            "python.executable": sys.executable,
            # Notice a killed TaskManager in seconds, not the default 50 s heartbeat timeout.
            "heartbeat.interval": 1000,
            "heartbeat.timeout": 8000,
        }
        # Flat keys are valid YAML for Flink's config.yaml parser.
        (self.conf_dir / "config.yaml").write_text(
            "".join(f"{k}: {json.dumps(v)}\n" for k, v in conf.items())
        )

    def _script(self, script: str, *args: str) -> None:
        subprocess.run(
            ["bash", str(FLINK_HOME / "bin" / script), *args],
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
        )

    def start(self, timeout: float = 120) -> None:
        self.write_config()
        self._script("jobmanager.sh", "start")
        self.start_taskmanager()
        self.wait_for_slots(1, timeout)

    def start_taskmanager(self) -> None:
        self._script("taskmanager.sh", "start")

    def overview(self) -> dict:
        with urllib.request.urlopen(f"http://{self.rest}/overview", timeout=5) as response:
            return json.loads(response.read())

    def wait_for_slots(self, taskmanagers: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.overview()["taskmanagers"] >= taskmanagers:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"no TaskManager registered within {timeout}s; see {self.home / 'log'}")

    def taskmanager_pids(self) -> list[int]:
        pids = []
        for f in (self.home / "pid").glob("*taskexecutor.pid"):
            pids += [int(x) for x in f.read_text().split()]
        return pids

    def kill_taskmanager(self) -> int:
        """kill -9 the (first) TaskManager JVM: a machine loss, not a clean shutdown."""
        pid = self.taskmanager_pids()[0]
        os.kill(pid, signal.SIGKILL)
        # The pid file still lists it: the stop script would try to stop a dead process. Drop it.
        for f in (self.home / "pid").glob("*taskexecutor.pid"):
            f.write_text("\n".join(str(p) for p in self.taskmanager_pids() if p != pid))
        return pid

    def submit(self, script: Path, *args: str, detached: bool = False) -> subprocess.CompletedProcess:
        command = [
            "bash",
            str(FLINK_HOME / "bin" / "flink"),
            "run",
            "-m",
            self.rest,
            *(["-d"] if detached else []),
            "-pyclientexec",
            sys.executable,
            "-pyexec",
            sys.executable,
            "-py",
            str(script),
            *args,
        ]
        return subprocess.run(command, env=self.env(), capture_output=True, text=True, cwd=REPO_ROOT)

    def submit_async(self, script: Path, *args: str) -> subprocess.Popen:
        command = ["bash", str(FLINK_HOME / "bin" / "flink"), "run", "-m", self.rest]
        command += ["-pyclientexec", sys.executable, "-pyexec", sys.executable, "-py", str(script), *args]
        return subprocess.Popen(
            command,
            env=self.env(),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self) -> None:
        for script in ("taskmanager.sh", "jobmanager.sh"):
            subprocess.run(
                ["bash", str(FLINK_HOME / "bin" / script), "stop-all"], env=self.env(), capture_output=True
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "submit"])
    parser.add_argument(
        "--home", type=Path, required=True, help="folder for the cluster's conf, pids and logs"
    )
    # For submit, everything after `--` is the job: script.py and its arguments.
    args, job = parser.parse_known_args(argv)
    cluster = StandaloneCluster(args.home.resolve())
    if args.action == "start":
        cluster.start()
        print(json.dumps({"rest": cluster.rest, **cluster.overview()}))
    elif args.action == "stop":
        cluster.stop()
    else:
        job = [a for a in job if a != "--"]
        result = cluster.submit(Path(job[0]), *job[1:])
        print(result.stdout[-3000:], result.stderr[-3000:])
        return result.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
