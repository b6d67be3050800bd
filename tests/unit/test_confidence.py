import pytest

from shelfsight.tagging.neighbour_tags.confidence import (
    accuracy_at_coverage,
    confidence_report,
    coverage_at_accuracy,
    expected_calibration_error,
)


def test_ece_is_zero_when_confidence_matches_accuracy():
    scores = [0.75] * 4 + [0.25] * 4
    correct = [True, True, True, False, True, False, False, False]
    assert expected_calibration_error(scores, correct) == pytest.approx(0.0)


def test_ece_of_an_overconfident_tagger():
    assert expected_calibration_error([0.95] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.45)


def test_risk_coverage():
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    correct = [True, True, True, True, False, True, False, True, False, False]
    assert accuracy_at_coverage(scores, correct, 0.5) == pytest.approx(0.8)
    assert accuracy_at_coverage(scores, correct, 0.4) == pytest.approx(1.0)
    assert coverage_at_accuracy(scores, correct, 0.9) == pytest.approx(0.4)
    assert coverage_at_accuracy(scores, correct, 0.8) == pytest.approx(0.6)
    assert coverage_at_accuracy([0.9], [False], 0.5) == 0.0


def test_report_keys():
    r = confidence_report([0.9, 0.1], [True, False])
    assert set(r) == {"ece", "mean_score", "accuracy_at_coverage", "coverage_at_accuracy"}
    assert r["mean_score"] == 0.5
    assert set(r["accuracy_at_coverage"]) == {"0.5", "0.8", "0.9"}
    assert set(r["coverage_at_accuracy"]) == {"0.9", "0.95"}
