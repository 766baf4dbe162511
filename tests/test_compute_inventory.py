"""The store inventory actor: grants never exceed the stock, every change survives the actor's process being
SIGKILLed (journal + snapshot), and a call retried after the kill is applied once (request ids)."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from python_jobs.compute.model import ParameterError
from python_jobs.compute.ray.inventory import StoreInventory
from python_jobs.config import ComputeSettings

INITIAL = {1: 300, 2: 200}


def test_reserve_grants_what_is_on_hand_and_a_repeated_id_changes_nothing(tmp_path: Path) -> None:
    shop = StoreInventory(7, INITIAL, tmp_path / "store7.json")
    assert shop.reserve("a", 1, 120) == 120
    assert shop.reserve("b", 1, 500) == 180  # what was left, never below zero
    assert shop.reserve("c", 1, 1) == 0
    assert shop.reserve("b", 1, 500) == 180  # the same request again: its recorded answer, no change
    assert shop.levels() == {1: 0, 2: 200}
    assert shop.restock("r1", 1, 50) == 50 and shop.restock("r1", 1, 50) == 50
    assert shop.stats()["replays"] == 2
    with pytest.raises(ParameterError, match="was"):
        shop.reserve("a", 2, 5)  # an id reused for another request
    with pytest.raises(ParameterError, match="no category 9"):
        shop.reserve("d", 9, 1)
    with pytest.raises(ParameterError, match="positive"):
        shop.reserve("e", 2, 0)


@pytest.mark.parametrize("snapshot_every", [1, 4])
def test_a_restart_continues_from_the_last_acknowledged_change(tmp_path: Path, snapshot_every: int) -> None:
    path = tmp_path / "store7.json"
    shop = StoreInventory(7, INITIAL, path, snapshot_every=snapshot_every)
    grants = [shop.reserve(f"r{n}", 1 + n % 2, 7) for n in range(10)]
    # A "killed" process: nothing of `shop` is used again except its files (the journal holds the changes
    # since the last snapshot when snapshot_every > 1). The same constructor arguments, as Ray passes them.
    again = StoreInventory(7, INITIAL, path, snapshot_every=snapshot_every)
    assert again.levels() == shop.levels() == {1: 300 - 35, 2: 200 - 35}
    assert sum(grants) == 70 and again.stats()["starts"] == 2
    # The call whose reply was lost with the process comes again: answered, not applied twice.
    assert again.reserve("r9", 2, 7) == 7 and again.levels() == shop.levels()


def test_torn_journal_line_and_stale_journal_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "store7.json"
    shop = StoreInventory(7, INITIAL, path, snapshot_every=100)
    shop.reserve("a", 1, 10)
    journal = Path(str(path) + ".journal")
    lines = journal.read_text().splitlines()
    # Killed while writing a line (never acknowledged): the partial line is dropped at the restart.
    journal.write_text(lines[0] + "\n" + '{"seq": 2, "id": "b", "op": "res')
    assert StoreInventory(7, INITIAL, path, snapshot_every=100).levels() == {1: 290, 2: 200}
    # Killed between a snapshot's rename and the journal's truncation: lines at or below the snapshot's seq
    # are already in it and are not applied again.
    journal.write_text(lines[0] + "\n")
    assert StoreInventory(7, INITIAL, path).levels() == {1: 290, 2: 200}
    assert json.loads(path.read_text())["seq"] == 1


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[None]:
    # One Ray runtime for this module (ray.init costs 5-25 s here); left running for later modules.
    from python_jobs.compute.ray.runtime import ensure_ray

    ensure_ray(ComputeSettings(workers=2))
    yield


@pytest.mark.timeout(240)
def test_sigkilled_actor_restarts_and_nothing_is_lost_or_doubled(ray_runtime: None, tmp_path: Path) -> None:
    import ray

    from python_jobs.compute.ray.inventory import InventoryActor

    @ray.remote(num_cpus=0.5, max_retries=0)  # 4 shoppers at once on 2 CPUs; a shopper itself never reruns
    def shopper(actor: ray.actor.ActorHandle, name: str, seed: int, calls: int) -> list[tuple[int, int]]:
        rng = random.Random(seed)
        grants = []
        for n in range(calls):
            category = rng.choice([1, 2])
            grants.append(
                (category, ray.get(actor.reserve.remote(f"{name}-{n}", category, rng.randint(1, 5))))
            )
            time.sleep(0.01)
        return grants

    # About 4 x 40 x 3 / 2 = 240 units asked of each category: category 1 (400) keeps some, so a doubled
    # reserve would show in its level; category 2 (150) runs out, so grants must stop at its stock.
    initial = {1: 400, 2: 150}
    actor = InventoryActor.remote(7, initial, str(tmp_path / "store7.json"))
    first_pid = ray.get(actor.pid.remote())
    shoppers, calls = 4, 40
    start = time.monotonic()
    pending = [shopper.remote(actor, f"shopper{k}", k, calls) for k in range(shoppers)]
    # Kill the actor's process once a good part of the calls are in, with the rest still coming.
    deadline = start + 60
    while ray.get(actor.stats.remote())["changes"] < shoppers * calls // 4:
        assert time.monotonic() < deadline, "the shoppers made no progress"
        time.sleep(0.02)
    os.kill(first_pid, signal.SIGKILL)
    killed_at = ray.get(actor.stats.remote())  # answered by the restarted actor (the call waits for it)
    results = ray.get(pending, timeout=120)
    elapsed = time.monotonic() - start

    granted = {c: sum(g for grants in results for cat, g in grants if cat == c) for c in initial}
    levels = ray.get(actor.levels.remote())
    stats = ray.get(actor.stats.remote())
    print(
        f"\nkilled pid {first_pid} after {killed_at['changes']} changes; {stats}; granted {granted}; "
        f"levels {levels}; shoppers done {elapsed:.1f} s after they started"
    )
    assert stats["pid"] != first_pid and stats["starts"] == 2  # killed once, restarted once from its files
    assert all(levels[c] == initial[c] - granted[c] for c in initial)  # nothing lost, nothing doubled
    assert all(0 <= granted[c] <= initial[c] for c in initial) and min(levels.values()) >= 0
    assert levels[1] > 0 and levels[2] == 0  # the sharp case and the capped case both happened
    assert stats["changes"] == shoppers * calls  # every request applied exactly once
    ray.kill(actor)
