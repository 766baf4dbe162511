"""The tuning lab's report: shares of the gain, the per-fix, broadcast, pruning, caching and DuckDB tables, the
waterfall chart. Pure functions of the lab's rows (one dict per run, see labs/tuning.py), so they are tested
without Spark."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import NamedTuple

from python_jobs.tuning.fixes import FIX_NAMES


class Planned(NamedTuple):
    kind: str  # cumulative, alone, levels, ends, tuned, bound (Spark); reference (DuckDB); dask (dask_lab)
    fixes: tuple[str, ...]
    level: str  # the cache fix's storage level ("-" for the DuckDB reference)

    @property
    def label(self) -> str:
        return {"reference": "duckdb", "dask": "dask"}.get(self.kind) or label(self.fixes)


def label(fixes: tuple[str, ...] | list[str]) -> str:
    if not fixes:
        return "slow"
    return "tuned" if len(fixes) == len(FIX_NAMES) else "+".join(fixes)


def _mib(n: float | None) -> str:
    return "" if n is None else f"{n / 2**20:,.1f}"


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.0%}"


def _ok(rows: list[dict], kind: str) -> list[dict]:
    return [r for r in rows if r["kind"] == kind and r["ok"]]


NOT_SPARK = ("reference", "dask")


def _slow(rows: list[dict]) -> dict | None:
    return next((r for r in rows if r["ok"] and r["kind"] not in NOT_SPARK and not r["fixes"]), None)


def _tuned(rows: list[dict]) -> dict | None:
    return next(
        (
            r
            for r in rows
            if r["ok"] and len(r["fixes"]) == len(FIX_NAMES) and r["level"] == "MEMORY_AND_DISK"
        ),
        None,
    )


def _duck(rows: list[dict]) -> dict | None:
    return next(iter(_ok(rows, "reference")), None)


def shares(rows: list[dict]) -> dict:
    """Per cumulative step: seconds saved against the step before and its share of the whole gain (these add up
    to the whole by construction); per fix alone: its speed-up over the slow job and its saving as a share of the
    whole gain (these add up to the whole only if the fixes do not overlap: the sum is reported). Every run is
    marked equal or not to the slow job's checksums."""
    steps = _ok(rows, "cumulative")
    slow, tuned = _slow(rows), _tuned(rows)
    gain = slow["wall_s"] - tuned["wall_s"] if slow and tuned and slow is not tuned else None
    # The chain's shares are of its own whole: from its first run (the slow job, or the bound where the slow
    # job cannot run) to tuned.
    first = steps[0] if steps else slow
    chain_gain = first["wall_s"] - tuned["wall_s"] if first and tuned and first is not tuned else None
    # CPU seconds too: on a machine shared with other work, wall time also measures the neighbours, while the
    # CPU a run's process tree used moves far less with them.
    cpu_gain = first["cpu_s"] - tuned["cpu_s"] if first and tuned and first is not tuned else None
    for before, after in itertools.pairwise(steps):
        after["saved_s"] = round(before["wall_s"] - after["wall_s"], 2)
        after["share"] = round(after["saved_s"] / chain_gain, 3) if chain_gain else None
        after["cpu_share"] = round((before["cpu_s"] - after["cpu_s"]) / cpu_gain, 3) if cpu_gain else None
    for r in rows:
        if slow and r["ok"]:
            r["x_slow"] = round(slow["wall_s"] / r["wall_s"], 2)
        if (slow or tuned) and r["ok"]:
            r["equal"] = r["checksums"] == (slow or tuned)["checksums"]
    alone = _ok(rows, "alone")
    for r in alone:
        r["share_alone"] = round((slow["wall_s"] - r["wall_s"]) / gain, 3) if gain and slow else None
    summary: dict = {"gain_s": round(gain, 2) if gain else None}
    if slow and tuned and slow is not tuned:
        summary["x_tuned"] = round(slow["wall_s"] / tuned["wall_s"], 2)
        summary["x_tuned_cpu"] = round(slow["cpu_s"] / tuned["cpu_s"], 2)
    if len(steps) > 1:
        summary["cumulative_share_sum"] = round(sum(r.get("share") or 0 for r in steps[1:]), 3)
    if gain and len(alone) == len(FIX_NAMES):
        summary["alone_share_sum"] = round(sum(r["share_alone"] for r in alone), 3)
    # Where the slow job cannot run (its collect does not fit), the slow job without its collect can: the slow
    # job is slower still (at 1 GB, where both run, 253.9 s against 217.1), so tuned is at least this much faster.
    bound = next(iter(_ok(rows, "bound")), None) or next(
        (r for r in steps[:1] if tuple(r["fixes"]) == ("no-collect",)), None
    )
    if bound and tuned and not slow:
        summary["x_tuned_at_least"] = round(bound["wall_s"] / tuned["wall_s"], 2)
        summary["x_tuned_cpu_at_least"] = round(bound["cpu_s"] / tuned["cpu_s"], 2)
    duck = _duck(rows)
    if duck and tuned:
        summary["tuned_over_duckdb"] = round(tuned["wall_s"] / duck["wall_s"], 2)
        summary["tuned_over_duckdb_cpu"] = round(tuned["cpu_s"] / duck["cpu_s"], 2)
        summary["duckdb_equal"] = duck["checksums"] == tuned["checksums"]
    return summary


def _runs_table(rows: list[dict], planned: list[Planned]) -> list[str]:
    lines = [
        "| kind | variant | level | status | wall s | x slow | saved s | share | alone share | CPU s | CPU share | "
        "peak RSS MiB | tasks | files read MiB | shuffle write MiB | spill MiB | to driver MiB | files read | "
        "max skew | equal |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        m = r.get("metrics") or {}
        spill = m["memory_spilled_bytes"] + m["disk_spilled_bytes"] if m else None
        lines.append(
            f"| {r['kind']} | {r['label']} | {r['level']} | {r['status']} | {r['wall_s']:.1f} | "
            f"{r.get('x_slow', '')} | {r.get('saved_s', '')} | {_percent(r.get('share'))} | "
            f"{_percent(r.get('share_alone'))} | {r['cpu_s']:.1f} | {_percent(r.get('cpu_share'))} | "
            f"{r['peak_rss_mib']:,.0f} | "
            f"{m.get('tasks', '')} | {_mib(m.get('files_bytes'))} | {_mib(m.get('shuffle_write_bytes'))} | "
            f"{_mib(spill)} | {_mib(m.get('result_bytes'))} | {m.get('files_read', '')} | "
            f"{m.get('max_skew', '')} | {r.get('equal', '')} |"
        )
    for p in planned[len(rows) :]:
        lines.append(f"| {p.kind} | {p.label} | {p.level} | not run |" + " |" * 16)
    return lines


def _pair_rows(rows: list[dict], fix: str) -> list[tuple[str, dict]]:
    """The runs that isolate `fix`: slow and the fix alone; the cumulative step before it and the one adding it."""
    pairs: list[tuple[str, dict]] = []
    slow = _slow(rows)
    alone = next((r for r in _ok(rows, "alone") if r["fixes"] == [fix]), None)
    if slow and alone:
        pairs += [("slow", slow), (f"{fix} alone", alone)]
    steps = _ok(rows, "cumulative")
    for before, after in itertools.pairwise(steps):
        if after["fixes"][-1:] == [fix]:
            pairs += [(f"the fixes before {fix}", before), (f"+ {fix} on top of them", after)]
    return pairs


def broadcast_table(rows: list[dict]) -> list[str]:
    pairs = _pair_rows(rows, "broadcast")
    if not pairs:
        return []
    lines = [
        "| run | joins in the plans | wall s | tasks | shuffle write MiB | shuffle read MiB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, r in pairs:
        m, j = r.get("metrics") or {}, r.get("joins") or {}
        lines.append(
            f"| {name} | {j.get('BroadcastHashJoin', 0)} broadcast hash, {j.get('SortMergeJoin', 0)} sort-merge | "
            f"{r['wall_s']:.1f} | {m.get('tasks', '')} | {_mib(m.get('shuffle_write_bytes'))} | "
            f"{_mib(m.get('shuffle_read_bytes'))} |"
        )
    return lines


def pruning_table(rows: list[dict]) -> list[str]:
    pairs = _pair_rows(rows, "pruning")
    if not pairs:
        return []
    lines = ["| run | files read | bytes read MiB | wall s | CPU s |", "|---|---:|---:|---:|---:|"]
    for name, r in pairs:
        m = r.get("metrics") or {}
        lines.append(
            f"| {name} | {m.get('files_read', '')} | {_mib(m.get('files_bytes'))} | {r['wall_s']:.1f} | "
            f"{r['cpu_s']:.1f} |"
        )
    return lines


def caching_table(rows: list[dict]) -> list[str]:
    """No cache (the cumulative step before `cache`) against the step adding it, then the tuned job with each
    storage level (the `levels` runs beside the tuned one)."""
    steps = _ok(rows, "cumulative")
    pairs = [(a, b) for a, b in itertools.pairwise(steps) if b["fixes"][-1:] == ["cache"]]
    candidates: list[tuple[str, dict]] = []
    if pairs:
        candidates += [("the fixes before cache: none", pairs[0][0]), ("+ cache on top of them", pairs[0][1])]
    candidates += [("tuned", r) for r in rows if r["ok"] and len(r["fixes"]) == len(FIX_NAMES)]
    if not any(name == "tuned" for name, _ in candidates) and not pairs:
        return []
    lines = [
        "| run | storage | wall s | CPU s | peak RSS MiB | files read | bytes read MiB | spill MiB | equal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in candidates:
        m = r.get("metrics") or {}
        spill = m["memory_spilled_bytes"] + m["disk_spilled_bytes"] if m else None
        level = r["level"] if "cache" in r["fixes"] else "-"
        lines.append(
            f"| {name} | {level} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mib']:,.0f} | "
            f"{m.get('files_read', '')} | {_mib(m.get('files_bytes'))} | {_mib(spill)} | {r.get('equal', '')} |"
        )
    return lines


def time_table(rows: list[dict]) -> list[str]:
    """Where the tuned run's wall time went: process start and stop (Python, the JVM, the session), each output's
    Spark stages (named by the job description run_report sets), and the driver's own share (planning, collecting,
    pandas); DuckDB's whole run beside it. The gap to DuckDB is read here, not guessed."""
    tuned = _tuned(rows)
    stages = (tuned or {}).get("stages")
    if not tuned or not stages or tuned.get("job_seconds") is None:
        return []
    lines = [
        "| where | stages | tasks | stage s | shuffle write MiB | longest stage s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| process start and stop (Python, JVM, SparkSession) | | | {tuned['wall_s'] - tuned['job_seconds']:.1f} | | |",
    ]
    by_output: dict[str, list[dict]] = {}
    for stage in stages:
        by_output.setdefault(stage.get("description") or "(no output named)", []).append(stage)
    in_stages = 0.0
    for output, group in by_output.items():
        seconds = sum(s["seconds"] for s in group)
        in_stages += seconds
        lines.append(
            f"| {output} | {len(group)} | {sum(s['tasks'] for s in group)} | {seconds:.1f} | "
            f"{_mib(sum(s['shuffle_write_bytes'] for s in group))} | {max(s['seconds'] for s in group):.1f} |"
        )
    # Stages of one output can overlap (broadcasts run beside the scan): the remainder is then a lower bound.
    lines.append(
        f"| driver outside stages (planning, collect, pandas) | | | {max(0.0, tuned['job_seconds'] - in_stages):.1f} | | |"
    )
    duck = _duck(rows)
    if duck:
        lines.append(f"| DuckDB, the whole run (same report) | | | {duck['wall_s']:.1f} | | |")
    return lines


def markdown(meta: dict, rows: list[dict], planned: list[Planned], extra: str = "") -> str:
    summary = shares(rows)
    lines = [
        f"# Tuning lab, {meta['size']} ({meta['fact_rows']:,} fact rows, window {meta['window']})",
        "",
        f"`{meta['command']}`, {meta['when']}, {meta['cpus']} CPUs, load {meta['load_before']} before, "
        f"{meta.get('load_after', '')} after. Wall, CPU and peak RSS of each run's whole process tree; Spark's "
        "metrics from its event log. Shares: a cumulative step's saving over the chain's first run - tuned (the "
        "first run is slow, or the bound where slow cannot run; these add up to the whole by construction); a "
        "fix alone's saving over the slow job, over slow - tuned.",
        "",
        *_runs_table(rows, planned),
    ]
    said = []
    if summary.get("x_tuned"):
        said.append(
            f"tuned {summary['x_tuned']}x faster than slow ({summary['gain_s']} s saved), "
            f"{summary['x_tuned_cpu']}x less CPU"
        )
    if summary.get("x_tuned_at_least"):
        said.append(
            f"tuned at least {summary['x_tuned_at_least']}x faster than slow "
            f"({summary['x_tuned_cpu_at_least']}x less CPU): the slow job without its collect, which this machine "
            "can hold, is the bound"
        )
    if "cumulative_share_sum" in summary:
        said.append(f"cumulative shares add up to {summary['cumulative_share_sum']:.0%} of the whole")
    if "alone_share_sum" in summary:
        said.append(
            f"the fixes alone add up to {summary['alone_share_sum']:.0%} of it (above 100 %: fixes that overlap)"
        )
    if "tuned_over_duckdb" in summary:
        said.append(
            f"tuned / DuckDB = {summary['tuned_over_duckdb']}x in wall time, "
            f"{summary['tuned_over_duckdb_cpu']}x in CPU "
            f"(DuckDB's report {'equal' if summary['duckdb_equal'] else 'NOT equal'})"
        )
    if said:
        lines += ["", "; ".join(said).capitalize() + "."]
    for title, table in (
        ("Broadcast hash join against sort-merge join", broadcast_table(rows)),
        ("Partition pruning: files and bytes the scans read", pruning_table(rows)),
        ("Caching the shared lines: storage levels", caching_table(rows)),
        ("Where the tuned run's time goes", time_table(rows)),
    ):
        if table:
            lines += ["", f"## {title}", "", *table]
    dask = next((r for r in rows if r["kind"] == "dask" and r.get("dask_md")), None)
    if dask:
        lines += [
            "",
            "## Dask: the same report (python_jobs/tuning/dask_lab.py)",
            "",
            dask["dask_md"].rstrip(),
        ]
    if extra:
        lines += ["", extra.rstrip()]
    return "\n".join(lines) + "\n"


def chart(rows: list[dict], path: Path, meta: dict) -> None:
    """Left: the waterfall from slow to tuned, one bar per fix added (seconds it saved); right: each fix alone.
    Called only when there are cumulative steps (labs.tuning.write_report decides)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = _ok(rows, "cumulative")
    alone = _ok(rows, "alone")
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    labels = [steps[0]["label"]] + [f"+{r['fixes'][-1]}" for r in steps[1:]]
    bottoms = [0.0] + [min(a["wall_s"], b["wall_s"]) for a, b in itertools.pairwise(steps)]
    heights = [steps[0]["wall_s"]] + [abs(a["wall_s"] - b["wall_s"]) for a, b in itertools.pairwise(steps)]
    colours = ["#888888"] + [
        "#2a9d8f" if b["wall_s"] <= a["wall_s"] else "#e76f51" for a, b in itertools.pairwise(steps)
    ]
    left.bar(labels, heights, bottom=bottoms, color=colours)
    if steps[-1]["label"] == "tuned":
        left.bar(["tuned"], [steps[-1]["wall_s"]], color="#264653")
    duck = _duck(rows)
    if duck:
        left.bar(["duckdb"], [duck["wall_s"]], color="#e9c46a")
    left.set_ylabel("wall seconds")
    left.set_title("fixes added one at a time (green: seconds saved)")
    left.tick_params(axis="x", rotation=45)
    if alone and steps[0]["label"] == "slow":
        right.barh([r["label"] for r in alone], [r["x_slow"] for r in alone], color="#2a9d8f")
        right.axvline(1, color="#888888", linewidth=1)
        right.set_xlabel("speed-up over the slow job (x)")
        right.set_title("each fix alone")
    else:  # no fix-alone runs in this plan (or no slow run to compare them with)
        right.axis("off")
    fig.suptitle(f"tuning lab, {meta['size']}, {meta['when']}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
