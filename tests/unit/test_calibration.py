"""The calibration mechanics on synthetic scores with a known truth."""

import numpy as np
import pytest

from tagging.calibration import Calibration, FamilyCalibration, _accept_threshold, fit_family
from tagging.confidence import expected_calibration_error
from tagging.knn import TagScore


def overconfident(n, seed):
    """A tagger whose raw top score is ~0.95 whatever happens, right 60 % of the time when
    its neighbours are near (distance 0.3) and 10 % when they are far (0.9)."""
    rng = np.random.default_rng(seed)
    near = rng.random(n) < 0.5
    nearest = np.where(near, 0.3, 0.9) + rng.normal(0, 0.02, n)
    correct = rng.random(n) < np.where(near, 0.6, 0.1)
    tops = np.clip(0.95 + rng.normal(0, 0.02, n), 0.5, 0.999)
    margins = tops - 0.03
    return list(tops), list(margins), list(nearest), list(correct)


def test_fitting_lowers_calibration_error_on_fresh_data():
    cal = fit_family(*overconfident(2000, seed=0))
    tops, margins, nearest, correct = overconfident(2000, seed=1)
    probs = [cal.probability(t, m, d) for t, m, d in zip(tops, margins, nearest, strict=True)]
    raw = expected_calibration_error(tops, correct)
    fitted = expected_calibration_error(probs, correct)
    assert raw > 0.5 and fitted < 0.05


def test_accept_threshold_reaches_the_precision():
    probs = np.array([0.99, 0.97, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([1, 1, 1, 1, 0, 1], dtype=float)
    assert _accept_threshold(probs, correct, 0.95) == pytest.approx(0.8)
    assert _accept_threshold(np.array([0.9]), np.array([0.0]), 0.95) > 1.0  # nothing accepted


def test_constant_truth_gives_a_constant_probability():
    cal = fit_family([0.9] * 20, [0.5] * 20, [0.3] * 20, [True] * 20)
    assert cal.probability(0.2, 0.0, 1.5) > 0.99


def make_calibration():
    fam = FamilyCalibration([1.0, 0.0, -4.0], 0.5, accept_threshold=0.7, n=100, accuracy=0.8)
    return Calibration("m", {"articleType": fam}, ood_distance=0.8, duplicate_distance=0.1)


def test_apply_sets_scores_review_and_keeps_the_raw_score():
    cal = make_calibration()
    near = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(near, {"articleType": [("Shirts", 0.9), ("Tshirts", 0.1)]}, 0.2, False)
    t = near["articleType"]
    assert t.raw_score == 0.9 and 0.7 < t.score < 1 and not t.review
    far = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(far, {"articleType": [("Shirts", 0.9)]}, 1.2, False)
    assert far["articleType"].review and far["articleType"].score < near["articleType"].score
    ood = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(ood, {"articleType": [("Shirts", 0.9)]}, 0.2, True)
    assert ood["articleType"].review  # out of domain: always a person's call
    override = {"articleType": TagScore("articleType", "Shirts", 0.9)}
    cal.apply(override, {"articleType": [("Shirts", 0.9)]}, 1.2, False, review_threshold=0.0)
    assert not override["articleType"].review
    other = {"usage": TagScore("usage", "Casual", 0.9)}
    cal.apply(other, {"usage": [("Casual", 0.9)]}, 0.2, False)
    assert other["usage"].review  # nothing was fitted for it


def test_json_round_trip():
    cal = make_calibration()
    assert Calibration.from_json(cal.to_json()) == cal
