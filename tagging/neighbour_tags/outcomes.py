"""Review thresholds learnt from the merchant's own decisions (issue 27).

The calibration (``calibration``) and the words' trust models (``text_tags.fusion``) are
fitted on the catalogue: how right a score is on products like the catalogue's. On a
merchant's new products (other seasons, kinds never sold before) the same score is
right less often, and the "accepted tags are 95 % right" promise breaks. What the review
inbox records fixes that where it matters: on those very products.

Per family and route (the photo alone; the photo with the listing's words, whose scores
come from another model), from the decisions a person actually looked at:

- **Spot checks.** The flagged tags alone only show how right the tags below the
  threshold are: a tag accepted unseen never says it was wrong, so a threshold learnt
  from them could only fall. So a share of the tags above their threshold go to review
  as well, ``AUDIT_START`` (20 %) of a route until it has ``MIN_AUDITS`` checked, then
  ``AUDIT_SHARE`` (5 %), drawn by a hash of the photo (the same photo is flagged alike
  every time); each tag records the share it was drawn at.
- **Recalibration.** Right (kept unchanged) against the served score, fitted on the
  looked-at decisions, a spot check weighted by the inverse of its share (it stands for
  the accepted tags it was drawn from): an isotonic regression, because on new kinds the
  right share stops rising with the score (a confident wrong kind) and a logistic curve
  would extrapolate it upward. A tag accepted unseen counts by this chance, not as right.
- **Threshold.** The lowest served score at which the accepted answers (looked-at ones
  by their outcome, unlooked ones by the recalibrated chance) are ``TARGET`` precise on
  a one-sided 95 % lower bound: the unlooked share is only known from the spot checks
  above the threshold, so few checks mean a wide bound and a cautious threshold.
- **Blend.** Until ``MIN_DECISIONS`` decisions exist, the threshold served is the
  catalogue's moved towards the learnt one in proportion (``weight``); from then on the
  learnt one alone.

A tag sent to review whatever its score (``held``: out of domain, atypical, a new kind,
photo and words contradicting) stays sent, and its decision is not learnt from: its
score was not what decided it. Fitted after each accept (milliseconds: a one-feature
fit on at most ``RECENT`` decisions per route), stored in the catalogue's meta table.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.tagging.neighbour_tags.calibration import ACCEPT_PRECISION
from shelfsight.tagging.results import TagScore

META = "review_outcomes"
MIN_DECISIONS = 200
MIN_LOOKED = 30  # and both outcomes among them: below that nothing is learnt
TARGET = ACCEPT_PRECISION
CONFIDENCE_Z = 1.64  # one-sided 95 %: the promise must hold on the bound, not the estimate
AUDIT_START = 0.2
AUDIT_SHARE = 0.05
MIN_AUDITS = 20
RECENT = 3000  # the newest decisions per route: the products that matter are the new ones


def route_of(source: str) -> str:
    """Which model scored a tag: the photo's calibration, the words' trust model, or
    the words naming a kind the catalogue gained since the fit (one score for all)."""
    parts = source.split("+")
    return "kind" if "kind" in parts else "words" if "text" in parts else "photo"


@dataclass
class LearntThreshold:
    threshold: float | None  # None: not enough decisions to learn one yet
    weight: float  # of the learnt threshold against the catalogue's: min(1, n / MIN_DECISIONS)
    decisions: int
    looked: int
    audits: int  # spot checks among the looked-at decisions
    audit_share: float  # of the tags above the threshold sent as spot checks from now
    accepted_precision: float | None  # estimated, of the decisions at or above ``threshold``


@dataclass
class Outcomes:
    routes: dict[str, LearntThreshold] = field(default_factory=dict)  # "family/route"
    fitted_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Outcomes:
        routes = {k: LearntThreshold(**v) for k, v in raw.get("routes", {}).items()}
        return cls(routes, raw.get("fitted_at", ""))

    def apply(self, tags: Mapping[str, TagScore], key: str = "") -> None:
        """Each tag with a fitted threshold reviewed against the blended one; a share of
        the rest sent as spot checks, drawn by ``key`` (the photo's or the words' own
        digest: products are drawn independently, and one product alike every time)."""
        for family, tag in tags.items():
            if tag.threshold is None:
                continue
            learnt = self.routes.get(f"{family}/{route_of(tag.source)}")
            if learnt is not None and learnt.threshold is not None:
                w = learnt.weight
                tag.threshold = (1 - w) * tag.threshold + w * learnt.threshold
                tag.review = bool(tag.held or tag.score < tag.threshold)
            share = learnt.audit_share if learnt is not None else AUDIT_START
            if not tag.review and _spot_check(family, key or f"{tag.value}|{tag.score:.9f}", share):
                tag.review, tag.audit = True, share


def _spot_check(family: str, key: str, share: float) -> bool:
    # Drawn by the product, not its score: many products share a score (a unanimous
    # vote), and drawing them together made the checks far noisier than their number
    # says (measured: gender's accepted tags estimated 97 % right, 92-94 % in truth).
    digest = hashlib.blake2b(f"{family}|{key}".encode(), digest_size=4)
    return int.from_bytes(digest.digest(), "big") < share * 2**32


def fit_route(rows: list[Mapping[str, Any]]) -> LearntThreshold:
    """One family and route's threshold from its decisions (oldest first)."""
    rows = [r for r in rows if not r["held"]][-RECENT:]
    looked = [r for r in rows if r["looked"]]
    audits = sum(1 for r in looked if r.get("audit"))
    out = LearntThreshold(
        threshold=None,
        weight=round(min(1.0, len(rows) / MIN_DECISIONS), 4),
        decisions=len(rows),
        looked=len(looked),
        audits=audits,
        audit_share=AUDIT_SHARE if audits >= MIN_AUDITS else AUDIT_START,
        accepted_precision=None,
    )
    right_looked = np.array([not r["changed"] for r in looked], dtype=float)
    # Spot checks are what the unlooked tags are judged by: none needed when a person
    # saw every one (a route always in review, the kind tags at first).
    unseen = len(rows) - len(looked)
    if len(looked) < MIN_LOOKED or (unseen and audits < MIN_AUDITS):
        return out
    from sklearn.isotonic import IsotonicRegression

    weights = np.array([1 / r["audit"] if r.get("audit") else 1.0 for r in looked])
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(np.array([r["score"] for r in looked]), right_looked, sample_weight=weights)
    scores = np.array([r["score"] for r in rows], dtype=float)
    chance = model.predict(scores)
    is_looked = np.array([bool(r["looked"]) for r in rows])
    right = np.array([not r["changed"] for r in rows], dtype=float)
    expected = np.where(is_looked, right, chance)
    order = np.argsort(-scores, kind="stable")
    n = np.arange(1, len(rows) + 1)
    precision = np.cumsum(expected[order]) / n
    # How sure: the unlooked share of an accepted set is estimated from the spot checks
    # above its threshold, as many as there are (a binomial standard error), and the
    # bound, not the estimate, must reach the promise.
    audited = np.array([bool(r.get("audit")) for r in rows])[order]
    unlooked = np.cumsum(~is_looked[order]) / n
    p_unlooked = np.clip(
        np.cumsum(np.where(~is_looked[order], chance[order], 0.0)) / np.maximum(n * unlooked, 1),
        0.0,
        1.0,
    )
    spread = np.sqrt(p_unlooked * (1 - p_unlooked) / np.maximum(np.cumsum(audited), 1))
    bound = precision - CONFIDENCE_Z * unlooked * spread
    # The lowest score whose accepted set (it and everything above) is still TARGET
    # precise; none: every answer of this route goes to a person.
    ok = np.nonzero(bound >= TARGET)[0]
    if len(ok):
        cut = int(ok.max())
        out.threshold = round(float(scores[order][cut]), 6)
        out.accepted_precision = round(float(precision[cut]), 4)
    else:
        out.threshold = 1.0 + 1e-6
    return out


def fit_outcomes(decisions: Iterable[Mapping[str, Any]], families: Iterable[str]) -> Outcomes:
    """Thresholds for ``families`` (the catalogue's; attribute tags are never reviewed)
    from the inbox's decisions, oldest first."""
    wanted = set(families)
    by_route: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for d in decisions:
        if d["family"] in wanted and d["score"] is not None:
            by_route[f"{d['family']}/{route_of(d['source'] or '')}"].append(d)
    routes = {key: fit_route(rows) for key, rows in by_route.items()}
    return Outcomes(routes, datetime.now(UTC).isoformat(timespec="seconds"))


def store_outcomes(catalogue: Catalogue, outcomes: Outcomes) -> None:
    catalogue.set_meta(META, outcomes.to_json())


def load_outcomes(catalogue: Catalogue) -> Outcomes | None:
    raw = catalogue.get_meta(META)
    return Outcomes.from_json(raw) if raw else None
