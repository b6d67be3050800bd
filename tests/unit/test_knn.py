import numpy as np
import pytest

from shelfsight.tagging.neighbour_tags.knn import best_tags, idw_weights, vote
from shelfsight.tagging.search.visual import Neighbour


def nb(distance, **tags):
    return Neighbour(id=str(distance), title="", distance=distance, tags=tags)


def test_idw_weights_follow_the_formula():
    w = idw_weights([0.0, 0.5, 1.0], power=2.0, eps=0.1)
    np.testing.assert_allclose(w, [1 / 0.1**2, 1 / 0.6**2, 1 / 1.1**2])


def test_idw_rejects_negative_distances():
    with pytest.raises(ValueError):
        idw_weights([-0.1])


def test_vote_scores_are_weighted_shares():
    ns = [nb(0.5, colour="Red"), nb(1.0, colour="Blue"), nb(1.0, colour="Red")]
    scores = vote(ns, ["colour"], power=1.0, eps=0.0)
    w = np.array([2.0, 1.0, 1.0])
    assert scores["colour"][0][0] == "Red"
    assert scores["colour"][0][1] == pytest.approx((w[0] + w[2]) / w.sum())
    assert scores["colour"][1] == ("Blue", pytest.approx(w[1] / w.sum()))
    assert [n.weight for n in ns] == pytest.approx(list(w))


def test_close_neighbour_outvotes_two_far_ones():
    ns = [nb(0.1, kind="Shoes"), nb(1.0, kind="Bags"), nb(1.0, kind="Bags")]
    assert vote(ns, ["kind"], power=1.0)["kind"][0][0] == "Shoes"
    # With power 0 every neighbour counts the same: plain majority.
    assert vote(ns, ["kind"], power=0.0)["kind"][0][0] == "Bags"


def test_missing_labels_lower_the_score():
    ns = [nb(1.0, usage="Casual"), nb(1.0)]
    assert vote(ns, ["usage"], eps=0.0)["usage"] == [("Casual", pytest.approx(0.5))]


def test_ties_break_by_value_name():
    ns = [nb(1.0, c="Zebra"), nb(1.0, c="Apple")]
    assert vote(ns, ["c"])["c"][0][0] == "Apple"


def test_best_tags_applies_min_score_and_alternatives():
    scores = {"a": [("x", 0.7), ("y", 0.2), ("z", 0.1)], "b": [("p", 0.3), ("q", 0.3)]}
    tags = best_tags(scores, alternatives=1, min_score=0.5)
    assert list(tags) == ["a"]
    assert tags["a"].value == "x" and tags["a"].alternatives == [("y", 0.2)]
    assert tags["a"].source == "knn"


def test_no_neighbours_no_tags():
    assert vote([], ["a"]) == {}
