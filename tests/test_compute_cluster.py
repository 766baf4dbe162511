"""Scale-out by configuration: the same simulation, unchanged, on clusters started outside the process that
runs it, reached only through their addresses (GROCERY_RAY_ADDRESS, GROCERY_DASK_SCHEDULER). Each gives the
NumPy engine's totals bit for bit, and each cluster's processes are all gone after its fixture."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from python_jobs.compute.engines import simulate
from python_jobs.config import ComputeSettings
from tests import compute_support as cs

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def ray_head():
    temp_dir = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))  # short: Ray's socket paths are length-limited
    with cs.ray_head(temp_dir) as head:
        pids = [head.proc.pid, *cs.descendants(head.proc.pid)]
        yield head
    assert not [p for p in pids if cs.alive(p)], "a process of the Ray head outlived its teardown"
    assert not cs.processes_mentioning(str(temp_dir)), "a Ray process of this head is still running"


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory):
    with cs.dask_cluster(tmp_path_factory.mktemp("dask")) as cluster:
        procs = [cluster.scheduler, *cluster.workers.values()]
        pids = [p for proc in procs for p in (proc.pid, *cs.descendants(proc.pid))]
        yield cluster
    assert all(proc.poll() is not None for proc in procs)
    assert not [p for p in pids if cs.alive(p)], "a Dask process outlived its teardown"


@pytest.mark.parametrize("engine", ["ray-tasks", "ray-actors"])
def test_ray_engines_on_a_ray_head_by_address(ray_head, engine: str) -> None:
    # A driver of its own (this process may already run a local Ray), configured only by the environment.
    out = cs.run_driver(
        ["ray-driver", engine],
        env={**ray_head.env, "GROCERY_RAY_ADDRESS": ray_head.address, "GROCERY_COMPUTE_WORKERS": "2"},
    )
    # The head's cluster, not a local one started by mistake (the GCS reports the machine's IP, not 127.0.0.1).
    assert out["gcs_address"].rpartition(":")[2] == ray_head.address.rpartition(":")[2]
    assert out["nodes"] == 1 and out["cpus"] == 2
    cs.assert_same_as_numpy(cs.totals_from_json(out["totals"]))


def test_dask_engine_on_a_dask_scheduler_by_address(dask_cluster) -> None:
    from distributed import Client

    settings = ComputeSettings(dask_scheduler=dask_cluster.address)
    totals = simulate("dask", cs.job(settings))
    cs.assert_same_as_numpy(totals)
    with Client(dask_cluster.address, timeout="30s") as client:
        workers = client.scheduler_info()["workers"].values()
        assert sorted(w["name"] for w in workers) == ["w0", "w1"]  # the CLI's workers, both still there
