"""The fixes, in the fixed order the lab applies them, and the typed variant of the job they make.

Each fix undoes one anti-pattern of the slow report job (report_job.py). A variant is the set of fixes turned
on: none is the slow job, all of them the tuned one, one of them "that fix alone". `metric` names what in
Spark's own plan or metrics shows the fix is real (the tests check exactly that).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Fix:
    name: str
    what: str  # the anti-pattern and its fix, in one line
    metric: str  # where Spark shows it


FIXES: tuple[Fix, ...] = (
    Fix(
        "parquet",
        "read the curated Parquet with an explicit schema, not the CSV export with schema inference",
        "FileScan parquet instead of FileScan csv; fewer Spark jobs (no inference passes)",
    ),
    Fix(
        "pruning",
        "read the fact partitioned by order_date, so the report window's filter prunes folders",
        "PartitionFilters on order_date in the scan; fewer input bytes in the scan stages",
    ),
    Fix(
        "builtin",
        "compute the week's Monday with a built-in expression, not a Python UDF",
        "no ArrowEvalPython / BatchEvalPython node in the physical plan",
    ),
    Fix(
        "partitions",
        "size spark.sql.shuffle.partitions to the data instead of the default 200",
        "tasks per shuffle stage",
    ),
    Fix(
        "skew",
        "adaptive execution with skew-join splitting: the store join has 12 keys, so a few tasks get every line",
        "SortMergeJoin(skew=true) in the final adaptive plan; max/median task time of the join stage",
    ),
    Fix(
        "broadcast",
        "broadcast the three small dimensions instead of sort-merge joining the fact with each",
        "BroadcastHashJoin instead of SortMergeJoin; no shuffle of the fact",
    ),
    Fix(
        "cache",
        "persist the enriched lines the three outputs share, instead of recomputing them per output",
        "InMemoryTableScan in the outputs' plans; one scan of the fact instead of three",
    ),
    Fix(
        "no-collect",
        "aggregate the segment mix in Spark, not after toPandas() of every enriched line",
        "rows and bytes sent to the driver (task result size)",
    ),
)
FIX_NAMES: tuple[str, ...] = tuple(f.name for f in FIXES)
STORAGE_LEVELS: tuple[str, ...] = ("MEMORY_ONLY", "MEMORY_AND_DISK", "DISK_ONLY")


def get_fix(name: str) -> Fix:
    for fix in FIXES:
        if fix.name == name:
            return fix
    raise ValueError(f"unknown fix {name!r}; the fixes are: {', '.join(FIX_NAMES)}")


@dataclass(frozen=True)
class JobVariant:
    """Which fixes are on, and the sizes the fixes use (set from the data by the caller, see `sized`).

    `tuned_partitions`: the shuffle partitions of the `partitions` fix (the slow job keeps Spark's 200);
    `skew_bytes`: a shuffle partition above this (and 5x the median) counts as skewed for the `skew` fix;
    `storage_level`: how the `cache` fix persists the shared lines.
    """

    fixes: frozenset[str] = frozenset()
    tuned_partitions: int = 4
    skew_bytes: int = 64 * 2**20
    storage_level: str = "MEMORY_AND_DISK"
    slow_partitions: int = 200  # Spark's default: what the hurried analyst never changed

    def __post_init__(self) -> None:
        for name in self.fixes:
            get_fix(name)
        if self.storage_level not in STORAGE_LEVELS:
            raise ValueError(
                f"unknown storage level {self.storage_level!r}; one of {', '.join(STORAGE_LEVELS)}"
            )

    def on(self, name: str) -> bool:
        get_fix(name)  # a typo in the job's own code fails loudly instead of reading as "off"
        return name in self.fixes

    @property
    def label(self) -> str:
        if not self.fixes:
            return "slow"
        if self.fixes == frozenset(FIX_NAMES):
            return "tuned"
        return "+".join(n for n in FIX_NAMES if n in self.fixes)

    def with_fixes(self, names: Iterable[str]) -> JobVariant:
        return replace(self, fixes=frozenset(names))


def slow(**sizes: object) -> JobVariant:
    return JobVariant(**sizes)  # type: ignore[arg-type]


def tuned(**sizes: object) -> JobVariant:
    return JobVariant(fixes=frozenset(FIX_NAMES), **sizes)  # type: ignore[arg-type]


def cumulative() -> list[tuple[str, ...]]:
    """The lab's order: none, then each fix added on top of the ones before it (the last is the tuned job)."""
    return [FIX_NAMES[:i] for i in range(len(FIX_NAMES) + 1)]


# Shuffle bytes (Spark's shuffle write) per byte of the report window's Parquet, as measured (docs/tuning.md): before
# `broadcast` the three sort-merge joins shuffle every enriched line; after it only the partial aggregates move.
SHUFFLE_PER_PARQUET_BYTE = {"sort-merge": 20.5, "broadcast": 3.75}
PARTITION_BYTES = 64 * 2**20  # Spark's own target (spark.sql.adaptive.advisoryPartitionSizeInBytes)


def sized(fact_bytes: int, cores: int, broadcast: bool) -> dict[str, int]:
    """The fixes' sizes for a fact of `fact_bytes` (Parquet, the report window) on `cores` cores.

    A shuffle partition per ~64 MiB of what the shuffle moves, at least two per core. What it moves depends on
    the plan: sized from the input instead, the partitions before `broadcast` were far too few and spilled
    (docs/tuning.md). Skewed = above a quarter of a fair share of one partition's data.
    """
    shuffle = fact_bytes * SHUFFLE_PER_PARQUET_BYTE["broadcast" if broadcast else "sort-merge"]
    partitions = max(2 * cores, round(shuffle / PARTITION_BYTES))
    return {"tuned_partitions": partitions, "skew_bytes": max(1024, int(shuffle) // (4 * partitions))}
