"""``shelfsight eval describe``: held-out listings, neighbours by title, generated text
scored against the real description, next to two baselines in the same run.

Rows that share a title are split together, so a held-out listing is never described
by copying its own duplicate. The unsupported-claim audit checks every system's text
against the held-out row's facts alone (title, brand, gender, colour): the generator
gets no credit for claims its guard accepted from the neighbours.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from shelfsight.indexer.ingest import CatalogueError, Row, read_table
from shelfsight.tagging.describe.backends import Backend
from shelfsight.tagging.describe.controls import WORD_RANGES
from shelfsight.tagging.describe.facts import Facts, Listing
from shelfsight.tagging.describe.grounding import ungrounded_words
from shelfsight.tagging.describe.guard import build_support, longest_shared_ngram, unsupported
from shelfsight.tagging.describe.lexicon import CATEGORIES, Lexicon, catalogue_nouns, words
from shelfsight.tagging.describe.vocabulary import Vocabulary
from shelfsight.tagging.describe.writer import (
    CLAUSE_POOL,
    DescribeOptions,
    DescriptionWriter,
    template_text,
)
from shelfsight.tagging.search.text_encoder import TitleIndex

# "describer" is the shipped describer on the chosen backend (by default retrieve-and-edit,
# no language model); the two baselines run beside it on the same queries.
# ``five_slot_guard``: the same describer with the guard before issue 28 (colour,
# material, gender, article, brand checked; the catalogue's other details not), scored by
# the same audit of every slot: what checking every detail changes, in one run.
# ``lexicon_guard``: the describer with every slot checked but a neighbour's clause kept
# when the lexicon finds no claim in it (before grounding, ``describe.grounding``).
SYSTEMS = ("describer", "lexicon_guard", "five_slot_guard", "nn_copy", "template")
# Length and tone settings the describer is run at besides the main one; each reports its
# mean words, the share inside its word range and the share that differs from
# neutral/medium (issue 14).
CONTROL_SETTINGS = (
    ("house", "neutral"),
    ("short", "neutral"),
    ("medium", "neutral"),
    ("long", "neutral"),
    ("medium", "premium"),
    ("medium", "playful"),
)


@dataclass
class DescribeColumns:
    id: str = "Product_ID"
    title: str = "Product_Name"
    brand: str = "Product_Brand"
    gender: str = "Gender"
    colour: str = "Primary_Color"
    description: str = "Description"


@dataclass
class Item:
    id: str
    title: str
    brand: str
    gender: str
    colour: str
    description: str

    def facts(self) -> Facts:
        return Facts(
            title=self.title,
            brand=self.brand,
            gender=self.gender,
            colours=[self.colour] if self.colour else [],
        )

    def listing(self, distance: float | None = None) -> Listing:
        tags = {k: v for k, v in (("Gender", self.gender), ("Colour", self.colour)) if v}
        return Listing(self.id, self.title, self.description, tags, self.brand, distance)


@dataclass
class Outputs:
    texts: list[str] = field(default_factory=list)
    seconds: float = 0.0


def load_items(path: Path, cols: DescribeColumns) -> tuple[list[Item], Counter[str]]:
    header, rows = read_table(path)
    for name in (cols.id, cols.title, cols.description):
        if name not in header:
            raise CatalogueError(
                f"missing column {name!r} in {path}; the file has: {', '.join(header)}"
            )
    skipped: Counter[str] = Counter()
    seen: set[str] = set()
    items = []
    for row in rows:
        item = _item(row, cols)
        if isinstance(item, str):
            skipped[item] += 1
        elif item.id in seen:
            skipped["duplicate id"] += 1
        else:
            seen.add(item.id)
            items.append(item)
    return items, skipped


def _item(row: Row, cols: DescribeColumns) -> Item | str:
    if row.error:
        return "malformed row"

    def get(name: str) -> str:
        return " ".join(str(row.values.get(name) or "").split())

    item = Item(
        get(cols.id),
        get(cols.title),
        get(cols.brand),
        get(cols.gender),
        get(cols.colour),
        get(cols.description),
    )
    if not item.id:
        return "empty id"
    if not item.title:
        return "empty title"
    if not item.description:
        return "empty description"
    return item


def _title_key(title: str) -> str:
    return " ".join(w for w, _, _ in words(title))


def split_holdout(
    items: Sequence[Item], fraction: float, seed: int
) -> tuple[list[Item], list[Item]]:
    """(catalogue, queries): whole title groups go to one side."""
    groups: dict[str, list[Item]] = {}
    for it in items:
        groups.setdefault(_title_key(it.title), []).append(it)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    target = round(fraction * len(items))
    queries: list[Item] = []
    catalogue: list[Item] = []
    for key in keys:
        (queries if len(queries) < target else catalogue).extend(groups[key])
    return catalogue, queries


def distinct_n(texts: Sequence[str], n: int) -> float:
    grams: list[tuple[str, ...]] = []
    for t in texts:
        toks = [w for w, _, _ in words(t)]
        grams.extend(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def score(
    texts: Sequence[str],
    refs: Sequence[str],
    facts: Sequence[Facts],
    sources: Sequence[list[str]],
    lexicon: Lexicon,
) -> dict[str, float]:
    import sacrebleu
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [scorer.score(r, t)["rougeL"].fmeasure for t, r in zip(texts, refs, strict=True)]
    claims = bad = 0
    shared = []
    # The audit the lexicon cannot blind: content words the product's facts do not
    # contain, whatever they claim ("brooch", "octogonal", "water resistance").
    loose = ungrounded_words(texts, facts)
    by_category: Counter[str] = Counter()
    by_slot: Counter[str] = Counter()
    for text, f, src in zip(texts, facts, sources, strict=True):
        support = build_support(f, [], lexicon)  # the facts alone: no neighbour credit
        claims += len(lexicon.claims(text))
        wrong = unsupported(text, support, lexicon)
        bad += len(wrong)
        by_category.update(c.category for c in wrong)
        by_slot.update(c.slot for c in wrong if c.category == "detail")
        shared.append(longest_shared_ngram(text, src)[0])
    n = max(len(texts), 1)
    return {
        "rouge_l": sum(rouge) / n,
        "bleu4": sacrebleu.corpus_bleu(list(texts), [list(refs)]).score / 100,
        "distinct1": distinct_n(texts, 1),
        "distinct2": distinct_n(texts, 2),
        "unsupported_rate": bad / n,
        "unsupported_share": bad / claims if claims else 0.0,
        "ungrounded_rate": sum(len(w) for w in loose) / n,
        "ungrounded_share": sum(bool(w) for w in loose) / n,
        "claims_per_item": claims / n,
        "mean_longest_shared_run": sum(shared) / n,
        "mean_words": sum(len(words(t)) for t in texts) / n,
        **{f"unsupported_{c}": by_category[c] / n for c in CATEGORIES},
        # per detail slot, the ten most often unsupported (every slot is in the total)
        **{f"unsupported_slot_{s}": k / n for s, k in by_slot.most_common(10)},
    }


@dataclass
class DescribeEvalOptions:
    """What ``evaluate_describe`` measures: held-out listings (or a ``queries`` file),
    ``k`` neighbours each, at ``options``' length and tone, and (``controls``) at every
    length and tone too."""

    queries: Path | None = None
    holdout_fraction: float = 0.1
    seed: int = 0
    limit: int | None = None
    k: int = 5
    options: DescribeOptions | None = None
    columns: DescribeColumns | None = None
    progress: bool = True
    controls: bool = True


def evaluate_describe(
    catalog: Path, backend: Backend | None = None, eval_options: DescribeEvalOptions | None = None
) -> dict[str, Any]:
    """Describe held-out listings with ``backend`` (None: retrieve-and-edit) and score them
    against their real texts, next to a neighbour copy and a fill-in template."""
    e = eval_options or DescribeEvalOptions()
    queries_path, holdout_fraction, seed, limit, k = (
        e.queries,
        e.holdout_fraction,
        e.seed,
        e.limit,
        e.k,
    )
    progress, controls = e.progress, e.controls
    cols = e.columns or DescribeColumns()
    opts = e.options or DescribeOptions()
    items, skipped = load_items(catalog, cols)
    if queries_path is not None:
        queries, q_skipped = load_items(queries_path, cols)
        skipped.update({f"queries: {k}": v for k, v in q_skipped.items()})
        held = {q.id for q in queries} | {_title_key(q.title) for q in queries}
        catalogue = [it for it in items if it.id not in held and _title_key(it.title) not in held]
    else:
        catalogue, queries = split_holdout(items, holdout_fraction, seed)
        random.Random(seed).shuffle(queries)
    if limit is not None:
        queries = queries[:limit]
    if not queries or len(catalogue) < k:
        raise CatalogueError(f"not enough rows: {len(catalogue)} catalogue, {len(queries)} queries")

    brands = sorted({it.brand for it in items if it.brand})
    nouns = catalogue_nouns(c.title for c in catalogue)
    lexicon = Lexicon.for_catalogue(brands, nouns, (c.description for c in catalogue))
    started = time.perf_counter()
    index = TitleIndex([c.title for c in catalogue], progress=progress)
    index_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sims, rows = index.search([q.title for q in queries], max(k, CLAUSE_POOL))
    retrieval = (time.perf_counter() - started) / len(queries)

    # The catalogue's words (titles, descriptions, brands, genders, colours): the queries'
    # own descriptions are not in it, so a reference never vouches for a word.
    vocabulary = Vocabulary.from_texts(
        t for c in catalogue for t in (c.title, c.description, c.brand, c.gender, c.colour)
    )
    existing = {c.description for c in catalogue}  # no output may repeat one verbatim
    describer = DescriptionWriter(backend, lexicon, vocabulary, existing)
    unchecked = Lexicon(brands, nouns)
    five_slot = DescriptionWriter(backend, unchecked, vocabulary, existing, grounding=False)
    lexicon_only = DescriptionWriter(backend, lexicon, vocabulary, existing, grounding=False)
    outputs = {s: Outputs() for s in SYSTEMS}
    facts_list, sources, neighbour_lists, pools = [], [], [], []
    for qi, q in enumerate(queries):
        nbrs = [
            catalogue[int(r)].listing(1.0 - float(s))
            for s, r in zip(sims[qi], rows[qi], strict=True)
            if r >= 0
        ]
        facts_list.append(q.facts())
        neighbour_lists.append(nbrs[:k])
        pools.append(nbrs)
        sources.append([n.description for n in nbrs if n.description])

    settings = [(opts.length, opts.tone)]
    if controls:
        settings += [s for s in CONTROL_SETTINGS if s != settings[0]]
    by_setting: dict[tuple[str, str], list[str]] = {s: [] for s in settings}
    seconds: list[float] = []
    examples: list[dict[str, Any]] = []
    for qi, q in enumerate(tqdm(queries, desc="describe", unit="item", disable=not progress)):
        for length, tone in settings:
            o = replace(opts, length=length, tone=tone)
            d = describer.describe(facts_list[qi], neighbour_lists[qi], o, pools[qi])
            by_setting[(length, tone)].append(d.text)
            if (length, tone) == settings[0]:
                seconds.append(d.seconds + retrieval)
                if len(examples) < 5:
                    examples.append(
                        {"id": q.id, "title": q.title, "reference": q.description, **d.as_dict()}
                    )
        t0 = time.perf_counter()
        o = replace(opts, length=settings[0][0], tone=settings[0][1])
        five = five_slot.describe(facts_list[qi], neighbour_lists[qi], o, pools[qi])
        outputs["five_slot_guard"].texts.append(five.text)
        outputs["five_slot_guard"].seconds += time.perf_counter() - t0
        t0 = time.perf_counter()
        loose_text = lexicon_only.describe(facts_list[qi], neighbour_lists[qi], o, pools[qi])
        outputs["lexicon_guard"].texts.append(loose_text.text)
        outputs["lexicon_guard"].seconds += time.perf_counter() - t0
        outputs["nn_copy"].texts.append(neighbour_lists[qi][0].description)
        t0 = time.perf_counter()
        outputs["template"].texts.append(template_text(facts_list[qi]))
        outputs["template"].seconds += time.perf_counter() - t0
    outputs["describer"] = Outputs(by_setting[settings[0]], sum(seconds))
    outputs["nn_copy"].seconds = retrieval * len(queries)

    refs = [q.description for q in queries]
    n = len(queries)
    label = describer.label
    result: dict[str, Any] = {
        "n": n,
        "backend": label,
        "median_seconds": round(statistics.median(seconds), 4),
        "catalogue_size": len(catalogue),
        "k": k,
        "length": opts.length,
        "tone": opts.tone,
        "max_shared_ngram": opts.max_shared_ngram,
        "title_index_seconds": round(index_seconds, 2),
        "skipped": dict(skipped),
    }
    for system in SYSTEMS:
        out = outputs[system]
        metrics = score(out.texts, refs, facts_list, sources, lexicon)
        metrics["seconds_per_item"] = out.seconds / n
        metrics["identical_rate"] = sum(t in existing for t in out.texts) / n
        metrics["nonword_rate"] = (
            sum(bool(vocabulary.unknown(t, f)) for t, f in zip(out.texts, facts_list, strict=True))
            / n
        )
        result[system] = {
            **{k: round(v, 4) for k, v in metrics.items()},
            "n": n,
            "backend": label if system == "describer" else system,
        }
    if controls:
        result["controls"] = control_report(by_setting, ("medium", "neutral"), refs)
    result["examples"] = examples
    return result


def control_report(
    by_setting: dict[tuple[str, str], list[str]], base: tuple[str, str], refs: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Per length/tone: mean words, share within the length's word range and below it,
    share of texts that differ from the ``base`` setting's text for the same product,
    ROUGE-L."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    reference = by_setting[base]
    out = {}
    for (length, tone), texts in by_setting.items():
        rouge = [scorer.score(r, t)["rougeL"].fmeasure for t, r in zip(texts, refs, strict=True)]
        counts = [len(t.split()) for t in texts]
        rng = WORD_RANGES.get(length)
        out[f"{length}/{tone}"] = {
            "mean_words": round(sum(counts) / len(counts), 2),
            "in_range": round(sum(rng.low <= c <= rng.high for c in counts) / len(counts), 4)
            if rng
            else 1.0,
            # under the range: the facts said no more (the answer's ``length_note``)
            "below_range": round(sum(c < rng.low for c in counts) / len(counts), 4) if rng else 0.0,
            "changed_share": round(
                sum(a != b for a, b in zip(texts, reference, strict=True)) / len(texts), 4
            ),
            "rouge_l": round(sum(rouge) / len(rouge), 4),
        }
    return out


_ROW = "{:<16} {:>7} {:>6} {:>9} {:>9} {:>12} {:>11} {:>8} {:>9} {:>8}"


def format_describe_table(result: dict[str, Any]) -> str:
    lines = [
        f"n={result['n']} backend={result['backend']} k={result['k']} length={result['length']} "
        f"tone={result['tone']} median {result['median_seconds']:.3f} s/description",
        _ROW.format(
            "system",
            "ROUGE-L",
            "BLEU-4",
            "distinct1",
            "distinct2",
            "unsupported",
            "ungrounded",
            "nonword",
            "identical",
            "s/item",
        ),
    ]
    for s in SYSTEMS:
        m = result[s]
        lines.append(
            _ROW.format(
                s,
                f"{m['rouge_l']:.3f}",
                f"{m['bleu4']:.3f}",
                f"{m['distinct1']:.3f}",
                f"{m['distinct2']:.3f}",
                f"{m['unsupported_rate']:.3f}",
                f"{m['ungrounded_rate']:.3f}",
                f"{m['nonword_rate']:.2f}",
                f"{m['identical_rate']:.2f}",
                f"{m['seconds_per_item']:.3f}",
            )
        )
    if "controls" in result:
        lines.append("")
        lines.append(
            f"{'length/tone':<16} {'mean words':>10} {'in range':>9} {'below':>6} "
            f"{'changed':>8} {'ROUGE-L':>8}"
        )
        for name, c in result["controls"].items():
            lines.append(
                f"{name:<16} {c['mean_words']:>10.1f} {c['in_range']:>9.2f} "
                f"{c.get('below_range', 0.0):>6.2f} {c['changed_share']:>8.2f} {c['rouge_l']:>8.3f}"
            )
    return "\n".join(lines)
