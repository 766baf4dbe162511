"""A throwaway PostgreSQL server: initdb into a temporary folder, start on a free 127.0.0.1 port, stop, remove.

Used by the tests, `make pipeline-postgres` and the transform benchmark, so none of them needs a PostgreSQL
service configured on the machine: only the server binaries (Debian package `postgresql`).

PostgreSQL refuses to run as root, so when we are root the data folder is chowned to the `postgres` user and
every server binary runs through `runuser -u postgres --`. The folder is made with `tempfile.mkdtemp` in the
system temporary directory rather than under a caller's folder: pytest's tmp_path is private to root (0700),
which the `postgres` user could not enter.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

SERVER_USER = "postgres"
DEFAULT_USER = "grocery"
DEFAULT_PASSWORD = "grocery"
DEFAULT_DATABASE = "grocery"


class PostgresUnavailableError(Exception):
    """No PostgreSQL server binaries on this machine (or no user to run them as)."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: Path

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    def fresh_database(self, name: str) -> str:
        """Drop and recreate database `name` on this server; returns its DSN."""
        with psycopg.connect(self.dsn, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')
            con.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{name}"

    def env(self) -> dict[str, str]:
        """The libpq variables that dbt's `postgres` target and SQLMesh's `postgres` gateway read."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
        }


def find_bindir(explicit: Path | None = None) -> Path:
    """The folder holding initdb/pg_ctl: `explicit` (Settings.pg_bindir, from GROCERY_PG_BINDIR), else
    `pg_config --bindir`, else the newest Debian one, else the one of `initdb` on PATH."""
    # An explicit folder is the only one tried: a wrong setting should fail, not fall back silently.
    candidates: list[str] = [str(explicit)] if explicit else []
    if not explicit:
        if shutil.which("pg_config"):
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
                candidates.append(out.stdout.strip())
        # Debian/Ubuntu keep the server binaries off PATH, one folder per major version.
        debian = glob.glob("/usr/lib/postgresql/*/bin")
        candidates.extend(sorted(debian, key=lambda p: int(Path(p).parent.name), reverse=True))
        if shutil.which("initdb"):
            candidates.append(str(Path(shutil.which("initdb") or "").parent))
    for folder in candidates:
        path = Path(folder)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    where = f"in GROCERY_PG_BINDIR={explicit}" if explicit else "(pg_config, /usr/lib/postgresql/*/bin, PATH)"
    raise PostgresUnavailableError(
        f"no PostgreSQL server binaries (initdb, pg_ctl) found {where}: install the server package "
        "(Debian/Ubuntu: `apt-get install -y postgresql`) or set GROCERY_PG_BINDIR"
    )


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresUnavailableError(
            f"running as root but there is no '{SERVER_USER}' user to run the server as"
        ) from None
    return ["runuser", "-u", SERVER_USER, "--", *command]


def free_port() -> int:
    """A port nobody listens on right now (another process may still take it: the caller retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(command: list[str]) -> None:
    proc = subprocess.run(_as_server_user(command), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def _initdb(bindir: Path, root: Path, user: str, password: str) -> Path:
    data = root / "data"
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        server = pwd.getpwnam(SERVER_USER)
        for path in (root, pwfile):
            os.chown(path, server.pw_uid, server.pw_gid)
    root.chmod(0o700)
    # Password (scram) over TCP, as dbt and SQLMesh connect; trust on the private socket folder only.
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            user,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]
    )
    pwfile.unlink()
    return data


def _start(bindir: Path, root: Path, data: Path, port: int, durable: bool) -> bool:
    """Start on `port`; False when the port was taken in the meantime (the caller picks another)."""
    options = [
        "-c listen_addresses=127.0.0.1",
        f"-p {port}",
        f"-c unix_socket_directories={root}",
        "-c max_connections=40",
    ]
    if not durable:
        # A throwaway server: a crash loses nothing we need, so skip the disk flushes (tests, parity).
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    log = root / "server.log"
    proc = subprocess.run(
        _as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                " ".join(options),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if proc.returncode == 0:
        return True
    text = log.read_text(errors="replace") if log.exists() else ""
    if "could not bind" in text or "Address already in use" in text:
        return False
    raise RuntimeError(
        f"pg_ctl start failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{text[-3000:]}"
    )


def _wait_ready(server: PostgresServer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(
                host=server.host,
                port=server.port,
                user=server.user,
                password=server.password,
                dbname="postgres",
            ):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def throwaway_postgres(
    *,
    user: str = DEFAULT_USER,
    password: str = DEFAULT_PASSWORD,
    database: str = DEFAULT_DATABASE,
    durable: bool = False,
    bindir: Path | None = None,
) -> Iterator[PostgresServer]:
    """Yield a running server with an empty `database` owned by `user`; stop it and delete its files after.

    `bindir`: the server binaries' folder if the settings name one (see find_bindir)."""
    bindir = find_bindir(bindir)
    root = Path(tempfile.mkdtemp(prefix="grocery-pg-"))
    data: Path | None = None
    try:
        data = _initdb(bindir, root, user, password)
        for _attempt in range(5):
            port = free_port()
            if _start(bindir, root, data, port, durable):
                break
        else:
            raise RuntimeError("could not find a free port for PostgreSQL after 5 attempts")
        server = PostgresServer("127.0.0.1", port, user, password, database, data)
        _wait_ready(server)
        with psycopg.connect(
            host=server.host, port=port, user=user, password=password, dbname="postgres", autocommit=True
        ) as con:
            con.execute(f'CREATE DATABASE "{database}"')
        yield server
    finally:
        if data is not None and (data / "postmaster.pid").exists():
            # Fast shutdown: roll back open sessions instead of waiting for them (a failed test may leave one).
            subprocess.run(
                _as_server_user(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"]
                ),
                capture_output=True,
                text=True,
            )
        shutil.rmtree(root, ignore_errors=True)
