"""Dashboards built on a Ray cluster equal the local build; --ray without Ray says how to install it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import featurepedia
from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import ParquetSink, RunConfig, read_features, read_run, run_dashboards
from featurepedia.errors import UsageError
from featurepedia.sources import source_for

# The cluster's ports: a block of 50 from here (GCS, node manager, object manager, agents, then the
# workers' range), so that the test's Ray binds nothing outside one known block.
BASE_PORT = int(os.environ.get("FEATUREPEDIA_TEST_RAY_PORT", "18400"))
SRC = Path(featurepedia.__file__).resolve().parents[1]  # the code under test, for the workers too
BUILD = ["--model", "tiny-llama", "--source", "1-mlp", "--tokens", "6400", "--ctx-len", "32", "--batch-size", "16",
         "--seed", "3"]


def _read(bundle: Path) -> tuple[list[dict], dict]:
    run = read_run(bundle).to_dict()
    for key in ("elapsed_s", "timings"):
        run.pop(key)
    return [f.to_dict() for chunk in read_features(bundle) for f in chunk], run


def _ray_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
            "FEATUREPEDIA_DATA_DIR": str(tmp_path / "data"),
            # Ray binds and talks to loopback only (on Linux it otherwise uses the machine's address).
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def _start_head(tmp_path: Path, env: dict[str, str], ray_dir: Path) -> subprocess.Popen:
    """`ray start --head --block` with 2 CPUs and no dashboard, in its own process: terminating it stops
    every process of the cluster. ``ray_dir`` is its temp folder (a short path: it holds Unix sockets)."""
    p = BASE_PORT
    ray = Path(sys.executable).with_name("ray")
    log = (tmp_path / "head.log").open("w")
    return subprocess.Popen(
        [str(ray), "start", "--head", "--block", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats", "--node-ip-address=127.0.0.1", f"--port={p}", f"--node-manager-port={p + 1}",
         f"--object-manager-port={p + 2}", f"--dashboard-agent-listen-port={p + 3}",
         f"--dashboard-agent-grpc-port={p + 4}", f"--runtime-env-agent-port={p + 5}",
         f"--metrics-export-port={p + 6}", f"--dashboard-port={p + 7}", f"--min-worker-port={p + 10}",
         f"--max-worker-port={p + 49}", f"--temp-dir={ray_dir}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_started(head: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Ray runtime started" in log.read_text():
            return
        if head.poll() is not None:
            raise AssertionError(f"ray start exited with {head.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"the Ray head did not start in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def ray_dir():
    folder = Path(tempfile.mkdtemp(prefix="fpray-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_build_on_a_local_ray_cluster_equals_the_local_build(tiny_llama, tmp_path, ray_dir):
    pytest.importorskip("ray")
    env = _ray_env(tmp_path)
    head = _start_head(tmp_path, env, ray_dir)
    try:
        _wait_started(head, tmp_path / "head.log")
        # The Ray build: the command itself, in a fresh process (its ray.init cannot touch this one).
        done = subprocess.run(
            [sys.executable, "-m", "featurepedia.cli", "build", *BUILD, "--no-db", "--out", str(tmp_path / "ray-out"),
             "--quiet", "--ray", f"127.0.0.1:{BASE_PORT}"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "built 128 features of tiny-llama/1-mlp" in done.stdout
    finally:
        head.terminate()
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
    config = RunConfig(model="tiny-llama", source="1-mlp", n_tokens=6400, batch_size=16,
                       contexts=ContextSpec(ctx_len=32, seed=3))
    run_dashboards(tiny_llama, source_for(tiny_llama, "1-mlp"), config, ParquetSink(tmp_path / "local-out"),
                   tmp_path / "local-run", progress=False)
    ray_features, ray_run = _read(tmp_path / "ray-out")
    local_features, local_run = _read(tmp_path / "local-out")
    assert ray_run == local_run
    assert len(ray_features) == 128 and ray_features == local_features


def test_ray_missing_says_how_to_install_it(monkeypatch):
    from featurepedia.dashboards.ray_shards import RayShards

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'featurepedia\[ray\]'"):
        RayShards("auto")


def test_the_build_command_checks_its_ray_options(monkeypatch, capsys):
    from featurepedia.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["build", *BUILD, "--no-db", "--out", "x", "--ray", "auto"]) == 2
    assert "--ray needs Ray" in capsys.readouterr().err
    assert main(["build", *BUILD, "--no-db", "--out", "x", "--ray-cpus", "2"]) == 2
    assert "add --ray auto" in capsys.readouterr().err


class _FakeRay:
    """What RayShards asks of the ray module when it joins a cluster."""

    def __init__(self, cpus: int) -> None:
        self.cpus, self.inits, self.shutdowns, self.initialized = cpus, [], 0, False

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **kwargs) -> None:
        self.inits.append(kwargs)
        self.initialized = True

    def cluster_resources(self) -> dict:
        return {"CPU": float(self.cpus)}

    def shutdown(self) -> None:
        self.shutdowns += 1
        self.initialized = False


@pytest.mark.parametrize("address, want", [("auto", None), ("head.example:6379", "head.example:6379")])
def test_ray_shards_join_the_cluster_and_size_their_tasks(monkeypatch, address, want):
    from featurepedia.dashboards.ray_shards import RayShards

    fake = _FakeRay(cpus=8)
    monkeypatch.setitem(sys.modules, "ray", fake)
    shards = RayShards(address, cpus=3)
    shards.start()
    (init,) = fake.inits
    assert init["address"] == want and init["include_dashboard"] is False
    assert init["runtime_env"]["env_vars"]["OMP_WAIT_POLICY"]  # the command's numeric settings reach the tasks
    assert shards.parallelism == 2  # 8 CPUs // 3 per task
    shards.close()
    assert fake.shutdowns == 1
    fake.initialized = True  # a process that joined by itself (ray.init before the build) stays joined
    shards.start()
    shards.close()
    assert fake.shutdowns == 1 and len(fake.inits) == 1
    with pytest.raises(UsageError, match="fewer than the 9"):
        RayShards(address, cpus=9).start()
    with pytest.raises(UsageError, match="at least 1 CPU"):
        RayShards(address, cpus=0)
