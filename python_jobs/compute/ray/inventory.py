"""A store's stock as a stateful service: one Ray actor per store holds the units on hand per category and
answers `reserve` calls from many concurrent tasks, and survives its process being killed.

Serial: a Ray actor runs one method call at a time (max_concurrency=1, the default), so `reserve` is a plain
read-modify-write with no lock, and the stock can never go negative or be granted twice.

Durable: every change is appended to a journal (one JSON line, written before the call returns) and the whole
state is written as a snapshot every `snapshot_every` changes (temp file, fsync, os.replace: a reader sees the
old snapshot or the new one, never half of one), after which the journal is emptied. The constructor loads the
snapshot and replays the journal lines written after it. Ray restarts a killed actor (`max_restarts`) by
calling the constructor again with the same arguments, so the restarted actor continues from the last
acknowledged change.

Exactly once: Ray retries the calls a dead actor had not answered (`max_task_retries`), so a call that had
already changed the stock when the process died (journaled, reply lost) arrives a second time. Every call
carries a request id chosen by the caller, and the applied ids with their answers are part of the state (in
the journal and the snapshot): a call whose id was applied returns the recorded answer and changes nothing.
So a change is applied once, whether it is retried by Ray or by the caller, at any `snapshot_every` (the
journal, not the snapshot, is what makes each change durable). The same id with different arguments is an
error. Callers must use a fresh id per logical request (e.g. "<task>-<n>").

What is kept: the journal's write reaches the OS before the reply, which survives the process being killed;
`fsync=True` also syncs it to disk (survives the machine going down, at the cost of a disk flush per call).
Applied ids are kept for the actor's life (a week's requests are small); a long-lived service would expire
them after the callers' retry window.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ray

from python_jobs.compute.model import ParameterError

RESERVE = "reserve"
RESTOCK = "restock"


class StoreInventory:
    """The actor's logic, a plain class (tested without Ray); `InventoryActor` is its Ray actor."""

    def __init__(
        self,
        store_id: int,
        initial: Mapping[int, int],
        checkpoint_path: str | Path,
        snapshot_every: int = 1,
        fsync: bool = False,
    ) -> None:
        if snapshot_every < 1:
            raise ParameterError(f"snapshot_every must be >= 1, got {snapshot_every}")
        for category, units in initial.items():
            if not isinstance(units, int) or units < 0:
                raise ParameterError(f"store {store_id} category {category}: initial stock {units!r} < 0")
        self.store_id = store_id
        self.path = Path(checkpoint_path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.snapshot_every = snapshot_every
        self.fsync = fsync
        self.levels_: dict[int, int] = {int(c): int(u) for c, u in initial.items()}
        self.applied: dict[str, list[Any]] = {}  # request id -> [op, category, requested, units]
        self.seq = 0  # changes applied since the service first started
        self.starts = 0  # constructions: 1 + restarts
        self.replays = 0  # calls answered from `applied` since this start
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._load()
        self.starts += 1
        # A fresh snapshot at every start: it counts the start, and it empties a journal that may end in a
        # torn line (new lines must never follow one).
        self._snapshot()
        self.journal = self.journal_path.open("a", encoding="utf-8")

    # -- the service --------------------------------------------------------------------------------------

    def reserve(self, request_id: str, category: int, units: int) -> int:
        """Take up to `units` of `category` off the shelf: the units granted (0 when none are left)."""
        recorded = self._recorded(request_id, RESERVE, category, units)
        if recorded is not None:
            return recorded
        granted = min(units, self.levels_[category])
        self._apply(request_id, RESERVE, category, units, granted)
        return granted

    def restock(self, request_id: str, category: int, units: int) -> int:
        """Put `units` of `category` on the shelf: the level after."""
        if self._recorded(request_id, RESTOCK, category, units) is None:
            self._apply(request_id, RESTOCK, category, units, units)
        return self.levels_[category]

    def levels(self) -> dict[int, int]:
        return dict(self.levels_)

    def stats(self) -> dict[str, int]:
        return {"changes": self.seq, "starts": self.starts, "replays": self.replays, "pid": os.getpid()}

    def pid(self) -> int:
        return os.getpid()

    # -- durability -----------------------------------------------------------------------------------------

    def _recorded(self, request_id: str, op: str, category: int, units: int) -> int | None:
        if not isinstance(request_id, str) or not request_id:
            raise ParameterError(f"request id must be a non-empty string, got {request_id!r}")
        if category not in self.levels_:
            raise ParameterError(f"store {self.store_id} has no category {category!r}")
        if not isinstance(units, int) or units < 1:
            raise ParameterError(f"{op} of {units!r} units: must be a positive integer")
        entry = self.applied.get(request_id)
        if entry is None:
            return None
        if entry[:3] != [op, category, units]:
            raise ParameterError(f"request id {request_id!r} was {entry[:3]}, now {[op, category, units]}")
        self.replays += 1
        return int(entry[3])

    def _apply(self, request_id: str, op: str, category: int, requested: int, units: int) -> None:
        line = {"seq": self.seq + 1, "id": request_id, "op": op, "category": category}
        line |= {"requested": requested, "units": units}
        # Journal first: once this write returns the change survives the process; then memory.
        self.journal.write(json.dumps(line) + "\n")
        self.journal.flush()
        if self.fsync:
            os.fsync(self.journal.fileno())
        self._replay(line)
        if self.seq % self.snapshot_every == 0:
            self._snapshot()

    def _replay(self, line: Mapping[str, Any]) -> None:
        sign = -1 if line["op"] == RESERVE else 1
        self.levels_[line["category"]] += sign * line["units"]
        self.applied[line["id"]] = [line["op"], line["category"], line["requested"], line["units"]]
        self.seq = line["seq"]

    def _snapshot(self) -> None:
        state = {
            "store_id": self.store_id,
            "seq": self.seq,
            "starts": self.starts,
            "levels": {str(c): u for c, u in self.levels_.items()},
            "applied": self.applied,
        }
        tmp = self.path.with_name(f"{self.path.name}.tmp{os.getpid()}")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes on disk before the rename makes them the snapshot
        os.replace(tmp, self.path)
        # Killed between the rename and this truncation: the journal's lines are all at or below the
        # snapshot's seq, and `_load` skips them.
        self.journal_path.write_text("", encoding="utf-8")

    def _load(self) -> None:
        if self.path.exists():
            state = json.loads(self.path.read_text(encoding="utf-8"))
            if state["store_id"] != self.store_id:
                raise ParameterError(f"{self.path} holds store {state['store_id']}, not {self.store_id}")
            self.levels_ = {int(c): int(u) for c, u in state["levels"].items()}
            self.applied = state["applied"]
            self.seq = state["seq"]
            self.starts = state["starts"]
        if not self.journal_path.exists():
            return
        lines = self.journal_path.read_text(encoding="utf-8").splitlines()
        for n, text in enumerate(lines):
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                if n == len(lines) - 1:
                    break  # torn by the kill while being written: never acknowledged, so never applied
                raise
            if line["seq"] > self.seq:
                self._replay(line)


# num_cpus=0: the actor waits on calls, it does not compute, so it holds no CPU slot the tasks need (and a
# restart is not queued behind them). Calls lost with a killed process are retried on the restarted actor.
InventoryActor = ray.remote(num_cpus=0, max_restarts=3, max_task_retries=3)(StoreInventory)
