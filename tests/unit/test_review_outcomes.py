"""Review thresholds learnt from planted decisions (``neighbour_tags.outcomes``): they
move the way the outcomes say, blend in with their number, never release a held tag,
and spot-check a share of the accepted tags."""

import random

from shelfsight.tagging.neighbour_tags.outcomes import (
    AUDIT_SHARE,
    AUDIT_START,
    MIN_DECISIONS,
    Outcomes,
    fit_outcomes,
    fit_route,
)
from shelfsight.tagging.results import TagScore

CATALOGUE_THRESHOLD = 0.8


def planted(n, right_below, right_above, seed=0, audit=0.2, family="articleType"):
    """Decisions as a bulk accept leaves them: tags under the catalogue's threshold were
    flagged and looked at; above it, ``audit`` of them were spot-checked, the rest
    accepted unseen (recorded unchanged, whatever the truth)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        score = rng.uniform(0.5, 1.0)
        below = score < CATALOGUE_THRESHOLD
        spot = not below and rng.random() < audit
        right = rng.random() < (right_below if below else right_above)
        looked = below or spot
        rows.append(
            {
                "family": family,
                "source": "knn",
                "score": score,
                "held": 0,
                "threshold": CATALOGUE_THRESHOLD,
                "audit": audit if spot else 0.0,
                "looked": int(looked),
                "changed": int(looked and not right),
            }
        )
    return rows


def test_right_flagged_answers_lower_the_threshold():
    learnt = fit_route(planted(400, right_below=0.99, right_above=0.995))
    assert learnt.threshold is not None and learnt.threshold < CATALOGUE_THRESHOLD - 0.1
    assert learnt.weight == 1.0 and learnt.accepted_precision >= 0.95


def test_wrong_spot_checks_raise_it_where_flagged_answers_alone_could_not():
    rows = planted(400, right_below=0.6, right_above=0.85)
    learnt = fit_route(rows)
    assert learnt.threshold is not None and learnt.threshold > CATALOGUE_THRESHOLD
    # Without the spot checks' outcomes the accepted tags look all right.
    blind = [r | {"audit": 0.0, "looked": 0, "changed": 0} if r["audit"] else r for r in rows]
    assert fit_route(blind).threshold is None  # too few checks: nothing learnt yet


def test_too_few_decisions_learn_nothing_and_keep_checking_at_the_start_share():
    learnt = fit_route(planted(20, 0.9, 0.9))
    assert learnt.threshold is None and learnt.audit_share == AUDIT_START
    assert fit_route(planted(600, 0.9, 0.99)).audit_share == AUDIT_SHARE


def test_the_learnt_threshold_blends_in_with_the_number_of_decisions():
    rows = planted(MIN_DECISIONS // 2, 0.99, 0.995, audit=0.6)
    outcomes = fit_outcomes(rows, ["articleType"])
    learnt = outcomes.routes["articleType/photo"]
    assert learnt.weight == 0.5
    tag = TagScore("articleType", "Shirts", 0.75, threshold=CATALOGUE_THRESHOLD, review=True)
    Outcomes({"articleType/photo": learnt}).apply({"articleType": tag})
    assert abs(tag.threshold - (CATALOGUE_THRESHOLD + learnt.threshold) / 2) < 1e-9


def test_a_held_tag_stays_in_review_and_other_routes_and_families_are_apart():
    outcomes = fit_outcomes(
        planted(400, 0.99, 0.995) + planted(50, 0.99, 0.995, family="colour"), ["articleType"]
    )
    assert set(outcomes.routes) == {"articleType/photo"}  # colour is not a catalogue family
    held = TagScore("articleType", "Shirts", 0.99, threshold=0.8, review=True, held=True)
    words = TagScore("articleType", "Shirts", 0.7, "knn+text", threshold=0.8, review=True)
    outcomes.apply({"articleType": held})
    outcomes.apply({"articleType": words})
    assert held.review and words.review and words.threshold == 0.8


def test_spot_checks_take_their_share_of_the_accepted_tags_alike_every_time():
    outcomes = Outcomes()
    picked = 0
    for n in range(4000):
        tag = TagScore("gender", "Men", 0.9 + n * 1e-5, threshold=0.5)
        outcomes.apply({"gender": tag}, key=f"photo-{n}")
        again = TagScore("gender", "Men", 0.9, threshold=0.5)  # the same photo again
        outcomes.apply({"gender": again}, key=f"photo-{n}")
        assert (tag.review, tag.audit) == (again.review, again.audit)
        picked += tag.audit > 0
    assert abs(picked / 4000 - AUDIT_START) < 0.03


def test_a_route_always_looked_at_learns_without_spot_checks():
    # Kind tags (one score for all) sent to review until their outcomes say otherwise.
    rows = [
        {"family": "articleType", "source": "knn+text+kind", "score": 0.62, "held": 0,
         "threshold": 1.0, "audit": 0.0, "looked": 1, "changed": int(n % 50 == 0)}
        for n in range(MIN_DECISIONS)
    ]  # fmt: skip
    outcomes = fit_outcomes(rows, ["articleType"])
    learnt = outcomes.routes["articleType/kind"]
    assert learnt.threshold == 0.62 and learnt.accepted_precision == 0.98
    tag = TagScore("articleType", "Earrings", 0.62, "knn+text+kind", threshold=1.0, review=True)
    outcomes.apply({"articleType": tag}, key="x")
    assert tag.threshold == 0.62 and (not tag.review or tag.audit)
