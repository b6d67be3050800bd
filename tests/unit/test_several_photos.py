"""Several photos per product (issue 29): each indexed under an id that maps back to its
product; a search answers products, each once at its closest photo; filters, exclusions
and removals take a product's every photo."""

import numpy as np
import pytest

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.photo_ids import photo_id, product_keys
from shelfsight.indexer.photo_rows import Photo
from shelfsight.indexer.vector_index import VectorIndex


def unit(*xs):
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(params=["flat", "hnsw"])
def index(request):
    # product 1: a front photo far from the query and a back view right on it
    keys = [1, 2, 3, photo_id(1, 1), photo_id(3, 1), photo_id(3, 2)]
    vectors = np.stack(
        [
            unit(0, 1, 0),
            unit(1, 0.3, 0),
            unit(0, 0, 1),
            unit(1, 0, 0),
            unit(0.2, 0, 1),
            unit(0, 0.1, 1),
        ]
    )
    return VectorIndex.build(np.array(keys), vectors, "m", index_type=request.param)


def test_ids_map_back_to_their_product():
    ids = np.array([7, photo_id(7, 1), photo_id(7, 5), -1])
    assert product_keys(ids).tolist() == [7, 7, 7, -1]


def test_a_product_is_found_through_its_closest_photo_and_listed_once(index):
    assert index.photos_per_product == 3
    hits = index.search(unit(1, 0, 0), 3)
    assert hits.keys[0].tolist() == [1, 2, 3]  # each product once, not 1, 1, 2...
    assert hits.distances[0][0] == pytest.approx(0.0, abs=1e-3)  # the back view's distance
    assert sorted(index.ids().tolist()) == [1, 2, 3]
    assert len(index) == 6  # vectors


def test_filters_and_exclusions_take_every_photo_of_a_product(index):
    allowed = index.search(unit(1, 0, 0), 3, allowed=np.array([1]))
    assert allowed.keys[0].tolist() == [1, -1, -1]
    assert allowed.distances[0][0] == pytest.approx(0.0, abs=1e-3)  # its other photo counts
    without = index.search(unit(1, 0, 0), 2, exclude=np.array([1]))
    assert without.keys[0].tolist() == [2, 3]


def test_removing_a_product_removes_its_other_photos(index):
    index.remove(np.array([3]))
    assert sorted(index.ids().tolist()) == [1, 2] and len(index) == 3
    assert 3 not in index.search(unit(0, 0, 1), 3).keys[0].tolist()


def test_an_index_of_single_photos_reads_as_before():
    vectors = np.stack([unit(1, 0), unit(0, 1), unit(1, 1)])
    index = VectorIndex.build(np.array([5, 6, 7]), vectors, "m", index_type="flat")
    assert index.photos_per_product == 1
    assert index.search(unit(1, 0), 2).keys[0].tolist() == [5, 7]


def test_the_catalogue_keeps_other_photos_and_their_vectors(tmp_path):
    cat = Catalogue(tmp_path / "c.db")
    photos = [Photo(1, "/x/b.jpg", "bb", 10, 20, "http://h/b.jpg"), Photo(2, "/x/c.jpg", "cc")]
    cat.upsert_products(
        [
            {
                "key": 1,
                "id": "p1",
                "title": "t",
                "image_path": "/x/a.jpg",
                "image_sha256": "aa",
                "tags": {},
                "fields": {},
                "photos": photos,
            }
        ]
    )
    assert cat.photos([1]) == {1: photos}
    assert cat.keys_with_sha("cc") == [1]
    assert cat.image_paths_with_sha("bb") == ["/x/b.jpg"]  # held: a sweep keeps the file
    todo = cat.photos_needing_embedding("m")
    assert todo == [(photo_id(1, 1), "/x/b.jpg"), (photo_id(1, 2), "/x/c.jpg")]
    cat.put_photo_embeddings("m", [i for i, _ in todo], np.eye(2, 3, dtype=np.float32))
    assert cat.photos_needing_embedding("m") == []
    ids, vectors = cat.load_photo_embeddings("m")
    assert ids.tolist() == [i for i, _ in todo] and vectors.shape == (2, 3)
    # a listing written without "photos" keeps them; a new set replaces them
    cat.upsert_products([{"key": 1, "id": "p1", "title": "t2", "tags": {}, "fields": {}}])
    assert len(cat.photos([1])[1]) == 2
    cat.upsert_products(
        [{"key": 1, "id": "p1", "title": "t", "tags": {}, "fields": {}, "photos": photos[:1]}]
    )
    assert cat.photos([1]) == {1: photos[:1]}
    assert cat.load_photo_embeddings("m")[0].tolist() == [photo_id(1, 1)]
    cat.delete_product("p1")
    assert cat.photos([1]) == {} and len(cat.load_photo_embeddings("m")[0]) == 0
