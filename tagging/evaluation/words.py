"""The listing's words in ``eval tagging``: each query tagged three ways (``photo``,
``text``, ``listing``: both) and scored side by side with the same metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shelfsight.indexer.catalogue import Product
from shelfsight.indexer.ingest import ResolvedColumns
from shelfsight.tagging.results import TagScore
from shelfsight.tagging.text_tags.apply import from_words, with_words
from shelfsight.tagging.text_tags.fusion import Ranked, TextTags
from shelfsight.tagging.text_tags.kinds import same_kind
from shelfsight.tagging.text_tags.words import listing_text

Prediction = dict[str, tuple[Any, ...]]


def query_text(product: Product, cols: ResolvedColumns, columns: Sequence[str]) -> str:
    """A query listing's words from the named columns (the title column is its title)."""
    parts = [
        product.title if c == cols.title_column else str(product.fields.get(c) or "")
        for c in columns
    ]
    return listing_text(None, parts)


def _as_prediction(tags: dict[str, TagScore]) -> Prediction:
    return {f: (t.value, t.score, t.review, t.raw_score) for f, t in tags.items()}


def word_predictions(
    text_tags: TextTags,
    photo_tags: Sequence[dict[str, TagScore]],
    photo_scores: Sequence[dict[str, Ranked]],
    ood: Sequence[bool],
    texts: Sequence[str],
) -> tuple[list[Prediction], list[Prediction], list[dict[str, TagScore]]]:
    """Each query's tags from its words alone, and from photo and words together (also
    as tags, for the new values they propose)."""
    text, listing, fused = [], [], []
    read = text_tags.model.ranked_many(texts)
    for tags, scores, far, words, said in zip(
        photo_tags, photo_scores, ood, texts, read, strict=True
    ):
        text.append(_as_prediction(from_words(text_tags, words, said)))
        fused.append(with_words(tags, scores, text_tags, words, far, said))
        listing.append(_as_prediction(fused[-1]))
    return text, listing, fused


def new_values(
    text_tags: TextTags,
    fused: Sequence[dict[str, TagScore]],
    truth: Sequence[dict[str, str]],
    unseen: Sequence[int],
) -> dict[str, Any] | None:
    """Of the queries whose kind the catalogue lacks (``unseen``), the share whose words'
    proposal is their own label (case and plural aside), and how many were proposed;
    and how often a new value was proposed for the others."""
    kind = text_tags.kind
    if kind is None or not unseen:
        return None
    family, held = kind.family, set(unseen)

    def proposed(i: int) -> TagScore | None:
        t = fused[i].get(family)
        return t if t is not None and t.new_value else None

    hits = sum(
        1 for i in held if (t := proposed(i)) and same_kind(t.value, truth[i].get(family, ""))
    )
    others = [i for i in range(len(fused)) if i not in held]
    return {
        "family": family,
        "new_value_accuracy": round(hits / len(held), 4),
        "proposed_share": round(sum(proposed(i) is not None for i in held) / len(held), 4),
        "false_proposal_share": round(sum(proposed(i) is not None for i in others) / len(others), 4)
        if others
        else 0.0,
        "n_unseen": len(held),
    }


def format_blocks(result: dict[str, Any]) -> list[str]:
    """One line per family: accuracy and review rate of photo, text and listing."""
    blocks = result.get("blocks")
    if not blocks:
        return []
    lines = []
    wordings = {"as written": blocks, **blocks.get("transformed", {})}
    for wording, block in wordings.items():
        lines += [
            f"words from {', '.join(blocks['text_columns'])} ({wording}): accuracy / review",
            f"{'family':<16} {'photo':>14} {'text':>14} {'listing':>14}",
        ]
        for fam in blocks["photo"]["attributes"]:
            cells = []
            for name, scored in (("photo", blocks), ("text", block), ("listing", block)):
                m = scored[name]["attributes"].get(fam)
                cells.append(f"{m['accuracy']:.3f} / {m['review_rate']:.2f}" if m else "-")
            lines.append(f"{fam:<16} " + " ".join(f"{c:>14}" for c in cells))
    return lines
