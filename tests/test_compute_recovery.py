"""Fault recovery of the simulation engines, with real processes killed: a Ray node (object lineage
reconstruction), a Ray worker process (task retries), a Ray actor's process (actor restarts) and a Dask worker
(the scheduler recomputes lost keys). Every scenario ends with the NumPy engine's totals, bit for bit, and every
series' paths counted exactly once.

The Ray scenarios share one multi-node cluster (`ray.cluster_utils.Cluster`) in this process: a head with no CPUs
(so no task runs on it) and a worker node with 2 CPUs; the lineage test adds and removes its own nodes."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from python_jobs.compute.engines import checked_totals, simulate
from python_jobs.compute.kernel import TaskResult
from tests import compute_support as cs

pytestmark = pytest.mark.timeout(180)

# Short health checks, so a killed node is declared dead in about a second (Ray's own reconstruction tests do
# the same), and every task result goes to the object store of the node that made it (above 100 bytes), where
# losing the node loses it, rather than inline to the driver.
RAY_SYSTEM_CONFIG = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 100,
    "health_check_failure_threshold": 10,
    "object_timeout_milliseconds": 200,
    "task_retry_delay_ms": 100,
    "max_direct_call_object_size": 100,
}


@pytest.fixture(scope="module")
def ray_cluster():
    import ray
    from ray.cluster_utils import Cluster

    from python_jobs.compute.ray.runtime import runtime_env
    from python_jobs.config import ComputeSettings

    if ray.is_initialized():  # a local runtime another module left: a cluster's driver cannot share it
        ray.shutdown()
    temp_dir = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "temp_dir": str(temp_dir),
            "include_dashboard": False,
            "_system_config": RAY_SYSTEM_CONFIG,
        },
    )
    try:
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        env = runtime_env(ComputeSettings())
        env["env_vars"]["PYTHONPATH"] = cs.WORKER_PYTHONPATH
        ray.init(address=cluster.address, runtime_env=env, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def raylet_descendants(node) -> list[int]:
    raylet = node.all_processes["raylet"][0].process.pid
    return cs.descendants(raylet)


def actor_pids(cluster) -> set[int]:
    """Pids of the SimulationWorker actors' processes on this cluster's worker nodes (not any other Ray's)."""
    import psutil

    pids = set()
    for node in cluster.worker_nodes:
        for pid in raylet_descendants(node):
            try:
                if "SimulationWorker" in " ".join(psutil.Process(pid).cmdline()):
                    pids.add(pid)
            except psutil.Error:
                pass
    return pids


def test_ray_rebuilds_objects_lost_with_their_node_from_lineage(ray_cluster, tmp_path: Path) -> None:
    import ray

    from python_jobs.compute.ray.tasks import simulate_task

    job = cs.job()
    tasks = job.tasks()
    # The same retry budget as the engine's remote function: it is what makes its outputs reconstructable.
    options = {"max_retries": simulate_task._default_options["max_retries"]}
    assert options["max_retries"] > 0
    counted = ray.remote(**options)(cs.counted_run_task)

    doomed = ray_cluster.add_node(num_cpus=2, resources={"doomed": 2})
    replacement = None
    try:
        series = ray.put(job.series)  # on the head node, which survives
        refs = [
            counted.options(resources={"doomed": 1}).remote(str(tmp_path), job.spec, series, task)
            for task in tasks
        ]
        # Done, but left where they were made: nothing is fetched to the driver.
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=90, fetch_local=False)
        assert len(ready) == len(refs)
        first = cs.executions(tmp_path)
        assert len(first) == len(tasks)
        assert {run.node for run in first} == {doomed.node_id}, "a task ran off the node it was pinned to"

        ray_cluster.remove_node(doomed, allow_graceful=False)  # SIGKILL: raylet, object store, workers
        replacement = ray_cluster.add_node(num_cpus=2, resources={"doomed": 2})
        replacement_id = replacement.node_id

        results: list[TaskResult] = ray.get(refs, timeout=120)
    finally:
        if replacement is not None:
            ray_cluster.remove_node(replacement)
        if doomed in ray_cluster.worker_nodes:
            ray_cluster.remove_node(doomed, allow_graceful=False)

    runs = cs.executions(tmp_path)
    rerun = runs[len(first) :]
    # Every output lived only on the dead node, so every task ran again, on the replacement node.
    assert len(runs) > len(tasks)
    assert sorted((run.series, run.block_start) for run in rerun) == sorted(
        (t.series, t.block_start) for t in tasks
    )
    assert {run.node for run in rerun} == {replacement_id}
    cs.assert_same_as_numpy(checked_totals("ray-tasks", job, results))


def test_ray_retries_a_task_whose_worker_process_died(ray_cluster, tmp_path: Path) -> None:
    import ray

    from python_jobs.compute.ray.tasks import simulate_task

    job = cs.job()
    tasks = job.tasks()
    crash = [tasks[0], tasks[len(tasks) // 2]]
    crashing = ray.remote(max_retries=simulate_task._default_options["max_retries"])(cs.crash_once_run_task)
    series = ray.put(job.series)
    results = ray.get(
        [crashing.remote(str(tmp_path), crash, job.spec, series, task) for task in tasks], timeout=120
    )

    runs = cs.executions(tmp_path)
    assert len(runs) == len(tasks) + len(crash)  # each crashed task ran twice, the others once
    for task in crash:
        killed = int((tmp_path / f"crashed-{task.series}-{task.block_start}").read_text())
        pids = [run.pid for run in runs if (run.series, run.block_start) == (task.series, task.block_start)]
        assert len(pids) == 2 and pids[0] == killed and pids[1] != killed
        assert not cs.alive(killed)
    cs.assert_same_as_numpy(checked_totals("ray-tasks", job, results))


def test_ray_restarts_an_actor_killed_mid_run(ray_cluster) -> None:
    state: dict[str, object] = {"done": 0, "killed": None, "before": set(), "after": set()}

    def progress(n: int) -> None:
        state["done"] += n
        pids = actor_pids(ray_cluster)
        if state["killed"] is None and state["done"] >= 3:
            # Both of the pool's actors up (the second may still be starting): while this callback holds the
            # driver, the pool hands out no new calls, so each actor has one call in flight, or none yet.
            deadline = time.monotonic() + 60
            while len(pids) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
                pids = actor_pids(ray_cluster)
            assert len(pids) == 2, pids
            victim = min(pids)
            os.kill(victim, signal.SIGKILL)
            state["killed"], state["before"], state["done_at_kill"] = victim, pids, state["done"]
        elif state["killed"] is not None:
            state["after"] |= pids

    job = cs.job(progress=progress)
    totals = simulate("ray-actors", job)

    assert state["killed"] is not None and state["done_at_kill"] < len(job.tasks())
    assert not cs.alive(state["killed"])
    # The run could not finish without the killed actor's in-flight call: it was restarted (a new process)
    # and the call retried on it.
    assert state["after"] - state["before"], "no restarted actor process was seen"
    cs.assert_same_as_numpy(totals)


def test_dask_recomputes_the_keys_of_a_killed_worker(tmp_path: Path) -> None:
    from python_jobs.compute.dask.cluster import dask_client
    from python_jobs.compute.dask.simulate import run_on
    from python_jobs.config import ComputeSettings

    with (
        cs.dask_cluster(tmp_path) as cluster,
        dask_client(ComputeSettings(dask_scheduler=cluster.address)) as client,
    ):
        state: dict[str, object] = {"lost": None}

        def progress(n: int) -> None:
            if state["lost"] is not None:
                return
            # At the first result, wait until every task is done (held in some worker's memory, only one of
            # them fetched), then SIGKILL the worker holding the most: its keys are lost mid-graph, and the
            # run can only finish by recomputing them on the other worker.
            deadline = time.monotonic() + 60
            while True:
                held = client.run_on_scheduler(cs.keys_in_memory)
                if sum(map(len, held.values())) == len(tasks) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            victim = max(held, key=lambda name: len(held[name]))
            cluster.kill_worker(victim)
            deadline = time.monotonic() + 30
            while len(client.scheduler_info()["workers"]) > 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            state["lost"] = held[victim]

        job = cs.job(ComputeSettings(dask_scheduler=cluster.address), progress)
        tasks = job.tasks()
        totals = checked_totals("dask", job, run_on(client, job))
        log = client.run_on_scheduler(cs.scheduler_transitions)

    lost = state["lost"]
    assert lost, "the killed worker held no results"
    computed: dict[str, int] = {}
    for key, start, finish, _ in log:
        if start == "processing" and finish == "memory":
            computed[key] = computed.get(key, 0) + 1
    assert len(computed) == len(tasks)
    recomputed = sorted(key for key, n in computed.items() if n > 1)
    assert sum(computed.values()) > len(tasks)
    assert recomputed == sorted(lost)  # exactly the lost keys, each once more
    cs.assert_same_as_numpy(totals)
