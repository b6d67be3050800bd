"""What a description may say about a product (its facts) and the neighbours' listings it
learns its style from.

Facts come from the caller (title, brand, price...), from confident tags, from the pixel
palette, shape and OCR. A neighbour is a catalogue listing: its title, its description
when the catalogue has one, else its tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shelfsight.indexer.catalogue import Product
from shelfsight.indexer.columns import CANDIDATES
from shelfsight.indexer.plain_text import plain_text
from shelfsight.tagging.describe.lexicon import COLOUR_FAMILY, COLOUR_FORMS, words
from shelfsight.tagging.search.visual import Neighbour

# Field names a caller may use for a fact (a form, a JSON body, a CSV row of the eval);
# a stored product's columns are the ones ingest recorded (``Catalogue.column``).
TITLE_KEYS = CANDIDATES["title"]
BRAND_KEYS = CANDIDATES["brand"]
GENDER_KEYS = ("gender", "Gender")
COLOUR_KEYS = CANDIDATES["colour"]
DESCRIPTION_KEYS = CANDIDATES["description"]
# Fields that are bookkeeping, not product facts.
_NOT_FACTS = {"id", "Product_ID", "Num_Images", "image", "image_path", "year"}
# A palette swatch this large is visible enough to name in a description.
MIN_SWATCH_SHARE = 0.25


# "Cream-Coloured", "Silver-Toned": a colour the lexicon leaves out (cream has a second
# meaning) is still the one the title names.
_NAMED_AS = ("coloured", "colored", "toned")


def title_colours(title: str) -> list[str]:
    """The colours a title names, as it writes them ("Grey", "Cream" of "Cream-Coloured");
    colour words side by side are one colour ("Navy Blue", not navy and blue)."""
    out: list[str] = []
    last_end = -2
    for word, start, end in words(title):
        written = title[start:end]
        if word in COLOUR_FORMS:
            if out and title[last_end:start] == " ":
                out[-1] = f"{out[-1]} {written}"
            else:
                out.append(written)
            last_end = end
            continue
        parts = written.split("-")
        if len(parts) > 1 and parts[-1].lower() in _NAMED_AS:
            out.append("-".join(parts[:-1]))
        elif len(parts) > 1:
            out.extend(p for p in parts if p.lower() in COLOUR_FORMS)
    return list(dict.fromkeys(out))


def _colour_keys(text: str) -> set[str]:
    keys = set()
    for word, _, _ in words(text):
        for piece in [word, *word.split("-")]:
            canon = COLOUR_FORMS.get(piece, piece)
            keys |= {canon, COLOUR_FAMILY.get(canon, canon)}
    return keys


def colours_the_title_allows(colours: list[str], title: str) -> list[str]:
    """``colours`` (a record's colour field, a photo's colour tag), or the title's own
    colours where the title names colours and none of ``colours``.

    A description said "in red" of a grey kurta because the record's colour field said
    Red: the Myntra export's Primary_Color was read out of the title's words ("Layered",
    "Cream-Coloured", "Underwired"), and 651 of its 10,491 listings carry a colour their
    own title contradicts (issue 28). What the title names is what the shopper reads
    beside the text."""
    named = title_colours(title)
    if not colours or not named:
        return colours
    allowed = _colour_keys(" ".join(named))
    title_words = {w for w, _, _ in words(title)}
    kept = [
        c
        for c in colours
        if _colour_keys(c) & allowed or all(w in title_words for w, _, _ in words(c))
    ]
    return kept or named


def colours_to_say(colours: list[str], title: str) -> list[str]:
    """The colours in the title's own words where it names every one of them ("navy
    blue" for a colour field of Blue, "orange and navy" for Navy: what the shopper reads
    beside the text), else ``colours``; the title's where no colours are given."""
    named = title_colours(title)
    if not colours or not named:
        return colours or named
    keys = _colour_keys(" ".join(named))
    return named if all(_colour_keys(c) & keys for c in colours) else colours


def _first(fields: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for k in keys:
        v = fields.get(k)
        if v not in (None, ""):
            return plain_text(v)
    return ""


@dataclass
class Facts:
    title: str = ""
    brand: str = ""
    gender: str = ""
    colours: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # family -> value (confident only)
    palette: list[str] = field(default_factory=list)
    shape: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # caller-supplied: price, material...

    def __post_init__(self) -> None:
        # One set of facts: whoever built them (a record, a form, a photo's tags merged
        # under a caller's title), a colour the title contradicts is not stated.
        self.colours = colours_the_title_allows(self.colours, self.title)

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Facts:
        """Facts from listing fields (a CSV row, a JSON body): title, brand, gender, colour."""
        known = set(TITLE_KEYS + BRAND_KEYS + GENDER_KEYS + COLOUR_KEYS + DESCRIPTION_KEYS)
        colour = _first(fields, COLOUR_KEYS)
        return cls(
            title=_first(fields, TITLE_KEYS),
            brand=_first(fields, BRAND_KEYS),
            gender=_first(fields, GENDER_KEYS),
            colours=[colour] if colour else [],
            extra={
                str(k): plain_text(v)
                for k, v in fields.items()
                if k not in known and k not in _NOT_FACTS and v not in (None, "")
            },
        )

    def merge(self, other: Facts) -> Facts:
        """``other`` (what the caller said) wins over what was inferred here."""
        return Facts(
            title=other.title or self.title,
            brand=other.brand or self.brand,
            gender=other.gender or self.gender,
            colours=list(dict.fromkeys(other.colours or self.colours)),
            tags={**self.tags, **other.tags},
            palette=other.palette or self.palette,
            shape={**self.shape, **other.shape},
            extra={
                k: v
                for k, v in {**self.extra, **other.extra}.items()
                if k not in self.tags and k not in other.tags  # stated once, as a tag
            },
        )

    def lines(self) -> list[str]:
        """The facts as the prompt states them, most specific first."""
        out = []
        if self.title:
            out.append(f"Product: {self.title}")
        if self.brand:
            out.append(f"Brand: {self.brand}")
        if self.gender:
            out.append(f"Gender: {self.gender}")
        if self.colours:
            out.append(f"Colour: {', '.join(self.colours)}")
        for family, value in self.tags.items():
            out.append(f"{family}: {value}")
        if self.palette:
            out.append(f"Visible colours: {', '.join(self.palette)}")
        for name, value in self.shape.items():
            out.append(f"{name}: {value}")
        for name, value in self.extra.items():
            out.append(f"{name}: {value}")
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "brand": self.brand,
            "gender": self.gender,
            "colours": self.colours,
            "tags": self.tags,
            "palette": self.palette,
            "shape": self.shape,
            "extra": self.extra,
        }


@dataclass
class Listing:
    """A neighbour as the describer sees it."""

    id: str
    title: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    brand: str = ""
    distance: float | None = None

    def facts_text(self) -> str:
        lines = [f"Product: {self.title}"] if self.title else []
        if self.brand:
            lines.append(f"Brand: {self.brand}")
        lines.extend(f"{k}: {v}" for k, v in self.tags.items())
        return "\n".join(lines)

    def text(self) -> str:
        """Everything the listing says, for counting what most neighbours agree on."""
        return "\n".join(t for t in (self.facts_text(), self.description) if t)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "tags": self.tags,
            "distance": self.distance,
        }


def listing_from_product(
    product: Product, distance: float | None = None, roles: Mapping[str, str | None] | None = None
) -> Listing:
    """A stored product as a neighbour listing; ``roles`` names its description and brand
    columns (``Catalogue.column``)."""
    roles = roles or {}
    description, brand = roles.get("description"), roles.get("brand")
    return Listing(
        id=product.id,
        title=plain_text(product.title),
        description=_first(product.fields, (description,)) if description else "",
        tags=dict(product.tags),
        brand=_first(product.fields, (brand,)) if brand else "",
        distance=distance,
    )


def facts_of_product(product: Product, roles: Mapping[str, str | None]) -> Facts:
    """What the catalogue's own record says about a product: its title, its brand and
    colour from the recorded columns, its other tags and fields."""
    values = {**product.fields, **product.tags}
    named: dict[str, Any] = {"title": product.title}
    for role in ("brand", "colour"):
        column = roles.get(role)
        if column and values.get(column) not in (None, ""):
            named[role] = values[column]
    columns = {c for c in roles.values() if c}
    rest = {k: v for k, v in values.items() if k not in columns and k not in named}
    facts = Facts.from_fields({**rest, **named})
    # The record's tag families are tags, so that merged over a photo's predicted tags they
    # replace them: as loose fields they were dropped as "already a tag" and a white skirt
    # (10000) was described from its neighbours' Topwear / Tshirts / Sports (issue 28).
    for family in product.tags:
        if family in facts.extra:
            facts.tags[family] = facts.extra.pop(family)
    return facts


def listings_from_neighbours(
    neighbours: list[Neighbour],
    products: Mapping[int, Product],
    roles: Mapping[str, str | None] | None = None,
) -> list[Listing]:
    out = []
    for n in neighbours:
        p = products.get(n.key) if n.key is not None else None
        if p is not None:
            out.append(listing_from_product(p, n.distance, roles))
        else:
            out.append(Listing(n.id, n.title, tags=dict(n.tags), distance=n.distance))
    return out


def facts_from_tagging(
    tags: Mapping[str, Any],
    palette_swatches: list[tuple[str, float]] | None = None,
    shape_tags: Mapping[str, str] | None = None,
    ocr_brand: str | None = None,
    min_confidence: float = 0.5,
) -> Facts:
    """Facts from a tagging result: only tags the model is confident about are stated.

    ``tags`` maps family -> an object with ``value`` and ``score`` (a ``TagScore``).
    """
    confident = {
        fam: str(t.value)
        for fam, t in tags.items()
        if t.score >= min_confidence and getattr(t, "source", "") not in ("shape", "colour", "ocr")
    }
    facts = Facts(tags={k: v for k, v in confident.items() if k.lower() not in ("gender",)})
    for fam in list(facts.tags):
        if fam in COLOUR_KEYS:
            facts.colours.append(facts.tags.pop(fam))
    gender = next((v for k, v in confident.items() if k.lower() == "gender"), "")
    facts.gender = gender
    # One colour per product: the colour family's tag, which the page shows. A palette
    # beside a colour tag too unsure to state would name another colour than the tag
    # card (a handbag's card said Black, its description Brown): stated only beside a
    # confident colour tag, or where the catalogue has no colour family.
    colour_tags = [t for f, t in tags.items() if f in COLOUR_KEYS]
    if not colour_tags or facts.colours:
        facts.palette = [
            name for name, share in palette_swatches or [] if share >= MIN_SWATCH_SHARE
        ]
    facts.shape = dict(shape_tags or {})
    if ocr_brand:
        facts.brand = ocr_brand
    return facts
