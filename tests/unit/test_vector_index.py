import numpy as np
import pytest

from shelfsight.indexer.embedders import l2_normalise
from shelfsight.indexer.vector_index import IndexMissing, VectorIndex


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    vecs = l2_normalise(rng.normal(size=(50, 16)))
    keys = np.arange(100, 150, dtype=np.int64)
    return keys, vecs


def test_exact_nearest_neighbours(data):
    keys, vecs = data
    idx = VectorIndex.build(keys, vecs, "m")
    hits = idx.search(vecs[7], 3)
    assert hits.keys[0, 0] == 107
    assert hits.distances[0, 0] == pytest.approx(0.0, abs=1e-3)
    brute = np.linalg.norm(vecs - vecs[7], axis=1)
    np.testing.assert_array_equal(hits.keys[0], keys[np.argsort(brute)[:3]])
    np.testing.assert_allclose(hits.distances[0], np.sort(brute)[:3], atol=1e-4)


def test_exclude_and_allowed(data):
    keys, vecs = data
    idx = VectorIndex.build(keys, vecs, "m")
    hits = idx.search(vecs[7], 3, exclude=np.array([107]))
    assert 107 not in hits.keys[0] and (hits.keys[0] >= 0).all()
    allowed = np.array([120, 121, 107])
    hits = idx.search(vecs[7], 5, allowed=allowed, exclude=np.array([107]))
    assert set(hits.keys[0][hits.keys[0] >= 0]) == {120, 121}
    assert np.isinf(hits.distances[0][2:]).all()
    empty = idx.search(vecs[7], 2, allowed=np.array([], dtype=np.int64))
    assert (empty.keys == -1).all()


def test_save_load_roundtrip(tmp_path, data):
    keys, vecs = data
    VectorIndex.build(keys, vecs, "m", "cnn:x").save(tmp_path)
    loaded = VectorIndex.load(tmp_path)
    assert len(loaded) == 50 and loaded.manifest["model_spec"] == "cnn:x"
    np.testing.assert_allclose(loaded.index.reconstruct(110), vecs[10], atol=1e-6)


def test_crash_mid_write_keeps_previous_index(tmp_path, data, monkeypatch):
    keys, vecs = data
    VectorIndex.build(keys[:10], vecs[:10], "m").save(tmp_path)
    before = VectorIndex.current_version(tmp_path)

    def boom(index, path):
        with open(path, "wb") as fh:
            fh.write(b"half an index")
        raise OSError("disk full")

    monkeypatch.setattr("shelfsight.indexer.vector_index.faiss.write_index", boom)
    with pytest.raises(OSError):
        VectorIndex.build(keys, vecs, "m").save(tmp_path)
    assert VectorIndex.current_version(tmp_path) == before
    assert len(VectorIndex.load(tmp_path)) == 10
    assert not list(tmp_path.glob(".*partial"))


def test_old_versions_are_pruned(tmp_path, data):
    keys, vecs = data
    for n in (5, 6, 7):
        VectorIndex.build(keys[:n], vecs[:n], "m").save(tmp_path)
    assert len(list(tmp_path.glob("v-*"))) == 2
    assert len(VectorIndex.load(tmp_path)) == 7


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexMissing, match="shelfsight index"):
        VectorIndex.load(tmp_path)
