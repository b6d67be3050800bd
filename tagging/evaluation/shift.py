"""Query sets unlike the catalogue, for `shelfsight eval tagging --shift`.

A random split of one catalogue flatters a tagger: its queries have the catalogue's mix
of products, and every type they carry is well represented. A merchant's new products do
not (another season, another mix, types never sold before). Each mode here builds a
(catalogue rows, query rows) pair that shows one such shift, plus named query groups to
report apart:

- ``random``: the stratified random split (group ``all``).
- ``balanced[:F[:v=w,...]]``: the random split's catalogue, with its queries re-sampled
  to a uniform mix over family F (or the given shares), so rare values weigh as much as
  common ones (group ``all``).
- ``unseen:F:N``: N values of F (each with at least ``MIN_UNSEEN_ROWS`` rows) are held
  out of the catalogue entirely and all their products become queries (group
  ``unseen``), beside a random split of the rest (group ``seen``).
- ``rare[:F[:M]]``: values of F with at most M rows (default 10) give half their rows
  as queries (group ``rare``), beside a random split of the common values (``common``).
- ``after:C:V``: time order. Rows whose column C (any column: ``year``) is at least V
  (compared as numbers when both are) are the queries, the earlier ones the catalogue
  (group ``all``): next season's products against this season's catalogue.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split

from shelfsight.indexer.ingest import Row, _as_text

SHIFT_KINDS = ("random", "balanced", "unseen", "rare", "after")
MIN_UNSEEN_ROWS = 5
DEFAULT_RARE_MAX = 10


# A family with more distinct values than this share of rows is id-like: no use to stratify.
_MAX_STRATIFY_CARDINALITY = 0.2


def choose_stratify_family(rows: Sequence[Row], families: Sequence[str]) -> str | None:
    """The family with the most values (rarest classes) that still splits sensibly."""
    best: tuple[int, str] | None = None
    for fam in families:
        values = [_as_text(r.values.get(fam)) for r in rows]
        distinct = len(set(values))
        if 2 <= distinct <= max(2, _MAX_STRATIFY_CARDINALITY * len(rows)) and (
            best is None or distinct > best[0]
        ):
            best = (distinct, fam)
    return best[1] if best else None


def stratified_split(
    rows: Sequence[Row], family: str | None, fraction: float, seed: int
) -> tuple[list[Row], list[Row]]:
    if not 0.0 < fraction < 1.0:
        raise ValueError("--holdout-fraction must be between 0 and 1")
    labels = None
    if family is not None:
        raw = [_as_text(r.values.get(family)) or "<none>" for r in rows]
        counts = Counter(raw)
        # Classes with one member cannot be on both sides: pool them.
        labels = [v if counts[v] >= 2 else "<rare>" for v in raw]
        if Counter(labels)["<rare>"] == 1:
            top = counts.most_common(1)[0][0]
            labels = [top if v == "<rare>" else v for v in labels]
    idx = np.arange(len(rows))
    cat_idx, q_idx = train_test_split(idx, test_size=fraction, random_state=seed, stratify=labels)
    return [rows[i] for i in sorted(cat_idx)], [rows[i] for i in sorted(q_idx)]


@dataclass(frozen=True)
class Shift:
    kind: str = "random"
    family: str | None = None  # None: the split's stratify family
    count: int | None = None  # unseen: values held out; rare: max rows of a rare value
    since: str | None = None  # after: the first value of the column that is a query
    mix: tuple[tuple[str, float], ...] | None = None  # balanced: target shares

    @property
    def label(self) -> str:
        parts = [self.kind]
        if self.family:
            parts.append(self.family)
        if self.count is not None:
            parts.append(str(self.count))
        if self.mix:
            parts.append(",".join(f"{v}={w:g}" for v, w in self.mix))
        if self.since is not None:
            parts.append(self.since)
        return ":".join(parts)


def parse_shift(spec: str) -> Shift:
    """``random``, ``balanced[:F[:v=w,...]]``, ``unseen:F:N``, ``rare[:F[:M]]``,
    ``after:C:V``."""
    kind, _, rest = spec.strip().partition(":")
    if kind not in SHIFT_KINDS:
        raise ValueError(f"unknown shift {kind!r}; choose from {', '.join(SHIFT_KINDS)}")
    parts = rest.split(":", 1) if rest else []
    family = parts[0] or None if parts else None
    arg = parts[1] if len(parts) > 1 else None
    if kind == "random":
        if rest:
            raise ValueError("--shift random takes no arguments")
        return Shift()
    if kind == "after":
        if family is None or not arg:
            raise ValueError("--shift after needs a column and a first value: after:year:2015")
        return Shift("after", family, since=arg)
    if kind == "balanced":
        if arg is None:
            return Shift("balanced", family)
        mix = []
        for item in arg.split(","):
            value, sep, weight = item.rpartition("=")
            try:
                share = float(weight)
            except ValueError:
                share = -1.0
            if not sep or not value or share <= 0:
                raise ValueError(f"balanced mix item {item!r} is not value=share (share > 0)")
            mix.append((value, share))
        total = sum(w for _, w in mix)
        return Shift("balanced", family, mix=tuple((v, w / total) for v, w in mix))
    try:
        count = int(arg) if arg is not None else None
    except ValueError:
        raise ValueError(f"--shift {spec!r}: {arg!r} is not a whole number") from None
    if kind == "unseen":
        if family is None or count is None or count < 1:
            raise ValueError("--shift unseen needs a family and a count: unseen:articleType:10")
        return Shift("unseen", family, count)
    if count is not None and count < 2:
        raise ValueError("--shift rare:F:M needs M >= 2 (a value must be on both sides)")
    return Shift("rare", family, count if count is not None else DEFAULT_RARE_MAX)


@dataclass
class ShiftedSplit:
    catalog: list[Row]
    queries: list[Row]
    groups: dict[str, list[int]]  # group name -> indices into queries
    family: str | None  # the family the shift is over
    held_out_values: list[str] = field(default_factory=list)


def _not_before(value: object, since: str) -> bool:
    text = _as_text(value)
    try:
        return float(text) >= float(since)
    except ValueError:
        return text >= since


def _by_value(rows: Sequence[Row], family: str) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        out[_as_text(r.values.get(family)) or "<none>"].append(r)
    return out


def apply_shift(
    rows: Sequence[Row],
    shift: Shift,
    stratify_family: str | None,
    holdout_fraction: float,
    seed: int,
) -> ShiftedSplit:
    """Catalogue and query rows for ``shift``; the random part uses ``stratified_split``."""
    family = shift.family or stratify_family
    if shift.kind == "after" and shift.family and shift.since is not None:
        later = [_not_before(r.values.get(shift.family), shift.since) for r in rows]
        cat = [r for r, q in zip(rows, later, strict=True) if not q]
        queries = [r for r, q in zip(rows, later, strict=True) if q]
        if not cat or not queries:
            raise ValueError(f"--shift {shift.label} leaves no catalogue or no queries")
        return ShiftedSplit(cat, queries, {"all": list(range(len(queries)))}, shift.family)
    if shift.kind == "random":
        cat, q = stratified_split(rows, stratify_family, holdout_fraction, seed)
        return ShiftedSplit(cat, q, {"all": list(range(len(q)))}, stratify_family)
    if family is None:
        raise ValueError(f"--shift {shift.kind} needs a family (e.g. {shift.kind}:articleType)")
    if not any(family in r.values for r in rows):
        raise ValueError(f"--shift {shift.label}: no column {family!r}")
    rng = random.Random(seed)
    if shift.kind == "balanced":
        cat, pool = stratified_split(rows, stratify_family, holdout_fraction, seed)
        q = _resample(pool, family, shift.mix, rng)
        return ShiftedSplit(cat, q, {"all": list(range(len(q)))}, family)
    groups = _by_value(rows, family)
    if shift.kind == "unseen":
        candidates = sorted(v for v, rs in groups.items() if len(rs) >= MIN_UNSEEN_ROWS)
        assert shift.count is not None
        if len(candidates) <= shift.count:
            raise ValueError(
                f"--shift {shift.label}: only {len(candidates)} values of {family} have "
                f"{MIN_UNSEEN_ROWS}+ rows; hold out fewer"
            )
        held = sorted(rng.sample(candidates, shift.count))
        unseen = [r for v in held for r in groups[v]]
        rest = [r for v, rs in groups.items() if v not in held for r in rs]
        cat, seen = stratified_split(rest, stratify_family, holdout_fraction, seed)
        q = seen + unseen
        return ShiftedSplit(
            cat,
            q,
            {"seen": list(range(len(seen))), "unseen": list(range(len(seen), len(q)))},
            family,
            held,
        )
    # rare
    assert shift.count is not None
    rare_cat: list[Row] = []
    rare_q: list[Row] = []
    common: list[Row] = []
    for value in sorted(groups):
        rs = groups[value]
        if 2 <= len(rs) <= shift.count:
            picked = rng.sample(rs, len(rs) // 2)
            rare_q += picked
            rare_cat += [r for r in rs if r not in picked]
        elif len(rs) == 1:
            rare_cat += rs  # cannot be on both sides: it stays a catalogue example
        else:
            common += rs
    if not rare_q:
        raise ValueError(f"--shift {shift.label}: no value of {family} has 2-{shift.count} rows")
    cat, common_q = stratified_split(common, stratify_family, holdout_fraction, seed)
    q = common_q + rare_q
    return ShiftedSplit(
        cat + rare_cat,
        q,
        {"common": list(range(len(common_q))), "rare": list(range(len(common_q), len(q)))},
        family,
    )


def _resample(
    pool: Sequence[Row],
    family: str,
    mix: tuple[tuple[str, float], ...] | None,
    rng: random.Random,
) -> list[Row]:
    """Rows of ``pool`` drawn (without replacement) towards ``mix`` over ``family``.

    Uniform when no mix is given, as far as the rows allow: each value gets up to
    ceil(pool / values) rows and a value with fewer gives all it has. A given mix is met
    exactly, on the largest query set the rows can give."""
    groups = _by_value(pool, family)
    if mix is None:
        quota = math.ceil(len(pool) / max(1, len(groups)))
        targets = {v: quota for v in groups}
    else:
        unknown = [v for v, _ in mix if v not in groups]
        if unknown:
            raise ValueError(f"balanced mix names values no query has: {', '.join(unknown)}")
        # The largest query set with exactly these shares that the rows can give.
        total = min(len(pool), *(len(groups[v]) / w for v, w in mix))
        targets = {v: max(1, math.floor(w * total)) for v, w in mix}
    out: list[Row] = []
    for value in sorted(targets):
        rs = groups[value]
        out += rng.sample(rs, min(len(rs), targets[value]))
    return sorted(out, key=lambda r: r.number)
