import numpy as np
import pytest

from shelfsight.indexer.embedders import l2_normalise
from shelfsight.indexer.index_types import gpu_count, lists_for, plan_index, pq_bytes
from shelfsight.indexer.vector_index import VectorIndex

ANN_TYPES = ("hnsw", "ivf", "ivfpq")


@pytest.fixture(scope="module")
def clustered():
    """4,000 unit vectors in 40 clusters, 32-d: enough for IVF lists to mean something."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(40, 32))
    vecs = l2_normalise(centres[rng.integers(0, 40, 4000)] + 0.35 * rng.normal(size=(4000, 32)))
    return np.arange(10_000, 14_000, dtype=np.int64), vecs


def test_auto_picks_by_size():
    assert plan_index("auto", 5_000, 192).kind == "flat"
    assert plan_index("auto", 1_000_000, 192).kind == "ivf"
    assert plan_index("auto", 100_000_000, 192).kind == "ivfpq"
    with pytest.raises(ValueError, match="unknown index type"):
        plan_index("annoy", 10, 8)


def test_ivf_settings_follow_size():
    assert lists_for(1_000_000) == 4096
    assert lists_for(100) == 2  # never fewer than 39 training vectors per list
    plan = plan_index("ivfpq", 1_000_000, 192)
    assert plan.factory == "IVF4096,PQ48x8" and plan.train_size == 64 * 4096
    assert pq_bytes(192) == 48 and 100 % pq_bytes(100) == 0


@pytest.mark.parametrize("kind", ("flat", *ANN_TYPES))
def test_each_type_finds_neighbours(clustered, kind):
    keys, vecs = clustered
    idx = VectorIndex.build(keys, vecs, "m", index_type=kind)
    assert idx.index_type == kind and len(idx) == len(keys)
    exact = VectorIndex.build(keys, vecs, "m", index_type="flat")
    q = vecs[:200]
    truth = exact.search(q, 10).keys
    found = idx.search(q, 10).keys
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= (0.5 if kind == "ivfpq" else 0.9), recall


@pytest.mark.parametrize("kind", ANN_TYPES)
def test_online_remove_update_and_reload(clustered, kind, tmp_path):
    keys, vecs = clustered
    idx = VectorIndex.build(keys, vecs, "m", index_type=kind)
    gone, moved = int(keys[5]), int(keys[6])
    idx.remove(np.array([gone]))
    # An update: key `moved` now carries the vector of product 3000.
    idx.add(np.array([moved]), vecs[3000:3001])
    assert len(idx) == len(keys) - 1
    idx.save(tmp_path)
    back = VectorIndex.load(tmp_path)
    assert back.index_type == kind and len(back) == len(keys) - 1
    for index in (idx, back):
        hits = index.search(vecs[5], 10).keys[0]
        assert gone not in hits and (hits >= 0).all()
        at_new = index.search(vecs[3000], 2).keys[0]
        assert moved in at_new
        assert index.search(vecs[6], 20).keys[0].tolist().count(moved) <= 1
        allowed = index.search(vecs[0], 3, allowed=np.array([gone, int(keys[0])])).keys[0]
        assert allowed[0] == keys[0] and gone not in allowed


def test_search_params_survive_reload(clustered, tmp_path):
    keys, vecs = clustered
    VectorIndex.build(keys, vecs, "m", index_type="ivf").save(tmp_path)
    back = VectorIndex.load(tmp_path)
    import faiss

    assert faiss.extract_index_ivf(back.index).nprobe == back.manifest["plan"]["search"]["nprobe"]


def test_requested_type_is_kept(clustered, tmp_path):
    keys, vecs = clustered
    assert VectorIndex.requested_type(tmp_path) == "auto"
    VectorIndex.build(keys, vecs, "m", index_type="hnsw").save(tmp_path)
    assert VectorIndex.requested_type(tmp_path) == "hnsw"


@pytest.mark.skipif(gpu_count() == 0, reason="faiss-gpu not installed or no GPU visible")
def test_gpu_search_matches_cpu(clustered):
    keys, vecs = clustered
    for kind in ("flat", "ivf"):
        idx = VectorIndex.build(keys, vecs, "m", index_type=kind)
        cpu = idx.index.search(vecs[:100], 10)[1]
        searcher = idx._searcher(None)
        assert searcher is not idx.index  # the GPU copy
        gpu = idx.search(vecs[:100], 10).keys
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(cpu, gpu, strict=True)])
        assert overlap >= 0.95  # fp16 storage on the GPU reorders near-ties only


def test_ivfpq_trains_no_polysemous_codes_it_never_searches_with():
    import faiss

    from shelfsight.indexer.index_types import new_index

    index = new_index(plan_index("ivfpq", 4000, 32), 32)  # owns what extract points into
    assert not faiss.downcast_index(faiss.extract_index_ivf(index)).do_polysemous_training
