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

pytest.importorskip("ray")
RAY = Path(sys.executable).parent / "ray"
SHELFSIGHT = Path(sys.executable).parent / "shelfsight"


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
    subprocess.run([RAY, "stop", "--force"], env=env, timeout=120, capture_output=True)


def test_local_and_ray_engines_give_the_same_vectors(
    ray_address, cnn_home, fashion_slice, fashion_dir, tmp_path
):
    """Forty of the slice's rows embedded on the cluster: the same vectors as the local
    engine gave the same photos in ``cnn_home`` (the slice indexed with the CNN)."""
    with open(fashion_slice, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:40]
    small = tmp_path / "small.csv"
    with open(small, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    remote = tmp_path / "ray"
    run_cli("ingest", small, "--images", fashion_dir / "images", "--home", remote, "--json")
    shards = tmp_path / "shards"
    # In a subprocess: a Ray driver's threads must not live in pytest's own process.
    ray_index = subprocess.run(
        [SHELFSIGHT, "index", "--home", remote, "--model", "cnn", "--engine", "ray",
         "--address", ray_address, "--shards", shards, "--index-type", "hnsw", "--json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert ray_index.returncode == 0, ray_index.stderr[-2000:]
    report = json.loads(ray_index.stdout)
    assert report["embedded"] == 40 and report["index_type"] == "hnsw"
    assert list(shards.glob("*.parquet")), "the Ray engine writes Parquet shards"

    ids = [r["id"] for r in rows]
    vectors = {}
    for home in (cnn_home, remote):
        catalogue = Catalogue(home / "catalogue.db")
        keys, found = catalogue.load_embeddings("cnn-efficientnet_lite0")
        of_key = dict(zip(keys.tolist(), found, strict=True))
        by_id = catalogue.keys_by_id(ids)
        vectors[home] = np.stack([of_key[by_id[i]] for i in ids])
        catalogue.close()
    np.testing.assert_allclose(vectors[cnn_home], vectors[remote], atol=1e-5)
    k_ray, v_ray = Catalogue(remote / "catalogue.db").load_embeddings("cnn-efficientnet_lite0")
    index = VectorIndex.load(remote / "index")
    assert len(index) == 40
    assert index.search(v_ray[3], 1).keys[0, 0] == k_ray[3]


def test_a_ray_session_prints_off_stdout_and_leaves_no_thread_behind(ray_address):
    """Ray's driver prints raylet warnings to stdout from a thread of its own (it broke
    `index --engine ray --json` on a loaded machine); inside the engine's session stdout
    is stderr. The session ends with the block, and so do its threads: Ray Data's usage
    poller outlived it and went on for the rest of the process (it broke a CI run). In a
    subprocess, so that nothing of Ray's lives in pytest's own process."""
    script = f"""
import threading, time, ray
from shelfsight.indexer.ray_engine import ray_session
before = {{t.ident for t in threading.enumerate()}}
with ray_session({ray_address!r}):
    assert ray.is_initialized()
    t = threading.Thread(target=lambda: print("(raylet) WARNING: many workers"))
    t.start(); t.join()
    assert len(ray.data.range(8).map_batches(lambda b: b).take_all()) == 8
assert not ray.is_initialized()
time.sleep(1)
left = [t.name for t in threading.enumerate() if t.ident not in before]
assert not left, f"threads outlived the session: {{left}}"
"""
    env = {k: v for k, v in os.environ.items() if k != "RAY_DATA_USAGE_DISABLED"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "many workers" not in out.stdout and "many workers" in out.stderr
