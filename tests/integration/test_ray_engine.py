"""The Ray engine against a real local Ray cluster (head started by the test)."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.vector_index import VectorIndex
from tests.integration.conftest import run_cli

ray = pytest.importorskip("ray")
RAY = Path(sys.executable).parent / "ray"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    temp = tmp_path_factory.mktemp("ray")
    subprocess.run(
        [RAY, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={temp}"],
        check=True, env=env, timeout=180, capture_output=True,
    )  # fmt: skip
    yield f"127.0.0.1:{port}"
    ray.shutdown()
    subprocess.run([RAY, "stop", "--force"], env=env, timeout=120, capture_output=True)


def _ingest(rows, fashion_dir, home):
    run_cli("ingest", rows, "--images", fashion_dir / "images", "--home", home, "--json")


def test_local_and_ray_engines_give_the_same_vectors(
    ray_address, fashion_slice, fashion_dir, tmp_path
):
    with open(fashion_slice, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:40]
    small = tmp_path / "small.csv"
    with open(small, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    local, remote = tmp_path / "local", tmp_path / "ray"
    for home in (local, remote):
        _ingest(small, fashion_dir, home)

    run_cli("index", "--home", local, "--model", "cnn", "--json")
    shards = tmp_path / "shards"
    report = json.loads(
        run_cli(
            "index", "--home", remote, "--model", "cnn", "--engine", "ray",
            "--address", ray_address, "--shards", shards, "--index-type", "hnsw", "--json",
        )
    )  # fmt: skip
    assert report["embedded"] == 40 and report["index_type"] == "hnsw"
    assert list(shards.glob("*.parquet")), "the Ray engine writes Parquet shards"

    k_local, v_local = Catalogue(local / "catalogue.db").load_embeddings("cnn-efficientnet_lite0")
    k_ray, v_ray = Catalogue(remote / "catalogue.db").load_embeddings("cnn-efficientnet_lite0")
    np.testing.assert_array_equal(k_local, k_ray)
    np.testing.assert_allclose(v_local, v_ray, atol=1e-5)
    index = VectorIndex.load(remote / "index")
    assert len(index) == 40
    assert index.search(v_ray[3], 1).keys[0, 0] == k_ray[3]


def test_what_ray_prints_during_a_session_stays_off_stdout(ray_address):
    """Ray's driver prints raylet warnings to stdout from a thread of its own (it broke
    `index --engine ray --json` on a loaded machine); inside the engine's session stdout
    is stderr, and the session ends with the block. In a subprocess: Ray's threads must
    not outlive the test in pytest's own process."""
    script = f"""
import threading, ray
from shelfsight.indexer.ray_engine import ray_session
with ray_session({ray_address!r}):
    assert ray.is_initialized()
    t = threading.Thread(target=lambda: print("(raylet) WARNING: many workers"))
    t.start(); t.join()
assert not ray.is_initialized()
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "many workers" not in out.stdout and "many workers" in out.stderr
