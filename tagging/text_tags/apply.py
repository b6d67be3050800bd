"""A listing's words applied to its tags: fused with the photo's scores where the photo
was seen, alone where there is no photo."""

from __future__ import annotations

from collections.abc import Mapping

from shelfsight.tagging.results import TagScore
from shelfsight.tagging.text_tags.fusion import (
    Ranked,
    TextTags,
    contradicts,
    normalised,
    pooled,
)

ALTERNATIVES = 3


def with_words(
    tags: Mapping[str, TagScore],
    photo: Mapping[str, Ranked],
    text_tags: TextTags,
    text: str,
    out_of_domain: bool = False,
) -> dict[str, TagScore]:
    """``tags`` (the photo's, calibrated) with every family the words inform fused with
    them: value and score from the pooled distribution and its trust model, ``source``
    + ``text``, the deciding words as ``evidence``; sent to review below the family's
    threshold, when photo and words contradict each other, or out of domain."""
    read = text_tags.model.ranked(text)
    out = dict(tags)
    for family, fusion in text_tags.families.items():
        words, seen = read.get(family), photo.get(family)
        if not words or not seen or family not in tags:
            continue
        seen = normalised(seen)
        fused = pooled(seen, words, fusion.weight_for(words))
        value, share = fused[0]
        trust = fusion.trust(fused, seen, words)
        was = tags[family]
        out[family] = TagScore(
            family,
            value,
            trust,
            source=f"{was.source}+text",
            alternatives=[(v, round(s, 4)) for v, s in fused[1 : 1 + ALTERNATIVES]],
            review=bool(
                out_of_domain or trust < fusion.listing_threshold or contradicts(seen, words)
            ),
            raw_score=share,
            evidence=text_tags.model.evidence(text, family, value),
        )
    return _with_new_kind(out, text_tags, text)


def _with_new_kind(
    tags: dict[str, TagScore], text_tags: TextTags, text: str
) -> dict[str, TagScore]:
    """The type family's tag replaced by the kind the words name when no value covers it
    (``kinds``); the answer it replaces leads the alternatives."""
    kind = text_tags.kind
    proposal = kind.propose(text) if kind is not None else None
    if kind is None or proposal is None or kind.family not in tags:
        return tags
    was = tags[kind.family]
    return {
        **tags,
        kind.family: TagScore(
            kind.family,
            proposal,
            kind.share,  # how often the catalogue's titles name the kind in that place
            source="text" if was.source == "text" else f"{was.source.removesuffix('+text')}+text",
            alternatives=[(was.value, round(was.score, 4)), *was.alternatives][:ALTERNATIVES],
            review=True,
            raw_score=kind.share,
            evidence=[text.split()[-1]],
            new_value=True,
        ),
    }


def from_words(text_tags: TextTags, text: str) -> dict[str, TagScore]:
    """Tags for a listing with words and no photo: the text model's answer per family,
    scored by its own trust model."""
    out = {}
    for family, words in text_tags.model.ranked(text).items():
        fusion = text_tags.families.get(family)
        value, share = words[0]
        trust = fusion.text_trust(words) if fusion else share
        threshold = fusion.text_threshold if fusion else 1.01
        out[family] = TagScore(
            family,
            value,
            trust,
            source="text",
            alternatives=[(v, round(s, 4)) for v, s in words[1 : 1 + ALTERNATIVES]],
            review=trust < threshold,
            raw_score=share,
            evidence=text_tags.model.evidence(text, family, value),
        )
    return _with_new_kind(out, text_tags, text)
