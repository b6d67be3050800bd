"""A listing's words applied to its tags: fused with the photo's scores where the photo
was seen, alone where there is no photo."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from shelfsight.tagging.results import TagScore, on_score_scale
from shelfsight.tagging.text_tags.fusion import (
    Ranked,
    TextTags,
    contradicts,
    normalised,
    pooled,
)
from shelfsight.tagging.text_tags.kinds import same_kind, slot_words

ALTERNATIVES = 3


def with_words(
    tags: Mapping[str, TagScore],
    photo: Mapping[str, Ranked],
    text_tags: TextTags,
    text: str,
    out_of_domain: bool = False,
    read: Mapping[str, Ranked] | None = None,
    known_kinds: Collection[str] = (),
) -> dict[str, TagScore]:
    """``tags`` (the photo's, calibrated) with every family the words inform fused with
    them: value and score from the pooled distribution and its trust model, ``source``
    + ``text``, the deciding words as ``evidence``; sent to review below the family's
    threshold, when photo and words contradict each other, or out of domain. ``read``:
    the text model's answer for ``text``, when already known; ``known_kinds``: the type
    family's values the catalogue holds now (``_with_new_kind``)."""
    read = text_tags.model.ranked(text) if read is None else read
    out = dict(tags)
    for family, fusion in text_tags.families.items():
        words, seen = read.get(family), photo.get(family)
        if not words or not seen or family not in tags:
            continue
        seen = normalised(seen)
        named = text_tags.names(text, family)
        weight = fusion.weight_for(words, named)
        if weight == 0.0:
            continue  # words that must not move the photo's answer: its tag stands as is
        fused = pooled(seen, words, weight)
        value, share = fused[0]
        trust = fusion.trust(fused, seen, words, named)
        was = tags[family]
        held = bool(out_of_domain or contradicts(seen, words))
        threshold = fusion.threshold_for(named)
        out[family] = TagScore(
            family,
            value,
            trust,
            source=f"{was.source}+text",
            alternatives=on_score_scale(fused[1 : 1 + ALTERNATIVES], share, trust),
            review=held or trust < threshold,
            raw_score=share,
            evidence=text_tags.model.evidence(text, family, value),
            threshold=threshold,
            held=held,
        )
    return _with_new_kind(out, text_tags, text, known_kinds)


def _with_new_kind(
    tags: dict[str, TagScore], text_tags: TextTags, text: str, known_kinds: Collection[str]
) -> dict[str, TagScore]:
    """The type family's tag replaced by the kind the words name when no value covers it
    (``kinds``); the answer it replaces leads the alternatives. The catalogue holds no
    product of that kind, so a tag of a family the type does not decide and no word of
    the listing names (a season, a usage: what goes with similar words or photos of
    *other* kinds) goes to review with it; a category the type decides (a new kind of
    top is still topwear) keeps its own review rule. A kind
    the catalogue has gained since the words' model was fitted (``known_kinds``) is given
    in the catalogue's spelling, not as new, and still reviewed until the next fit."""
    kind = text_tags.kind
    proposal = kind.propose(text) if kind is not None else None
    if kind is None or proposal is None or kind.family not in tags:
        return tags
    known = next((v for v in known_kinds if same_kind(v, proposal)), None)
    was = tags[kind.family]
    if known is not None and was.value == known:
        # The photo's neighbours (products accepted since the fit) already carry the kind
        # the words name: the tag keeps its own review rule, as any known kind's does.
        return tags
    if known is not None:
        # A kind the catalogue gained since the fit (a merchant accepted it): a value like
        # the others now, whose products the other families can borrow from. Scored by
        # how often titles name a kind in that place; in review until the merchant's
        # outcomes for such tags (their own route, ``outcomes``) say how far to trust it.
        out = dict(tags)
        out[kind.family] = TagScore(
            kind.family,
            known,
            kind.share,
            source=f"{was.source.removesuffix('+text')}+text+kind",
            alternatives=on_score_scale(
                [(was.value, round(was.score, 4)), *was.alternatives][:ALTERNATIVES],
                None,
                kind.share,
            ),
            review=True,
            raw_score=kind.share,
            evidence=slot_words(text)[-len(proposal.split()) :],
            threshold=1.0,
        )
        return out
    out = {
        family: t
        if t.review or family in kind.decided or text_tags.names(text, family)
        else replace(t, review=True, held=True)
        for family, t in tags.items()
    }
    out[kind.family] = TagScore(
        kind.family,
        known or proposal,
        kind.share,  # how often the catalogue's titles name the kind in that place
        source="text" if was.source == "text" else f"{was.source.removesuffix('+text')}+text",
        alternatives=on_score_scale(
            [(was.value, round(was.score, 4)), *was.alternatives][:ALTERNATIVES],
            None,
            kind.share,
        ),
        review=True,
        held=True,
        raw_score=kind.share,
        evidence=slot_words(text)[-len(proposal.split()) :],
        new_value=known is None,
    )
    return out


def from_words(
    text_tags: TextTags,
    text: str,
    read: Mapping[str, Ranked] | None = None,
    known_kinds: Collection[str] = (),
) -> dict[str, TagScore]:
    """Tags for a listing with words and no photo: the text model's answer per family,
    scored by its own trust model."""
    out = {}
    read = text_tags.model.ranked(text) if read is None else read
    for family, words in read.items():
        fusion = text_tags.families.get(family)
        value, share = words[0]
        trust = fusion.text_trust(words) if fusion else share
        threshold = fusion.text_threshold if fusion else 1.01
        out[family] = TagScore(
            family,
            value,
            trust,
            source="text",
            alternatives=on_score_scale(words[1 : 1 + ALTERNATIVES], share, trust),
            review=trust < threshold,
            raw_score=share,
            evidence=text_tags.model.evidence(text, family, value),
            threshold=threshold if fusion else None,
            held=fusion is None,
        )
    return _with_new_kind(out, text_tags, text, known_kinds)
