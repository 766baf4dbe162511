"""Where the streaming module's files live and how its committed output is read.

Stdlib only, so the main environment can import it too: the pipeline's load step asks here where a day's
output is, instead of knowing the streaming module's folders itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

# raw table <- output folder of the SQL job (all JSON lines)
SENSOR_LOADS = {
    "sensor_windows": "windows",
    "sensor_anomalies": "anomalies",
    "sensor_dead_letters": "dead_letters",
}


@dataclass(frozen=True)
class DayPaths:
    input: Path
    sql: Path
    ds: Path

    @classmethod
    def of(cls, data_dir: Path, day: date) -> DayPaths:
        out = data_dir / "outputs" / "streaming" / day.isoformat()
        return cls(data_dir / "streaming" / "input" / day.isoformat(), out / "sql", out / "ds")


def sensor_output_dir(data_dir: Path, day: date, table: str) -> Path:
    """The folder of the SQL job's output for raw.`table` on `day`."""
    return DayPaths.of(data_dir, day).sql / SENSOR_LOADS[table]


def sensors_for_scale(scale: float) -> int:
    """The pipeline's sensor count: two per scale unit, at least two (a window join needs a neighbour)."""
    return max(2, round(2 * scale))


def committed_files(folder: Path) -> list[Path]:
    """Only committed part files are output: in-progress/pending ones start with '.' (FileSink convention)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
