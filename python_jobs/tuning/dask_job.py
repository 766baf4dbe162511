"""The weekly report on Dask DataFrame, twice: the hurried analyst's graph (`naive`) and a simplified one.

Same inputs (inputs.py), same three outputs and the same canonical form and checksums as the Spark job
(report_job.py): every variant must give the Spark job's checksums.

`naive` (each choice is one the query planner cannot undo, because it sits behind a `persist` or is asked for):
  * the flat Parquet fact, every column and every day, spread over `partitions` small partitions and persisted
    at once "to keep it in memory": projection and the window filter can no longer reach the read;
  * the dimensions read as Dask frames and spread the same way, merged with `broadcast=False` (a setting copied
    from an old notebook where a broadcast ran out of memory): each merge is a hash join, both sides shuffled;
  * the enriched lines shuffled by week and store "so grouping is faster": a full shuffle, every line moved (a
    hash shuffle: `sort_values` here never finished computing its divisions, see the traps in the docs);
  * the groupbys with Dask's default `split_out=True`: the distinct counts and sums spread by a shuffle;
  * each output computed by its own `.compute()`: the merges and the shuffles run three times.

`simplified`:
  * the fact partitioned by order day, the report window pushed into the read (`filters`: only the window's
    folders are opened) and only the columns the report uses read;
  * fewer, bigger partitions: a few per worker (`simplified_partitions`);
  * the dimensions as pandas frames: a one-partition frame is merged into every fact partition as it is
    (a broadcast join, nothing shuffled);
  * the sums with `split_out=1`: the results are small, reduced in a tree, no shuffle; the distinct counts with
    one output partition per 64 MiB of the window's Parquet (`distinct_split_out`): a distinct count cannot
    shrink before its last step, which holds every distinct (keys, id) pair, so past one partition's worth those
    pairs are spread by a shuffle of the already deduplicated chunks (never of the lines);
  * the enriched lines persisted once on the workers, and the three outputs computed together from them.

Task counts are of the graphs the scheduler was sent: each `compute`/`persist` call's expression optimised and
lowered exactly as `dask.compute` does it, so the planner's own projection pushdown and join choices are counted
in. The tasks the workers ran (the scheduler's task stream) are counted alongside as a check.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd

from python_jobs.tuning.inputs import Inputs
from python_jobs.tuning.report_job import canonical, checksum

VARIANTS = ("naive", "simplified")
NAIVE_PARTITIONS = 64  # the analyst's fixed "enough partitions for any cluster", whatever the data's size
# Columns each output reads from the enriched lines: all the simplified job carries.
FACT_COLUMNS = ("order_id", "customer_id", "store_id", "product_id", "quantity", "cents", "order_date")
ENRICHED_COLUMNS = (
    "week_start", "store_id", "store_name", "category_id", "segment", "order_id", "customer_id", "quantity", "cents"
)  # fmt: skip
OUTPUT_SPECS: dict[str, dict[str, object]] = {
    # keys, distinct counts (name -> column), sums (name -> column), row counts (name)
    "weekly_sales": {
        "keys": ["week_start", "store_id", "category_id", "segment"],
        "distinct": {"order_count": "order_id"},
        "sums": {"item_count": "quantity", "revenue_cents": "cents"},
    },
    "store_weekly": {
        "keys": ["week_start", "store_id", "store_name"],
        "distinct": {"order_count": "order_id", "customer_count": "customer_id"},
        "sums": {"revenue_cents": "cents"},
    },
    "segment_mix": {
        "keys": ["segment", "category_id"],
        "distinct": {},
        "sums": {"revenue_cents": "cents"},
        "count": "line_count",
    },
}


@dataclass
class DaskRun:
    variant: str
    outputs: dict[str, pd.DataFrame]
    checksums: dict[str, str]
    graph_tasks: int  # tasks in the optimised graphs sent to the scheduler, summed over the variant's calls
    tasks_run: int | None  # tasks the workers ran (task stream); None without a distributed client
    fact_partitions: int  # partitions of the fact as the report's graph reads it
    seconds: float
    calls: list[dict[str, object]] = field(default_factory=list)  # per compute/persist call: what, tasks
    extra: dict[str, object] = field(default_factory=dict)  # persisted_bytes: on the workers after persist

    def row(self) -> dict[str, object]:
        return {
            "variant": self.variant,
            "graph_tasks": self.graph_tasks,
            "tasks_run": self.tasks_run,
            "fact_partitions": self.fact_partitions,
            "seconds": round(self.seconds, 2),
            "checksums": self.checksums,
        }


def graph_tasks(*collections: object) -> int:
    """Tasks in the graph `dask.compute(*collections)` sends: the collections' expressions combined, optimised
    (projection pushdown, the choice of broadcast or hash joins) and lowered to tasks, as dask.base.compute does it."""
    from dask._expr import FinalizeCompute
    from dask.base import collections_to_expr

    return len(FinalizeCompute(collections_to_expr(list(collections))).optimize().__dask_graph__())


def pandas_dimensions(inputs: Inputs) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Products (the seed), customers with their segment, stores with their name: kilobytes, read in pandas."""
    products = pd.read_csv(inputs.products_csv, usecols=["product_id", "category_id"])
    customers = pd.read_parquet(inputs.dim("customers", "parquet"), columns=["customer_id", "segment"])
    stores = pd.read_parquet(inputs.dim("stores", "parquet"), columns=["store_id", "store_name"])
    return products, customers, stores


def _add_week_start(part: pd.DataFrame) -> pd.DataFrame:
    day = pd.to_datetime(part["order_date"].astype(str))
    return part.assign(week_start=day - pd.to_timedelta(day.dt.dayofweek, unit="D"))


def with_week_start(frame: dd.DataFrame) -> dd.DataFrame:
    """The Monday of the order day's week, as a datetime; `order_date` is a date (flat layout) or the folder
    name as text (by_date layout). One function per partition: Dask's own `assign` of a derived datetime
    series gave every integer column a float64 dtype in its metadata (the meta's fake rows did not align)."""
    return frame.map_partitions(_add_week_start)


def naive_fact(inputs: Inputs, partitions: int) -> dd.DataFrame:
    """The whole flat fact, every column, spread over `partitions`: what the analyst persists first."""
    return dd.read_parquet(str(inputs.fact("parquet", "flat"))).repartition(npartitions=partitions)


def naive_enriched(fact: dd.DataFrame, inputs: Inputs, partitions: int) -> dd.DataFrame:
    """The enriched lines from the persisted raw fact: the analyst's graph, see the module docstring."""

    def spread(frame: dd.DataFrame) -> dd.DataFrame:
        return frame.repartition(npartitions=partitions)

    fact = fact[(fact["order_date"] >= inputs.window_start) & (fact["order_date"] <= inputs.window_end)]
    products = spread(dd.read_csv(str(inputs.products_csv)))[["product_id", "category_id"]]
    customers = spread(dd.read_parquet(str(inputs.dim("customers", "parquet"))))
    stores = spread(dd.read_parquet(str(inputs.dim("stores", "parquet"))))
    enriched = (
        with_week_start(fact)
        .merge(products, on="product_id", broadcast=False)
        .merge(customers, on="customer_id", broadcast=False)
        .merge(stores, on="store_id", broadcast=False)
        .shuffle(on=["week_start", "store_id"])
    )
    return enriched


def window_chunks(inputs: Inputs) -> int:
    """The window's Parquet in ~64 MiB pieces (about four times that in memory): what the simplified job's
    partitions and its distinct counts' output partitions both follow."""
    return round(inputs.window_parquet_bytes / (64 * 2**20))


def simplified_partitions(inputs: Inputs, workers: int) -> int:
    """A partition per window chunk (`window_chunks`), at least one per worker: few tasks, each big enough that
    the scheduler's per-task cost is noise."""
    return max(workers, window_chunks(inputs))


def distinct_split_out(inputs: Inputs) -> int:
    """Output partitions of a distinct count: one per window chunk, like the fact's partitions. One (a tree, no
    shuffle) while the window is small; past that, one task would hold every distinct (keys, id) pair of the
    window."""
    return max(1, window_chunks(inputs))


def simplified_enriched(inputs: Inputs, partitions: int) -> dd.DataFrame:
    products, customers, stores = pandas_dimensions(inputs)
    fact = dd.read_parquet(
        str(inputs.fact("parquet", "by_date")),
        columns=list(FACT_COLUMNS),
        filters=[
            ("order_date", ">=", inputs.window_start.isoformat()),
            ("order_date", "<=", inputs.window_end.isoformat()),
        ],
    )
    if fact.npartitions > partitions:
        fact = fact.repartition(npartitions=partitions)
    # A pandas frame on the right of a merge is one partition: every fact partition is merged with it as it is.
    enriched = (
        with_week_start(fact)
        .merge(products, on="product_id")
        .merge(customers, on="customer_id")
        .merge(stores, on="store_id")
    )
    # Only what the outputs read is persisted: the planner cannot push a projection through a persist.
    return enriched[list(ENRICHED_COLUMNS)]


def output_frames(
    enriched: dd.DataFrame, split_out: bool | int = True, distinct_split: bool | int | None = None
) -> dict[str, list[dd.Series]]:
    """Each output as a list of grouped series (one per value column) on the same keys. A distinct count is a
    `nunique` per group (Dask's named `agg` has no distinct count); the series are joined in pandas.

    `split_out`: Dask's default (True) lets a groupby spread its result over several partitions, by a shuffle;
    1 reduces it in a tree to one partition, no shuffle: right when the result is small. `distinct_split`: the
    distinct counts' own (default: `split_out`)."""
    distinct_split = split_out if distinct_split is None else distinct_split
    frames: dict[str, list[dd.Series]] = {}
    for name, spec in OUTPUT_SPECS.items():
        grouped = enriched.groupby(spec["keys"], observed=True)
        parts = [
            grouped[col].nunique(split_out=distinct_split).rename(out)
            for out, col in spec["distinct"].items()  # type: ignore[union-attr]
        ]
        parts += [
            grouped[col].sum(split_out=split_out).rename(out)
            for out, col in spec["sums"].items()  # type: ignore[union-attr]
        ]
        if "count" in spec:
            parts.append(grouped["cents"].count(split_out=split_out).rename(spec["count"]))
        frames[name] = parts
    return frames


def finish(name: str, parts: list[pd.Series]) -> pd.DataFrame:
    frame = pd.concat(parts, axis=1).reset_index()
    if name == "segment_mix":
        frame["revenue_share"] = frame["revenue_cents"] / frame["revenue_cents"].sum()
    return canonical(name, frame)


class _Calls:
    """Runs compute/persist calls, counting each one's graph as sent to the scheduler."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        self.persisted_bytes = 0

    def persist(self, what: str, frame: dd.DataFrame) -> dd.DataFrame:
        self.calls.append({"call": f"persist {what}", "tasks": graph_tasks(frame)})
        persisted = frame.persist()
        if _has_client():  # persist returns at once on a cluster: the time counts the work, not the promise
            from distributed import wait

            wait(persisted)
            self.persisted_bytes += _bytes_on_workers()
        return persisted

    def compute(self, what: str, *collections: object) -> tuple:
        self.calls.append({"call": f"compute {what}", "tasks": graph_tasks(*collections)})
        return dask.compute(*collections)

    @property
    def tasks(self) -> int:
        return sum(int(c["tasks"]) for c in self.calls)  # type: ignore[call-overload]


def _bytes_on_workers() -> int:
    """Bytes of task results the workers hold (in memory or spilled), as their state machines count them."""
    from distributed import get_client

    return int(sum(get_client().run(lambda dask_worker: dask_worker.state.nbytes).values()))


def _has_client() -> bool:
    try:
        from distributed import get_client

        get_client()
    except (ImportError, ValueError):
        return False
    return True


def run_variant(
    inputs: Inputs,
    variant: str,
    *,
    naive_partitions: int = NAIVE_PARTITIONS,
    workers: int = 2,
    partitions: int | None = None,
) -> DaskRun:
    """Run one variant on the current Dask client (or the default scheduler without one). `partitions`: the
    simplified fact's partitions (default: `simplified_partitions`)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    stream = _task_stream() if _has_client() else None
    calls = _Calls()
    started = time.perf_counter()
    with stream or contextlib.nullcontext():
        if variant == "naive":
            fact = calls.persist("fact", naive_fact(inputs, naive_partitions))
            fact_partitions = fact.npartitions
            enriched = naive_enriched(fact, inputs, naive_partitions)
            # One compute per output, as the notebook has it: the merges and the shuffle run three times.
            collected = {name: calls.compute(name, *parts) for name, parts in output_frames(enriched).items()}
        else:
            enriched = simplified_enriched(inputs, partitions or simplified_partitions(inputs, workers))
            fact_partitions = enriched.npartitions
            enriched = calls.persist("enriched", enriched)
            frames = output_frames(enriched, split_out=1, distinct_split=distinct_split_out(inputs))
            flat = [s for parts in frames.values() for s in parts]
            results = iter(calls.compute("all outputs", *flat))
            collected = {name: tuple(next(results) for _ in parts) for name, parts in frames.items()}
            del enriched  # the persisted partitions are released with their last reference
    seconds = time.perf_counter() - started
    outputs = {name: finish(name, list(parts)) for name, parts in collected.items()}
    return DaskRun(
        variant=variant,
        outputs=outputs,
        checksums={name: checksum(frame) for name, frame in outputs.items()},
        graph_tasks=calls.tasks,
        tasks_run=len(stream.data) if stream is not None else None,
        fact_partitions=fact_partitions,
        seconds=seconds,
        calls=calls.calls,
        extra={"persisted_bytes": calls.persisted_bytes},
    )


def _task_stream():
    from distributed import get_task_stream

    return get_task_stream()


# Above this a task graph is a grey smear and `dot` takes minutes: the expression graph is drawn instead.
MAX_DRAWN_TASKS = 250


def one_output_graph(inputs: Inputs, variant: str, *, naive_partitions: int, workers: int) -> list[dd.Series]:
    """The weekly_sales output of a variant from its read on (nothing persisted): what one picture shows."""
    if variant == "naive":
        enriched = naive_enriched(naive_fact(inputs, naive_partitions), inputs, naive_partitions)
        return output_frames(enriched)["weekly_sales"]
    enriched = simplified_enriched(inputs, simplified_partitions(inputs, workers))
    return output_frames(enriched, split_out=1, distinct_split=distinct_split_out(inputs))["weekly_sales"]


def draw_graph(
    inputs: Inputs, variant: str, path: Path, *, naive_partitions: int = NAIVE_PARTITIONS, workers: int = 2
) -> dict[str, object]:
    """A PNG of the weekly_sales graph of `variant` as it would be sent (optimised): the task graph when it has
    at most MAX_DRAWN_TASKS tasks, else the optimised expression graph (one box per operation, however many
    partitions). Without Graphviz's `dot` (an OS package) nothing is drawn and the result says so."""
    from dask._expr import FinalizeCompute
    from dask.base import collections_to_expr
    from dask.dot import graphviz_to_file, to_graphviz

    parts = one_output_graph(inputs, variant, naive_partitions=naive_partitions, workers=workers)
    optimised = FinalizeCompute(collections_to_expr(list(parts))).optimize()
    graph = dict(optimised.__dask_graph__())
    record: dict[str, object] = {"variant": variant, "tasks": len(graph), "path": None, "kind": None}
    if shutil.which("dot") is None:
        record["note"] = "not drawn: Graphviz's `dot` is not installed (apt install graphviz)"
        return record
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(graph) <= MAX_DRAWN_TASKS:
        graphviz_to_file(to_graphviz(graph), str(path), None)
        record["kind"] = "tasks"
    else:
        graphviz_to_file(optimised._to_graphviz(), str(path), None)
        record["kind"] = "expressions"
    record["path"] = str(path)
    return record
