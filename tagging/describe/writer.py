"""Write one description: prompt -> generate -> guard -> (regenerate) -> remove.

The guard runs on every backend's output, so a constrained local model and a remote
endpoint give the same guarantees: no unsupported claim survives, and no run of more
than ``max_shared_ngram`` words is taken from a neighbour's description.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tagging.describe.backends import Backend, GenerationRequest
from tagging.describe.facts import Facts, Listing
from tagging.describe.guard import (
    DEFAULT_MAJORITY,
    DEFAULT_MAX_SHARED_NGRAM,
    banned_words,
    build_support,
    cut_copied,
    longest_shared_ngram,
    remove_claims,
    tidy,
    unsupported,
)
from tagging.describe.lexicon import Lexicon, words
from tagging.describe.prompt import LENGTHS, build_messages, system_prompt
from tagging.describe.vocabulary import Vocabulary, remove_nonwords


@dataclass
class DescribeOptions:
    length: str = "medium"
    tone: str = "neutral"
    language: str | None = None
    temperature: float = 0.0
    seed: int = 0
    max_shared_ngram: int = DEFAULT_MAX_SHARED_NGRAM
    majority: float = DEFAULT_MAJORITY
    regenerate: bool = True
    timeout: float = 60.0

    def __post_init__(self) -> None:
        system_prompt(self.length, self.tone, self.language)  # unknown length/tone -> ValueError


@dataclass
class Description:
    text: str
    facts: Facts
    neighbours: list[Listing]
    unsupported_claims: list[dict[str, Any]] = field(default_factory=list)
    copied_removed: list[str] = field(default_factory=list)
    regenerated: bool = False
    fallback: bool = False
    max_shared_ngram: int = 0
    backend: str = ""
    seconds: float = 0.0
    support: dict[str, list[str]] = field(default_factory=dict)
    draft: str = ""
    nonwords_removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "facts": self.facts.as_dict(),
            "neighbours": [n.as_dict() for n in self.neighbours],
            "unsupported_claims": self.unsupported_claims,
            "copied_removed": self.copied_removed,
            "nonwords_removed": self.nonwords_removed,
            "regenerated": self.regenerated,
            "fallback": self.fallback,
            "max_shared_ngram": self.max_shared_ngram,
            "supported": self.support,
            "backend": self.backend,
            "seconds": round(self.seconds, 3),
        }


_STUTTER = re.compile(r"([A-Za-z]{3,}?)\1{2,}", re.I)


def is_degenerate(text: str) -> bool:
    toks = [w for w, _, _ in words(text)]
    grams = list(itertools.pairwise(toks))
    return bool(grams) and len(set(grams)) / len(grams) < 0.7


def cut_loop(text: str) -> str:
    """End the text before the clause where it starts repeating itself (a 3-word run seen
    earlier in the same text), the usual failure of a small model decoding greedily."""
    toks = words(text)
    for _, start, end in toks:  # "SleekSleekSleek": a loop inside one glued word
        if _STUTTER.search(text, start, end):
            cut = max(text.rfind(p, 0, start) for p in ",.;:")
            return tidy(text[: cut if cut > 0 else start]).rstrip(",;:") + "."
    seen: set[tuple[str, ...]] = set()
    for i in range(len(toks) - 2):
        gram = tuple(w for w, _, _ in toks[i : i + 3])
        if gram in seen:
            start = toks[i][1]
            cut = max(text.rfind(p, 0, start) for p in ",.;:")
            return tidy(text[: cut if cut > 0 else start]).rstrip(",;:") + "."
        seen.add(gram)
    return text


def template_text(facts: Facts) -> str:
    """A plain sentence from the facts alone: the fallback, and the evaluation's baseline."""
    subject = facts.title or " ".join(
        v for v in (", ".join(facts.colours), *facts.tags.values()) if v
    )
    if not subject:
        return ""
    if facts.brand and facts.brand.lower() not in subject.lower():
        subject = f"{subject} by {facts.brand}"
    extras = [f"{k} {v}" for k, v in facts.extra.items() if k.lower() not in ("price",)]
    text = subject.rstrip(".") + "."
    if extras:
        text += " " + "; ".join(extras).capitalize() + "."
    return text


class Describer:
    def __init__(
        self,
        backend: Backend,
        lexicon: Lexicon | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self.backend = backend
        self.lexicon = lexicon or Lexicon()
        # The catalogue's words; None checks nothing (no catalogue to learn them from).
        self.vocabulary = vocabulary

    def _request(
        self,
        facts: Facts,
        neighbours: Sequence[Listing],
        opts: DescribeOptions,
        banned: Sequence[str],
        avoid: Sequence[str] = (),
    ) -> GenerationRequest:
        return GenerationRequest(
            messages=build_messages(
                facts, neighbours, opts.length, opts.tone, opts.language, avoid
            ),
            max_new_tokens=LENGTHS[opts.length].max_new_tokens,
            temperature=opts.temperature,
            seed=opts.seed,
            banned_words=banned,
            avoid_texts=[n.description for n in neighbours if n.description],
            # Every word is at least one token, so blocking runs of cap+1 tokens keeps every
            # copied run of words within the cap.
            block_ngram=opts.max_shared_ngram + 1,
            timeout=opts.timeout,
        )

    def describe(
        self, facts: Facts, neighbours: Sequence[Listing], opts: DescribeOptions | None = None
    ) -> Description:
        opts = opts or DescribeOptions()
        started = time.perf_counter()
        lx = self.lexicon
        support = build_support(facts, neighbours, lx, opts.majority)
        banned = banned_words(support, neighbours, lx)
        sources = [n.description for n in neighbours if n.description]

        text = self.backend.generate(self._request(facts, neighbours, opts, banned))
        draft = text
        bad = unsupported(text, support, lx)
        shared, _ = longest_shared_ngram(text, sources)
        regenerated = False
        if opts.regenerate and (bad or shared > opts.max_shared_ngram):
            avoid = sorted({c.text.lower() for c in bad})
            retry = self.backend.generate(self._request(facts, neighbours, opts, banned, avoid))
            retry_bad = unsupported(retry, support, lx)
            retry_shared, _ = longest_shared_ngram(retry, sources)
            # A retry must be better on the guard's counts and not degenerate into loops.
            if not is_degenerate(retry) and (
                len(retry_bad),
                retry_shared > opts.max_shared_ngram,
            ) < (len(bad), shared > opts.max_shared_ngram):
                text, bad, regenerated = retry, retry_bad, True

        text = remove_claims(cut_loop(text), bad)
        text, copied = cut_copied(text, sources, opts.max_shared_ngram)
        nonwords = self.vocabulary.unknown(text, facts) if self.vocabulary is not None else []
        text = remove_nonwords(text, nonwords)
        fallback = False
        if len(text.split()) < 3:
            text, fallback = template_text(facts), True
        return Description(
            text=text,
            facts=facts,
            neighbours=list(neighbours),
            unsupported_claims=[c.as_dict() for c in bad],
            copied_removed=copied,
            regenerated=regenerated,
            fallback=fallback,
            max_shared_ngram=longest_shared_ngram(text, sources)[0],
            backend=getattr(self.backend, "label", self.backend.name),
            seconds=time.perf_counter() - started,
            support=support.as_dict(),
            draft=draft,
            nonwords_removed=sorted({w for w, _, _ in nonwords}),
        )
