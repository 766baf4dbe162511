"""Reading a Flink job's committed output: stdlib only, so the main environment can import it too."""

from __future__ import annotations

from pathlib import Path


def committed_files(folder: Path) -> list[Path]:
    """Only committed part files are output: in-progress/pending ones start with '.' (FileSink convention)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
