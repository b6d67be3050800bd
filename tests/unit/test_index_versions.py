"""Index versions: ordered by a sequence, readable by other users, and kept in step with
the catalogue by ``reconcile`` after a write died between its two commit points."""

import json
import os
import stat

import numpy as np
import pytest

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.embedders import l2_normalise
from shelfsight.indexer.online import reconcile
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace, atomic_write_text


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    return np.arange(1, 41, dtype=np.int64), l2_normalise(rng.normal(size=(40, 16)))


def test_the_version_kept_is_the_one_just_before_even_within_a_second(tmp_path, data):
    keys, vecs = data
    for n in (5, 6, 7, 8):  # four writes in well under a second
        VectorIndex.build(keys[:n], vecs[:n], "m").save(tmp_path)
    kept = sorted(p.name for p in tmp_path.glob("v-*"))
    sizes = sorted(json.loads((tmp_path / v / "manifest.json").read_text())["count"] for v in kept)
    assert sizes == [7, 8]
    assert len(VectorIndex.load(tmp_path)) == 8


def test_versions_named_before_sequences_sort_first(tmp_path, data):
    keys, vecs = data
    VectorIndex.build(keys[:5], vecs[:5], "m").save(tmp_path)
    (tmp_path / VectorIndex.current_version(tmp_path)).rename(tmp_path / "v-20990101-000000-abcdef")
    atomic_write_text(tmp_path / "CURRENT", "v-20990101-000000-abcdef\n")
    VectorIndex.build(keys[:6], vecs[:6], "m").save(tmp_path)
    VectorIndex.build(keys[:7], vecs[:7], "m").save(tmp_path)
    assert not (tmp_path / "v-20990101-000000-abcdef").exists()  # the oldest, pruned


def test_written_files_respect_the_umask(tmp_path, data):
    keys, vecs = data
    old = os.umask(0o022)
    try:
        version = VectorIndex.build(keys, vecs, "m").save(tmp_path)
    finally:
        os.umask(old)
    for path in (tmp_path / "CURRENT", version / "index.faiss", version / "manifest.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_ids_lists_what_the_index_holds(kind):
    rng = np.random.default_rng(1)
    many_keys = np.arange(1000, 3000, dtype=np.int64)
    many = l2_normalise(rng.normal(size=(len(many_keys), 16)))
    index = VectorIndex.build(many_keys, many, "m", index_type=kind)
    index.remove(np.array([1000, 1500]))
    expected = np.setdiff1d(many_keys, [1000, 1500])
    np.testing.assert_array_equal(index.ids(), expected)


def test_reconcile_drops_ghosts_and_adds_missing(tmp_path, data):
    keys, vecs = data
    ws = Workspace.open(tmp_path / "ws", create=True)
    cat = Catalogue(ws.db_path)
    cat.upsert_products(
        [
            {
                "key": int(k),
                "id": f"p{k}",
                "title": "",
                "image_path": None,
                "image_sha256": None,
                "tags": {},
                "fields": {},
            }
            for k in keys[:30]
        ]
    )
    cat.put_embeddings("m", list(keys[:30]), vecs[:30])
    # The index a torn write left: keys 31-40 never committed, 21-30 never indexed.
    index = VectorIndex.build(np.r_[keys[:20], keys[30:]], np.r_[vecs[:20], vecs[30:]], "m")
    index.save(ws.index_dir)
    fixed, report = reconcile(ws, cat, index)
    assert report.removed == list(range(31, 41)) and report.added == list(range(21, 31))
    np.testing.assert_array_equal(VectorIndex.load(ws.index_dir).ids(), keys[:30])
    hits = fixed.search(vecs[25], 1)
    assert hits.keys[0, 0] == keys[25]
    _, again = reconcile(ws, cat, fixed)
    assert not again.changed
