"""The calibration mechanics on synthetic scores with a known truth."""

import numpy as np
import pytest

from shelfsight.tagging.neighbour_tags.calibration import (
    Calibration,
    FamilyCalibration,
    tag_features,
)
from shelfsight.tagging.neighbour_tags.calibration_fit import Rows, _accept_threshold, fit_family
from shelfsight.tagging.neighbour_tags.confidence import expected_calibration_error
from shelfsight.tagging.results import TagScore
from shelfsight.tagging.search.visual import Neighbour


def overconfident(n, seed):
    """A tagger whose raw top score is ~0.95 whatever happens, right 60 % of the time when
    its neighbours are near (distance 0.3) and 10 % when they are far (0.9)."""
    rng = np.random.default_rng(seed)
    near = rng.random(n) < 0.5
    nearest = np.where(near, 0.3, 0.9) + rng.normal(0, 0.02, n)
    correct = rng.random(n) < np.where(near, 0.6, 0.1)
    tops = np.clip(0.95 + rng.normal(0, 0.02, n), 0.5, 0.999)
    margins = tops - 0.03
    x = np.stack([np.log(tops / (1 - tops)), margins, nearest, np.zeros(n)], axis=1)
    return x, correct


def test_fitting_lowers_calibration_error_on_fresh_data():
    cal = fit_family(*overconfident(2000, seed=0))
    x, correct = overconfident(2000, seed=1)
    probs = [cal.probability(row) for row in x]
    tops = 1 / (1 + np.exp(-x[:, 0]))
    raw = expected_calibration_error(tops, correct)
    fitted = expected_calibration_error(probs, correct)
    assert raw > 0.5 and fitted < 0.05


def test_accept_threshold_counts_weights():
    probs = np.array([0.9, 0.8, 0.7])
    correct = np.array([1.0, 0.0, 1.0])
    assert _accept_threshold(probs, correct, 0.95) == pytest.approx(0.9)
    # the wrong answer weighs nothing: everything down to 0.7 is precise enough
    assert _accept_threshold(probs, correct, 0.95, np.array([1.0, 0.0, 1.0])) == 0.7


def nb(distance, value):
    return Neighbour("x", "", distance, {"articleType": value})


def test_typicality_compares_the_answer_with_its_own_cluster():
    ranked = [("Shirts", 0.8), ("Tops", 0.2)]
    near = tag_features(
        "articleType", ranked, [nb(0.3, "Shirts"), nb(0.4, "Tops")], {"Shirts": 0.3}, 0.5
    )
    far = tag_features(
        "articleType", ranked, [nb(0.4, "Tops"), nb(0.6, "Shirts")], {"Shirts": 0.3}, 0.5
    )
    assert near[3] == pytest.approx(0.0)  # as close as shirts are to each other
    assert far[3] == pytest.approx(np.log(2.0))  # twice as far
    assert near[2] == 0.3 and far[2] == 0.4  # nearest neighbour, whatever its value
    unknown = tag_features("articleType", [("Capes", 1.0)], [nb(0.5, "Shirts")], {}, 0.25)
    assert unknown[3] == pytest.approx(np.log(2.0))  # catalogue median; farthest neighbour


def test_novel_rows_are_weighted_to_the_prior():
    """Novel rows (always wrong here) move the fitted accuracy to the prior's mix."""
    rows = Rows()
    for i in range(90):
        rows.add("t", np.array([1.0, 0.5, 0.3, 0.0]), i % 10 != 0, False)  # 90 % right
    for _ in range(30):
        rows.add("t", np.array([1.0, 0.5, 0.3, 0.0]), False, True)
    assert rows.fit("t", 0.0).accuracy == pytest.approx(0.9)
    # 10 % novel, all wrong: 0.9 * 0.9
    assert rows.fit("t", 0.1).accuracy == pytest.approx(0.81)


def test_accept_threshold_reaches_the_precision():
    probs = np.array([0.99, 0.97, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([1, 1, 1, 1, 0, 1], dtype=float)
    assert _accept_threshold(probs, correct, 0.95) == pytest.approx(0.8)
    assert _accept_threshold(np.array([0.9]), np.array([0.0]), 0.95) > 1.0  # nothing accepted


def test_constant_truth_gives_a_constant_probability():
    cal = fit_family(np.tile([2.0, 0.5, 0.3, 0.0], (20, 1)), np.ones(20, dtype=bool))
    assert cal.probability(np.array([-1.0, 0.0, 1.5, 1.0])) > 0.99


def test_a_calibration_stored_before_typicality_still_applies():
    old = FamilyCalibration([1.0, 0.0, -4.0], 0.5, accept_threshold=0.7, n=100, accuracy=0.8)
    assert 0 < old.probability(np.array([2.0, 0.5, 0.3, 9.0])) < 1


def make_calibration():
    fam = FamilyCalibration([1.0, 0.0, -4.0, 0.0], 0.5, accept_threshold=0.7, n=100, accuracy=0.8)
    return Calibration("m", {"articleType": fam}, ood_distance=0.8, duplicate_distance=0.1)


def test_apply_sets_scores_review_and_keeps_the_raw_score():
    cal = make_calibration()
    near = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(
        near, {"articleType": [("Shirts", 0.9), ("Tshirts", 0.1)]}, [nb(0.2, "Shirts")], False
    )
    t = near["articleType"]
    assert t.raw_score == 0.9 and 0.7 < t.score < 1 and not t.review
    far = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(far, {"articleType": [("Shirts", 0.9)]}, [nb(1.2, "Shirts")], False)
    assert far["articleType"].review and far["articleType"].score < near["articleType"].score
    ood = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(ood, {"articleType": [("Shirts", 0.9)]}, [nb(0.2, "Shirts")], True)
    assert ood["articleType"].review  # out of domain: always a person's call
    override = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(
        override, {"articleType": [("Shirts", 0.9)]}, [nb(1.2, "Shirts")], False, review_threshold=0
    )
    assert not override["articleType"].review
    other = {"usage": TagScore("usage", "Casual", 0.9)}
    cal.apply(other, {"usage": [("Casual", 0.9)]}, [nb(0.2, "Shirts")], False)
    assert other["usage"].review  # nothing was fitted for it


def test_json_round_trip():
    cal = make_calibration()
    assert Calibration.from_json(cal.to_json()) == cal


def embedded(vectors, tags, shas):
    from types import SimpleNamespace

    from shelfsight.tagging.neighbour_tags.calibration_fit import _Embedded

    keys = np.arange(len(vectors))
    products = {
        int(k): SimpleNamespace(key=int(k), tags={"type": t}, image_sha256=s)
        for k, t, s in zip(keys, tags, shas, strict=True)
    }
    by_sha = {}
    for p in products.values():
        by_sha.setdefault(p.image_sha256, []).append(p.key)
    unit = np.asarray(vectors, dtype=np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    return _Embedded(keys, unit, {int(k): i for i, k in enumerate(keys)}, products, by_sha)


def test_typical_distances_measure_each_cluster_and_skip_copies():
    from shelfsight.tagging.neighbour_tags.calibration_fit import typical_distances

    rng = np.random.default_rng(0)
    centre_a, centre_b = np.eye(8)[0], np.eye(8)[1]
    tight = centre_a + rng.normal(0, 0.02, (6, 8))
    loose = centre_b + rng.normal(0, 0.3, (3, 8))
    # b0 re-uploaded twice and b1 once: half of "b" has a byte-identical twin at distance 0
    vectors = np.concatenate([tight, loose, loose[[0, 0, 1]]])
    shas = [f"a{i}" for i in range(6)] + ["b0", "b1", "b2", "b0", "b0", "b1"]
    emb = embedded(vectors, ["a"] * 6 + ["b"] * 6, shas)
    typical = typical_distances(emb, ["type"])["type"]
    assert 0 < typical["a"] < typical["b"]
    # copies are not neighbours: measured between different photos only
    assert typical["b"] > 0.1


def test_an_atypical_type_answer_goes_to_review_whatever_its_score():
    fam = FamilyCalibration([0.0, 0.0, 0.0, 0.0], 5.0, 0.5, 100, 0.9, max_typicality=0.3)
    cal = Calibration("m", {"articleType": fam}, 2.0, typical={"articleType": {"Shirts": 0.2}})
    ranked = {"articleType": [("Shirts", 0.9)]}
    typical = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(typical, ranked, [nb(0.25, "Shirts")], False)  # log(0.25 / 0.2) = 0.22
    assert typical["articleType"].score > 0.99 and not typical["articleType"].review
    odd = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(odd, ranked, [nb(0.3, "Shirts")], False)  # log(0.3 / 0.2) = 0.41
    assert odd["articleType"].score > 0.99 and odd["articleType"].review is True  # JSON-able
    mine = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(mine, ranked, [nb(0.3, "Shirts")], False, review_threshold=0.5)
    assert not mine["articleType"].review  # the merchant's threshold decides alone


def test_the_type_family_learns_its_typicality_limit_from_right_answers():
    rows = Rows()
    for i in range(100):
        rows.add("t", np.array([1.0, 0.5, 0.3, i / 100]), True, False)
        rows.add("t", np.array([1.0, 0.5, 0.3, 5.0]), False, False)  # wrong: ignored
    rows.add("t", np.array([1.0, 0.5, 0.3, 9.0]), True, True)  # novel: ignored
    assert rows.fit("t", 0.1).max_typicality is None
    assert rows.fit("t", 0.1, type_family=True).max_typicality == pytest.approx(0.891)


def test_runner_ups_share_the_chosen_values_scale():
    # A far answer: its vote 0.55 calibrates to a low score; the runner-up's raw 0.3 vote
    # was shown beside it ("Shirts 0.05 (Shorts 0.25)") and read as the better value.
    cal = make_calibration()
    ranked = [("Shirts", 0.55), ("Shorts", 0.3), ("Tops", 0.15)]
    far = {"articleType": TagScore("articleType", "Shirts", 0.55, alternatives=ranked[1:])}
    cal.apply(far, {"articleType": ranked}, [nb(1.2, "Shirts")], False)
    t = far["articleType"]
    assert t.score < 0.3  # calibrated well below its raw vote
    scores = [s for _, s in t.alternatives]
    assert all(s < t.score for s in scores) and scores == sorted(scores, reverse=True)
    assert t.score + sum(scores) <= 1.0 + 1e-3  # (rounded to 4 places)
    # a sure answer's runner-ups never take more than what it leaves
    near = {"articleType": TagScore("articleType", "Shirts", 0.55, alternatives=ranked[1:])}
    cal.apply(near, {"articleType": ranked}, [nb(0.1, "Shirts")], False)
    t = near["articleType"]
    assert t.score + sum(s for _, s in t.alternatives) <= 1.0 + 1e-3  # (rounded to 4 places)


def test_far_answers_are_held_to_a_threshold_judged_on_far_answers():
    # Near a catalogue photo the score is trusted; far from all of them, the same scores
    # are right half as often. One threshold judged on all answers let the far ones
    # through at the near ones' precision.
    rng = np.random.default_rng(0)
    rows = Rows()
    for far, n in ((False, 1500), (True, 300)):
        logits = rng.uniform(-1, 5, n)
        right = rng.random(n) < (0.5 if far else 1.0) / (1 + np.exp(-logits))
        for logit, ok in zip(logits, right, strict=True):
            nearest = 0.9 if far else 0.3 + rng.normal(0, 0.02)
            rows.add("t", np.array([logit, 0.5, nearest, 0.0]), bool(ok), False)
    fam = rows.fit("t", 0.1, far_distance=0.6)
    assert fam.far_threshold is not None and fam.far_threshold > fam.accept_threshold
    assert rows.fit("t", 0.1).far_threshold is None  # no far distance: one threshold
    assert rows.fit("t", 0.1, far_distance=0.95).far_threshold is None  # none that far

    fam = FamilyCalibration([1.0, 0.0, 0.0, 0.0], 0.0, 0.8, 100, 0.9, far_threshold=0.97)
    cal = Calibration("m", {"t": fam}, 2.0, far_distance=0.6)
    ranked = {"t": [("a", 0.9)]}  # calibrates to 0.9: above 0.8, below 0.97
    for distance, review in ((0.3, False), (0.7, True)):
        tags = {"t": TagScore("t", "a", 0.9)}
        cal.apply(tags, ranked, [Neighbour("x", "", distance, {"t": "a"})], False)
        assert tags["t"].review is review
        assert tags["t"].threshold == (0.97 if review else 0.8)
    stored = Calibration.from_json(cal.to_json())
    assert stored.far_distance == 0.6 and stored.families["t"].far_threshold == 0.97
    old = {k: v for k, v in cal.to_json().items() if k != "far_distance"}
    assert not Calibration.from_json(old).is_far(5.0)  # stored before: one threshold
