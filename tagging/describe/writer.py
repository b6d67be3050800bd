"""Write one description: scaffold (retrieve-and-edit) -> [model rewrite] -> length and
tone -> guard.

The guard runs on every path's output, so the default edit, a constrained local model
and a remote endpoint give the same guarantees: no claim the facts do not support, no
word outside the catalogue's vocabulary and the facts, no product noun other than this
product's, never an existing description verbatim.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections import Counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict

from shelfsight.core.errors import BadInput
from shelfsight.tagging.describe.backends import Backend, GenerationRequest
from shelfsight.tagging.describe.clauses import Clause, join_clauses, split_clauses, uses_final_and
from shelfsight.tagging.describe.compose import (
    COMPOSE_WORDS,
    article_phrase,
    fact_clauses,
    head_clause,
)
from shelfsight.tagging.describe.controls import (
    CONTROL_WORDS,
    WORD_RANGES,
    apply_tone,
    fit_length,
)
from shelfsight.tagging.describe.edit import (
    drop_foreign_products,
    edit_description,
    names_the_product,
    not_a_copy,
    refill,
    same_kind,
)
from shelfsight.tagging.describe.facts import Facts, Listing
from shelfsight.tagging.describe.grounding import grounded
from shelfsight.tagging.describe.guard import (
    DEFAULT_MAJORITY,
    Support,
    banned_words,
    build_support,
    cut_copied,
    longest_shared_ngram,
    remove_claims,
    tidy,
    unsupported,
)
from shelfsight.tagging.describe.lexicon import Claim, Lexicon, is_plural, words
from shelfsight.tagging.describe.prompt import LENGTHS, build_messages, system_prompt
from shelfsight.tagging.describe.vocabulary import Vocabulary, remove_nonwords


@dataclass
class DescribeOptions:
    # "house": as long as the scaffold (the catalogue's own length); the issue-14 eval
    # measured the house length closest to the catalogue (ROUGE-L 0.75 vs 0.58 medium).
    length: str = "house"
    tone: str = "neutral"
    language: str | None = None
    temperature: float = 0.0
    seed: int = 0
    # None: the house template may be reused at any length (only a verbatim copy of a
    # whole description is refused); a number caps the longest run shared with a neighbour.
    max_shared_ngram: int | None = None
    majority: float = DEFAULT_MAJORITY
    regenerate: bool = True
    timeout: float = 60.0

    def __post_init__(self) -> None:
        try:
            system_prompt(self.length, self.tone, self.language)
        except ValueError as exc:  # an unknown length or tone
            raise BadInput(str(exc)) from None


class DescribeChanges(TypedDict, total=False):
    """``DescribeOptions``' fields as keyword arguments (``describe(img, length="short")``)."""

    length: str
    tone: str
    language: str | None
    temperature: float
    seed: int
    max_shared_ngram: int | None
    majority: float
    regenerate: bool
    timeout: float


def describe_options(
    base: DescribeOptions | None, changes: Mapping[str, Any] | None = None
) -> DescribeOptions:
    """``base`` (else the defaults) with ``changes`` applied; an unknown option, length or
    tone is ``BadInput``."""
    try:
        return dataclasses.replace(base or DescribeOptions(), **dict(changes or {}))
    except TypeError as exc:
        raise BadInput(f"describe: {exc}") from None


@dataclass
class Description:
    """A listing description and what it rests on: the facts, the neighbours it was
    grounded in, the claims the guard removed and the neighbour whose text was edited.
    Returned as it is by the Python API, ``describe --json`` and ``POST /describe``."""

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
    supported: dict[str, list[str]] = field(default_factory=dict)
    draft: str = ""  # what the model wrote before the guard (empty for ``edit``)
    scaffold_id: str = ""  # the neighbour whose description was edited
    nonwords_removed: list[str] = field(default_factory=list)
    length: str = "house"
    tone: str = "neutral"
    # Details the facts cannot decide and the neighbours agree on: offered to the merchant
    # ({slot, value, text, agreement, of}), never stated. Confirmed, one comes back as a
    # field (``{slot: value}``) and is then this product's fact.
    to_confirm: list[dict[str, Any]] = field(default_factory=list)
    words: int = field(init=False, default=0)
    # Said when the text is shorter than its length asks: every clause the facts support
    # is in it, and a longer text would state what no fact says (issue 28).
    length_note: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.words = len(self.text.split())
        self.seconds = round(self.seconds, 3)
        rng = WORD_RANGES.get(self.length)
        if rng is not None and self.words < rng.low:
            more = (
                "; confirming the details below says more"
                if self.to_confirm
                else "; give more fields (material, fit, ...) to say more"
            )
            self.length_note = (
                f"{self.words} words, under the {rng.low}-{rng.high} of a {self.length} "
                f"text: the facts say no more{more}"
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Listings whose clauses may lengthen a text: the 5 nearest rarely hold 50 words of
# details that do not repeat one another.
CLAUSE_POOL = 20
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
    """A plain sentence from the facts alone: the fallback, and the evaluation's baseline.
    Without a title, what the product is in words ("Black casual handbag for women"),
    not its tag values in a row ("Brown Accessories Bags Handbags Winter Casual")."""
    # Nothing known of what it is, it is still a product: "White casual product", not its
    # tag values in a row ("White Casual").
    known = facts.colours or facts.tags or facts.gender or facts.brand
    subject = facts.title or (head_clause(facts, Lexicon(), noun="product") if known else "")
    if not subject:
        return ""
    if facts.brand and facts.brand.lower() not in subject.lower():
        subject = f"{subject} by {facts.brand}"
    extras = [f"{k} {v}" for k, v in facts.extra.items() if k.lower() not in ("price",)]
    text = subject.rstrip(".") + "."
    if extras:
        text += " " + "; ".join(extras).capitalize() + "."
    return text


@dataclass(frozen=True)
class Detail:
    clause: Clause
    agreement: int  # how many listings have it
    rank: int  # the nearest listing that has it


def neighbour_details(
    facts: Facts, neighbours: Sequence[Listing], lexicon: Lexicon, support: Support
) -> list[Detail]:
    """The neighbours' detail clauses (not their head clause, which names *their*
    product), re-filled with these facts; a clause with a claim the facts do not support
    is left out whole. Clauses most neighbours share come first, then the nearest's."""
    found: dict[str, tuple[Clause, int, int]] = {}
    count: Counter[str] = Counter()
    for rank, n in enumerate(neighbours):
        if not n.description or not same_kind(facts, n, lexicon):
            continue
        clauses = split_clauses(refill(n.description, facts, lexicon, support))
        seen: set[str] = set()
        for pos, c in enumerate(clauses[1:], 1):
            if c.key in seen or not c.key:
                continue
            # A clause that names a product or a colour restates *that* product ("blue
            # and lime pullover"); one with a claim the facts do not support is false.
            claims = lexicon.claims(c.text)
            if any(x.category in ("article", "colour") or not support.supports(x) for x in claims):
                continue
            seen.add(c.key)
            count[c.key] += 1
            found.setdefault(c.key, (c, rank, pos))
    ordered = sorted(found.values(), key=lambda f: (-count[f[0].key], f[1], f[2]))
    return [Detail(c, count[c.key], rank) for c, rank, _ in ordered]


# Neighbours of this kind that must state a detail before it is offered to confirm.
MIN_CONFIRM_AGREEMENT = 2


def details_to_confirm(
    facts: Facts, pool: Sequence[Listing], lexicon: Lexicon, support: Support
) -> list[dict[str, Any]]:
    """Per slot, the detail most of the pool's listings of this kind state that this
    product's facts do not (a shirt's neighbours' "long sleeves" when its title says
    nothing of sleeves): what a person may confirm with one look at the product."""
    counts: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    considered = 0
    for n in pool:
        if not n.description or not same_kind(facts, n, lexicon):
            continue
        considered += 1
        seen: set[tuple[str, str]] = set()
        for c in split_clauses(n.description):
            for claim in lexicon.claims(c.text):
                if claim.category != "detail" or not claim.slot or support.supports(claim):
                    continue
                key = (claim.slot, claim.canonical)
                if key not in seen:
                    seen.add(key)
                    counts[key] += 1
                    example.setdefault(key, c.text.strip(" ,;."))
    best: dict[str, tuple[str, int]] = {}
    for (slot, value), k in counts.most_common():
        if k >= MIN_CONFIRM_AGREEMENT and slot not in best:
            best[slot] = (value, k)
    return [
        {
            "slot": slot,
            "value": value,
            "text": example[(slot, value)],
            "agreement": k,
            "of": considered,
        }
        for slot, (value, k) in sorted(best.items(), key=lambda kv: -kv[1][1])
    ]


class DescriptionWriter:
    """Facts + neighbours -> a description.

    With no language model (``backend=None``, the default) the text is retrieve-and-edit:
    the nearest neighbour's description re-filled with this product's facts (or, where no
    neighbour has one, a head clause written from the facts), lengthened or cut with the
    neighbours' agreed clauses and the facts' own, in the asked tone. With a model the
    scaffold is its draft and the prompt asks for the tone; its text gets the same guard
    and length fitting.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        lexicon: Lexicon | None = None,
        vocabulary: Vocabulary | None = None,
        existing: Container[str] = frozenset(),
        grounding: bool = True,
    ) -> None:
        """``grounding`` False keeps a neighbour's clause whose words the lexicon does not
        check (the describer before issue 28's last round, for the evaluation's
        comparison)."""
        self.backend = backend
        self.lexicon = lexicon or Lexicon()
        self.vocabulary = vocabulary
        self.existing = existing  # descriptions no output may repeat verbatim
        self.grounding = grounding

    @property
    def vocabulary(self) -> Vocabulary | None:
        """The catalogue's words; None checks nothing (no catalogue to learn them from)."""
        return self._vocabulary

    @vocabulary.setter
    def vocabulary(self, vocabulary: Vocabulary | None) -> None:
        if vocabulary is not None:  # the words length and tone control write themselves
            vocabulary.known |= CONTROL_WORDS | COMPOSE_WORDS
        self._vocabulary = vocabulary

    @property
    def label(self) -> str:
        if self.backend is None:
            return "edit"
        return getattr(self.backend, "label", self.backend.name)

    def _request(
        self,
        facts: Facts,
        neighbours: Sequence[Listing],
        opts: DescribeOptions,
        banned: Sequence[str],
        draft: str,
        avoid: Sequence[str] = (),
    ) -> GenerationRequest:
        cap = opts.max_shared_ngram
        return GenerationRequest(
            messages=build_messages(
                facts, neighbours, opts.length, opts.tone, opts.language, avoid, draft
            ),
            max_new_tokens=LENGTHS[opts.length].max_new_tokens,
            temperature=opts.temperature,
            seed=opts.seed,
            banned_words=banned,
            avoid_texts=[n.description for n in neighbours if n.description] if cap else [],
            # Every word is at least one token, so blocking runs of cap+1 tokens keeps every
            # copied run of words within the cap.
            block_ngram=(cap or 0) + 1,
            timeout=opts.timeout,
        )

    def _generate(
        self,
        facts: Facts,
        neighbours: Sequence[Listing],
        opts: DescribeOptions,
        support: Support,
        draft: str,
    ) -> tuple[str, list[Claim], bool]:
        """The model's text with its unsupported claims found (regenerated once if it
        had any): (text, unsupported claims, regenerated)."""
        assert self.backend is not None
        lx = self.lexicon
        banned = banned_words(support, neighbours, lx)
        sources = [n.description for n in neighbours if n.description]
        cap = opts.max_shared_ngram or 10**6
        text = self.backend.generate(self._request(facts, neighbours, opts, banned, draft))
        bad = unsupported(text, support, lx)
        shared, _ = longest_shared_ngram(text, sources)
        if opts.regenerate and (bad or shared > cap):
            avoid = sorted({c.text.lower() for c in bad})
            retry = self.backend.generate(
                self._request(facts, neighbours, opts, banned, draft, avoid)
            )
            retry_bad = unsupported(retry, support, lx)
            retry_shared, _ = longest_shared_ngram(retry, sources)
            # A retry must be better on the guard's counts and not degenerate into loops.
            if not is_degenerate(retry) and (len(retry_bad), retry_shared > cap) < (
                len(bad),
                shared > cap,
            ):
                return retry, retry_bad, True
        return text, bad, False

    def _grounded(self, clauses: Sequence[Clause], facts: Facts) -> list[Clause]:
        """The clauses every word of which the facts contain (``grounding``); the head
        clause written from the facts when none is."""
        if not self.grounding:
            return list(clauses)
        # The scaffold's head clause (what the product is) gone, the facts' own opens.
        head = Clause(head_clause(facts, self.lexicon), True)
        return grounded(clauses, facts, head) or [head]

    def _controlled(
        self,
        text: str,
        draft: str,
        facts: Facts,
        neighbours: Sequence[Listing],
        pool: Sequence[Listing] | None,
        support: Support,
        opts: DescribeOptions,
    ) -> str:
        """The text cut or lengthened to the asked length, in the asked tone."""
        lx = self.lexicon
        clauses = self._grounded(split_clauses(text), facts)
        details = neighbour_details(facts, pool or neighbours, lx, support)
        # A detail only one listing has is that listing's (a "1 patch pocket" from a shirt
        # three places away): two must agree.
        candidates = [
            *(d.clause for d in details if d.agreement >= 2),
            # What the kept clauses say, not the draft: a draft clause grounding dropped
            # may have named the brand the summary would otherwise restate.
            *fact_clauses(facts, lx, join_clauses(clauses)),
        ]
        if opts.length == "long":
            # 50 words is more than most listings agree on (median description: 18
            # words): the nearest listings' own details, as the scaffold takes them.
            candidates += [d.clause for d in details if d.rank < len(neighbours)]
        candidates = grounded(candidates, facts) if self.grounding else candidates
        final_and = uses_final_and(draft)
        reserve = int(final_and)
        clauses = fit_length(clauses, candidates, opts.length, reserve)
        if self.backend is None:  # a model was asked for the tone in its prompt
            seed = facts.title or repr(sorted(facts.tags.items()))
            subject = _lower_first_word(head_clause(facts, lx))
            noun = article_phrase(facts, lx).split()[-1:] or [""]
            plural = is_plural(noun[0])
            toned = apply_tone(clauses, opts.tone, seed, subject, plural)
            clauses = fit_length(toned, [], opts.length, reserve)
        return join_clauses(clauses, final_and=final_and)

    def describe(
        self,
        facts: Facts,
        neighbours: Sequence[Listing],
        opts: DescribeOptions | None = None,
        pool: Sequence[Listing] | None = None,
    ) -> Description:
        """``pool``: more of the nearest listings (the neighbours first), whose clauses a
        longer text may add; the neighbours alone when not given."""
        opts = opts or DescribeOptions()
        started = time.perf_counter()
        lx = self.lexicon
        # The facts alone decide every slot of an edit. A model is asked and retried with
        # what nearly all neighbours agree on allowed, so that it is not told to drop a
        # house habit it cannot avoid; its text is then grounded like the edit's, and a
        # clause with any word the facts lack goes (issue 28).
        own = build_support(facts, [], lx)
        support = build_support(facts, neighbours, lx, opts.majority) if self.backend else own
        sources = [n.description for n in neighbours if n.description]
        scaffold = edit_description(facts, neighbours, lx, support=own)
        draft = scaffold.text if scaffold else head_clause(facts, lx) + "."

        bad: list[Claim] = []
        regenerated = fallback_to_draft = False
        if self.backend is None:
            text = draft
        else:
            text, bad, regenerated = self._generate(facts, neighbours, opts, support, draft)
            # Another product named after the head ("a turtle jacket pocket" on a shirt)
            # takes its clause with it; the other false claims lose their word.
            text = drop_foreign_products(cut_loop(text), support, lx)
            text = remove_claims(text, unsupported(text, support, lx))
            if not names_the_product(text, facts, lx):
                # The model described something else ("a shell of a turtle" for a shirt
                # by Turtle Check): the scaffold says what the product is.
                text, fallback_to_draft = draft, True
        generated = text

        unchanged = opts.length == "house" and (opts.tone == "neutral" or self.backend)
        if not unchanged:  # the house text as written otherwise: its breaks are its own
            text = self._controlled(text, draft, facts, neighbours, pool, own, opts)
        else:
            clauses = split_clauses(text)
            kept = self._grounded(clauses, facts)
            if kept != clauses:
                text = join_clauses(kept, final_and=uses_final_and(text))

        late = unsupported(text, support, lx)  # a clause's context can change a word
        text = remove_claims(text, late)
        copied: list[str] = []
        if opts.max_shared_ngram:
            text, copied = cut_copied(text, sources, opts.max_shared_ngram)
        nonwords = self.vocabulary.unknown(text, facts) if self.vocabulary is not None else []
        text = remove_nonwords(text, nonwords)
        fallback = fallback_to_draft
        if len(text.split()) < 3:
            text, fallback = template_text(facts), True
        text = not_a_copy(text, facts, _Either(self.existing, sources)) or template_text(facts)
        return Description(
            text=text,
            facts=facts,
            neighbours=list(neighbours),
            unsupported_claims=[c.as_dict() for c in [*bad, *late]],
            copied_removed=copied,
            regenerated=regenerated,
            fallback=fallback,
            max_shared_ngram=longest_shared_ngram(text, sources)[0],
            backend=self.label,
            seconds=time.perf_counter() - started,
            supported=support.as_dict(),
            draft=generated,
            scaffold_id=scaffold.scaffold_id if scaffold else "",
            nonwords_removed=sorted({w for w, _, _ in nonwords}),
            length=opts.length,
            tone=opts.tone,
            to_confirm=details_to_confirm(facts, pool or neighbours, lx, own) if lx.details else [],
        )


def _lower_first_word(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


@dataclass
class _Either:
    """Membership in either of two collections (the catalogue's texts, the neighbours')."""

    first: Container[str]
    second: Container[str]

    def __contains__(self, item: object) -> bool:
        return item in self.first or item in self.second
