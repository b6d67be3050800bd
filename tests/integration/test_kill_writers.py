"""`shelfsight ingest` and `shelfsight index` killed with SIGKILL at random points (real
subprocesses): the workspace always stays sound, and a re-run finishes the job."""

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).parent / "shelfsight")


def run(*args, kill_after=None):
    proc = subprocess.Popen([CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_after is None:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-2000:]
        return out.decode()
    time.sleep(kill_after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    return None


def sound(home):
    cat = Catalogue(Workspace.open(home, create=False).db_path)
    assert cat.db.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert cat.inconsistencies() == {"tag_rows_differ": [], "orphan_tag_rows": []}
    return cat


def variant(src, dst, n):
    """The slice with every row's articleType changed, so each run rewrites every row."""
    with open(src, newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(dst, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({**r, "articleType": f"{r['articleType']} {n}"} for r in rows)
    return dst


def test_ingest_killed_at_random_points(fashion_slice, fashion_dir, tmp_path):
    home = tmp_path / "ws"
    images = fashion_dir / "images"
    t0 = time.monotonic()
    run("ingest", fashion_slice, "--images", images, "--home", home)
    full = time.monotonic() - t0
    rng = random.Random(12)
    for n in range(6):
        csv_path = variant(fashion_slice, tmp_path / f"v{n}.csv", n)
        run(
            "ingest",
            csv_path,
            "--images",
            images,
            "--home",
            home,
            kill_after=rng.uniform(0.3, full),
        )
        sound(home)
    last = variant(fashion_slice, tmp_path / "last.csv", "final")
    run("ingest", last, "--images", images, "--home", home)
    cat = sound(home)
    assert cat.count() == 300
    with open(last, newline="") as fh:
        want = {r["id"]: r["articleType"] for r in csv.DictReader(fh)}
    keys = cat.keys_by_id()
    rows = cat.tag_rows()
    assert {pid: rows[keys[pid]]["articleType"] for pid in want} == want


def test_index_killed_at_random_points(fashion_slice, fashion_dir, tmp_path):
    home = tmp_path / "ws"
    # 120 of the slice's rows: the kills still land in embedding, calibration and the
    # index swap (a whole index of 300 took 33 s of the suite's time).
    with open(fashion_slice, newline="") as fh:
        rows = list(csv.DictReader(fh))[:120]
    part = tmp_path / "part.csv"
    with open(part, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    run("ingest", part, "--images", fashion_dir / "images", "--home", home)
    rng = random.Random(7)
    for _ in range(2):
        run("index", "--home", home, "--batch-size", "4", kill_after=rng.uniform(2.0, 12.0))
        sound(home)
        ws = Workspace.open(home, create=False)
        if VectorIndex.current_version(ws.index_dir) is not None:
            VectorIndex.load(ws.index_dir)  # whatever is live loads whole
    run("index", "--home", home)
    ws = Workspace.open(home, create=False)
    index = VectorIndex.load(ws.index_dir)
    cat = sound(home)
    assert set(index.ids().tolist()) == set(cat.embedded_keys(index.model))
    assert len(index) == 120
