"""Clauses written from the facts alone: the scaffold where no neighbour has a description
(a catalogue of titles and tags, like the fashion sample), and the clauses that lengthen a
text once the neighbours' own clauses run out.

Every clause states one fact this product has (its colour, type, gender, brand, usage,
season, palette, a field the caller gave), so nothing here can be unsupported.
"""

from __future__ import annotations

import re

from shelfsight.tagging.describe.clauses import Clause
from shelfsight.tagging.describe.facts import Facts, colours_to_say
from shelfsight.tagging.describe.lexicon import (
    AMBIGUOUS_NOUNS,
    Claim,
    Lexicon,
    as_said,
    is_plural,
    one_piece,
    said_as_written,
    singular,
)

_TYPE_KEYS = ("articleType", "article_type", "type", "category", "subCategory")
# The broadest family, when none above is known: a photo whose type was too unsure to tag
# is still "apparel" or an "accessory" (it was described "Black Apparel Casual.", its tags
# in a row).
_BROAD_KEY = "masterCategory"
_USAGE = {"sports": "sportswear", "ethnic": "ethnic wear", "formal": "formal wear"}
_SKIP_EXTRA = {"price", "currency", "url", "sku", "year"}
# Families said by their own clause (or the head): never again as "season summer".
_OWN_FAMILIES = {"articletype", "article_type", "type", "category", "subcategory"}
_OWN_FAMILIES |= {"mastercategory", "usage", "season", "gender", "basecolour", "colour"}
_FIT = re.compile(r"\b([A-Za-z]+(?:-[A-Za-z]+)?)\s+Fit\b")
# The words this module writes itself (the vocabulary guard accepts them).
_OWN = (
    "for by made wear sportswear ethnic formal with touches of and a piece from unisex this "
    "these comes in fit sold item product"
)
COMPOSE_WORDS = frozenset(_OWN.split())


def _fact(facts: Facts, family: str) -> str:
    """A tag family's value, from the tags or (a catalogue product's record) its fields."""
    return (facts.tags.get(family) or facts.extra.get(family) or "").lower()


# "Kurta with Palazzos", "Kurta with Trousers & Dupatta": a set is its first piece.
_WITH = re.compile(r"\s+with\s+", re.I)


def head_noun(title: str, lexicon: Lexicon) -> Claim | None:
    """The title's product noun: its last, except that in a set ("Kurta with Palazzos")
    the pieces after "with" come with the product and are not it (a kurta set was called
    "Grey palazzos for women")."""
    claims = [c for c in lexicon.claims(title) if c.category == "article"]
    if not claims:
        return None
    first = _WITH.search(title)
    if first is not None and first.start() < claims[0].start:
        lead = title[: first.start()].split()
        # "Top with Dhoti Pants": the pieces are known, the product ("top", a word of other
        # meanings) is not. "Striped with Floral Detail Kurta" is still a kurta.
        if lead and lead[-1].lower() in AMBIGUOUS_NOUNS:
            return None
    cut = _WITH.search(title, claims[0].end)
    before = [c for c in claims if cut is None or c.end <= cut.start()]
    return (before or claims)[-1]


def set_pieces(title: str, lexicon: Lexicon) -> str:
    """What comes with the product, as the title says it ("palazzos", "trousers &
    dupatta"), when the title names it after "with" and it is products; else ""."""
    head = head_noun(title, lexicon)
    cut = _WITH.search(title, head.end) if head else None
    if head is None or cut is None or cut.start() != head.end:
        return ""
    rest = title[cut.end() :]
    pieces = [c for c in lexicon.claims(rest) if c.category == "article"]
    return rest.lower().strip() if pieces and pieces[-1].end == len(rest.rstrip()) else ""


# A title that counts its products ("Pack of 3 Socks", "Set of 2 Curtains") means its plural.
_COUNTED = re.compile(r"\b(?:pack|set|pair|combo)s?\s+of\b", re.I)


def _type_value(facts: Facts) -> str:
    for key in _TYPE_KEYS:
        if value := facts.tags.get(key) or facts.extra.get(key):
            return value
    return ""


def _is_type_label(head: Claim, facts: Facts, lexicon: Lexicon) -> bool:
    """Whether the title's product noun is the catalogue's type label ("... Purple
    Tshirts" with articleType Tshirts: a category's name, not a count of products)."""
    label = [c for c in lexicon.claims(_type_value(facts)) if c.category == "article"]
    return (
        bool(label) and label[-1].canonical == head.canonical and not _COUNTED.search(facts.title)
    )


def article_phrase(facts: Facts, lexicon: Lexicon) -> str:
    """What the product is, in words ("casual shirt", "t-shirt"): the title's product noun,
    else its article-type tag; one product in the singular unless it is a pair ("shoes").
    The sample's titles end on their type's label ("Puma Men Black Watches"), and a watch
    was "Black casual watches for men" from its record and "Black watch" from its photo."""
    head = head_noun(facts.title, lexicon)
    if head is not None:
        if _is_type_label(head, facts, lexicon):
            return as_said(head.canonical)
        # A compound in one spelling ("t-shirts", not "t- shirts"), else as the title has it.
        return said_as_written(head) if " " in head.text else head.text.lower()
    if value := _type_value(facts):
        found = [c for c in lexicon.claims(value) if c.category == "article"]
        # A label's product is its last word: "Shoe Accessories" are not shoes, and a
        # "Duffel Bag" is more than a duffel.
        if found and found[-1].end == len(value.rstrip()):
            return as_said(found[-1].canonical)
        said = [singular(w) for w in value.lower().split()]
        return " ".join([*said[:-1], as_said(said[-1])]) if said else ""
    if broad := _fact(facts, _BROAD_KEY).strip():
        # "apparel", "accessory", "footwear"; a name of more words is a kind of item
        # ("personal care item", not "black personal care").
        return singular(broad) if " " not in broad else f"{broad} item"
    return ""


def colour_phrase(facts: Facts) -> str:
    """The product's colours in words, as the title writes them where it names each one
    (``colours_to_say``): "navy blue" for a field's Blue; the title's where no colour was
    given (a listing of a title and a brand still has one)."""
    return " and ".join(c.lower() for c in colours_to_say(facts.colours, facts.title)[:2])


def gender_phrase(facts: Facts) -> str:
    g = facts.gender.strip().lower()
    return f"for {g}" if g and g != "unisex" else ("unisex" if g else "")


def head_clause(facts: Facts, lexicon: Lexicon, noun: str = "") -> str:
    """ "Navy blue casual shirt for men by Roadster", or the title when nothing else is
    known; ``noun`` says what the product is where neither the title nor a type does
    ("White casual product", not "White Casual")."""
    article = article_phrase(facts, lexicon) or ("" if facts.title else noun)
    if not article:
        return facts.title
    usage = _fact(facts, "usage")
    words = [colour_phrase(facts), usage if usage and usage not in article else "", article]
    if pieces := set_pieces(facts.title, lexicon):
        words.append(f"with {pieces}")
    head = " ".join(w for w in words if w)
    if g := gender_phrase(facts):
        head = f"{g} {head}" if g == "unisex" else f"{head} {g}"
    if facts.brand:
        head += f" by {facts.brand}"
    return head[:1].upper() + head[1:]


def summary_sentence(facts: Facts, lexicon: Lexicon, said: str = "") -> Clause | None:
    """ "This casual shirt for men is from Roadster, in navy blue": the facts restated as
    a sentence of their own, the last thing a longer text adds; None when the text
    (``said``) already names the brand, the gender and the colour."""
    article = article_phrase(facts, lexicon)
    if not article or not (facts.brand or facts.colours):
        return None
    low = said.lower()
    news = [
        facts.brand and facts.brand.lower() not in low,
        facts.gender and facts.gender.lower() not in low,
        facts.colours and colour_phrase(facts) not in low,
    ]
    if said and not any(news):
        return None
    claims = [c for c in lexicon.claims(article) if c.category == "article"]
    if claims:  # "tshirt" as the title writes it -> "t-shirt", "tshirts" -> "t-shirts"
        c = claims[-1]
        article = article[: c.start] + said_as_written(c) + article[c.end :]
    noun = article.split()[-1]
    plural = is_plural(noun)
    be = "are" if plural else "is"  # "These jeggings ... are from", not "is from"
    text = f"{'These' if plural else 'This'} {article}"
    if g := gender_phrase(facts):
        text += f" {g}" if g.startswith("for") else f" {be} unisex and"
    text += f" {be} from {facts.brand}" if facts.brand else (" come" if plural else " comes")
    if facts.colours:
        text += f"{',' if facts.brand else ''} in {colour_phrase(facts)}"
    return Clause(text.replace(f" and {be} ", " and "), sentence_start=True)


def listing_name(title: str, lexicon: Lexicon) -> str:
    """What the title calls the product, without its gender words ("Puma Women cat line
    tee Purple Tshirts" -> "Puma cat line tee Purple Tshirts"): a name, not who it is
    for. Its product noun and colours stay; cut out, the words left were adjectives of
    nothing ("Sold as the Manchester United Printed")."""
    name = title
    for c in reversed(lexicon.claims(title)):
        if c.category == "gender":
            name = name[: c.start] + name[c.end :]
    return one_piece(" ".join(name.split()))


# The name is said when it tells this many words the text does not: a title the head clause
# restates ("Ginger by Lifestyle Women Navy Blue Solid Skinny Fit Jeggings") gets none.
_NAME_NEWS = 2


def name_sentence(facts: Facts, lexicon: Lexicon, said: str = "") -> Clause | None:
    """ "Sold as the Puma cat line tee Purple Tshirts": the listing's own name for the
    product, which the head clause (colour, usage, kind, gender) leaves out: its brand and
    model where the catalogue has no brand column (the fashion sample), a range's name.
    Every word is the title's. Said only when it tells what neither the text nor the
    facts' summary sentence (brand, colours) will: a name that only repeats them was a
    third telling of "Flying Machine ... Pullover"."""
    name = listing_name(facts.title, lexicon)
    told = " ".join([said, facts.brand, *facts.colours])
    # Hyphens split here (not ``lexicon.words``): a text's "self-design" tells the
    # title's "Self Design".
    known = {w.lower() for w in re.findall(r"[\w']+", told)}
    news = [w for w in re.findall(r"[\w']+", name) if w.lower() not in known and len(w) > 2]
    if len(news) < _NAME_NEWS:
        return None
    return Clause(f"Sold as the {name}", sentence_start=True)


def fact_clauses(facts: Facts, lexicon: Lexicon | None = None, said: str = "") -> list[Clause]:
    """Short clauses, each one fact the text (``said``) does not state yet, for
    lengthening it (most telling first), then the facts' summary sentence."""
    out: list[str] = []
    low = said.lower()
    usage = _fact(facts, "usage")
    if usage and usage not in low:
        out.append(f"made for {_USAGE.get(usage, usage + ' wear')}")
    extra_colours = [p.lower() for p in facts.palette if p not in facts.colours][:2]
    if extra_colours:
        out.append("with touches of " + " and ".join(extra_colours))
    fit = _FIT.search(facts.title)
    if fit and "fit" not in low.split():
        out.append(f"in a {fit.group(1).lower()} fit")
    season = _fact(facts, "season")
    if season and season not in low:
        out.append(f"a {season} piece")
    for name, value in facts.extra.items():
        if name.lower() in _SKIP_EXTRA | _OWN_FAMILIES or len(value.split()) > 6:
            continue
        if value.lower() in said.lower():  # a confirmed detail the text already states
            continue
        low = name.lower()
        out.append(f"made of {value.lower()}" if low == "material" else f"{low} {value.lower()}")
    clauses = [Clause(t) for t in out]
    lexicon = lexicon or Lexicon()
    sentences = (name_sentence(facts, lexicon, said), summary_sentence(facts, lexicon, said))
    return [*clauses, *(s for s in sentences if s)]
