"""DuckDB extensions from their pip packages: nothing is downloaded at run time.

Each extension ships in a wheel (`duckdb-extension-<name>`) whose folder holds one build per DuckDB version;
`extension_file` finds the one for the installed DuckDB, and the connection LOADs it by path with DuckDB's own
auto-install and auto-load switched off (`offline_config`).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import duckdb


class ExtensionMissingError(Exception):
    """The extension package has no build for the installed DuckDB version."""


def extension_file(package: ModuleType, name: str) -> Path:
    """`<package>/extensions/v<duckdb version>/<name>.duckdb_extension`, or a clear error naming the fix."""
    path = (
        Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    )
    if not path.is_file():
        raise ExtensionMissingError(
            f"{path} is missing: {package.__name__.replace('_', '-')} must have the same version as duckdb "
            f"({duckdb.__version__}); run `make setup`"
        )
    return path


def offline_config() -> dict[str, object]:
    return {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
