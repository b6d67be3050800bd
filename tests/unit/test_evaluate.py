from collections import Counter

import pytest

from shelfsight.indexer.ingest import Row
from shelfsight.tagging.evaluation.shift import choose_stratify_family, stratified_split
from shelfsight.tagging.evaluation.tagging import score_predictions


def rows():
    out = []
    for i in range(100):
        kind = "Shirts" if i < 60 else "Jeans" if i < 90 else "Socks" if i < 99 else "Cape"
        out.append(
            Row(
                i,
                {
                    "id": str(i),
                    "kind": kind,
                    "gender": "Men" if i % 2 else "Women",
                    "title": f"t{i}",
                },
            )
        )
    return out


def test_stratify_family_prefers_most_values_but_not_id_like():
    assert choose_stratify_family(rows(), ["gender", "kind", "title"]) == "kind"


def test_split_is_seeded_and_stratified():
    a_cat, a_q = stratified_split(rows(), "kind", 0.2, seed=3)
    _b_cat, b_q = stratified_split(rows(), "kind", 0.2, seed=3)
    assert [r.number for r in a_q] == [r.number for r in b_q]
    assert len(a_q) == 20 and len(a_cat) == 80
    counts = Counter(r.values["kind"] for r in a_q)
    assert counts["Shirts"] == 12 and counts["Jeans"] == 6
    assert not {r.number for r in a_cat} & {r.number for r in a_q}


def test_split_rejects_bad_fraction():
    with pytest.raises(ValueError):
        stratified_split(rows(), "kind", 1.5, seed=0)


def test_scores():
    truth = [{"c": "Red", "g": "Men"}, {"c": "Blue", "g": "Men"}, {"c": "Blue"}, {"c": "Red"}]
    preds = [
        {"c": ("Red", 0.9), "g": ("Men", 0.8)},
        {"c": ("Red", 0.5), "g": ("Women", 0.6)},
        {"c": ("Blue", 0.7), "g": ("Men", 0.9)},  # g unlabelled: not scored
        {},  # no prediction at all
    ]
    s = score_predictions(truth, preds, ["c", "g"])
    assert s["attributes"]["c"]["accuracy"] == 0.5
    assert s["attributes"]["c"]["support"] == 4
    assert s["attributes"]["g"]["accuracy"] == 0.5
    # c: Red f1 = 2*.5*.5/(1) = .5, Blue f1 = 2*1*.5/1.5 = .667
    assert s["attributes"]["c"]["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2, abs=1e-3)
    # 3 correct of 5 predicted on labelled families, of 6 labels.
    assert s["micro"]["precision"] == pytest.approx(3 / 5, abs=1e-4)
    assert s["micro"]["recall"] == pytest.approx(3 / 6, abs=1e-4)
