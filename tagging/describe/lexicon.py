"""The words in a description that make a checkable claim: colour, material, gender,
article (what the product is), brand, and the catalogue's own details (sleeves, collar,
rise, pattern...: ``details``, mined from its descriptions).

Claim words are found case-insensitively and reduced to a canonical form (``gray`` ->
``grey``, ``tees`` -> ``t-shirt``), so a fact and a claim match however either was
spelled. Words with an everyday second meaning (``cream``, ``top``, ``belt`` as in belt
loops, ``heels`` on a sandal) are deliberately left out: a false alarm would delete a
true sentence.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from shelfsight.tagging.describe.details import DetailSlots, field_slot, mine_details

CATEGORIES = ("colour", "material", "gender", "article", "brand", "detail")

_COLOURS = """
black white grey gray silver charcoal blue navy turquoise teal aqua green olive khaki
yellow mustard gold golden orange red maroon burgundy pink magenta fuchsia purple violet
lavender lilac mauve brown beige camel copper bronze rust coral indigo multicolour
multicoloured multicolor multicolored off-white
"""
# A shade supports its family: a "navy" product may be called "blue", not the reverse.
COLOUR_FAMILY = {
    "navy": "blue",
    "turquoise": "blue",
    "teal": "blue",
    "aqua": "blue",
    "indigo": "blue",
    "olive": "green",
    "maroon": "red",
    "burgundy": "red",
    "rust": "orange",
    "magenta": "pink",
    "fuchsia": "pink",
    "coral": "pink",
    "lavender": "purple",
    "violet": "purple",
    "mauve": "purple",
    "charcoal": "grey",
    "silver": "grey",
    "mustard": "yellow",
    "off-white": "white",
    "camel": "brown",
}
_COLOUR_SYNONYMS = {
    "gray": "grey",
    "golden": "gold",
    "multicolor": "multicolour",
    "multicoloured": "multicolour",
    "multicolored": "multicolour",
    "lilac": "lavender",
}

_MATERIALS = """
cotton polyester leather denim silk wool woollen woolen linen nylon rayon viscose suede
canvas rubber velvet satin chiffon georgette crepe fleece cashmere acrylic spandex elastane
lycra modal jute khadi chambray corduroy tweed steel brass wooden plastic glass ceramic
synthetic textile mesh nubuck polycotton
"""
_MATERIAL_SYNONYMS = {"woolen": "wool", "woollen": "wool", "wooden": "wood"}

# word -> the gender groups it asserts
GENDER_WORDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ["men", "man", "mens", "men's", "male", "gents", "gentlemen", "his", "him", "he"],
        frozenset({"male"}),
    ),
    **dict.fromkeys(
        ["women", "woman", "womens", "women's", "ladies", "lady", "female", "she", "her", "hers"],
        frozenset({"female"}),
    ),
    **dict.fromkeys(["boy", "boys", "boys'"], frozenset({"boys"})),
    **dict.fromkeys(["girl", "girls", "girls'"], frozenset({"girls"})),
    **dict.fromkeys(["kid", "kids", "children", "child", "toddler"], frozenset({"kids"})),
    "unisex": frozenset({"unisex"}),
}
# A fact value of the gender family -> the groups it supports.
GENDER_FACTS: dict[str, frozenset[str]] = {
    "men": frozenset({"male"}),
    "women": frozenset({"female"}),
    "boys": frozenset({"boys", "kids", "male"}),
    "girls": frozenset({"girls", "kids", "female"}),
    "unisex": frozenset({"unisex", "male", "female"}),
    "unisex kids": frozenset({"unisex", "kids", "boys", "girls", "male", "female"}),
    "kids": frozenset({"kids", "boys", "girls", "male", "female"}),
}

# Product nouns; plural forms are derived. Each maps to a canonical article.
_ARTICLES = """
shirt t-shirt jeans trousers shorts skirt dress kurta kurti saree sari jacket blazer coat
sweater sweatshirt hoodie cardigan shoe sneaker sandal loafer slipper flip-flop sock handbag
backpack wallet sunglasses scarf stole dupatta leggings jeggings joggers bra briefs boxers
jumpsuit tunic lehenga earring necklace bracelet bangle pendant perfume deodorant lipstick
kajal curtain bedsheet cushion towel watch trackpants capris dungarees romper kurta-set
pants sweatpants tights stocking vest duffel clutch tote sling underwear innerwear lingerie
nightwear pyjamas swimwear nightdress
"""
_ARTICLE_SYNONYMS = {
    "tshirt": "t-shirt",
    "tee": "t-shirt",
    "sari": "saree",
    "trackpant": "trackpants",
    "scarfs": "scarf",
    "track-pants": "trackpants",
}
_NOT_PLURAL = {
    "jeans",
    "shorts",
    "trousers",
    "pants",
    "sweatpants",
    "trackpants",
    "tights",
    "leggings",
    "jeggings",
    "joggers",
    "sunglasses",
    "underwear",
    "innerwear",
    "nightwear",
    "swimwear",
    "pyjamas",
}

# Sold and worn in twos: said in the plural even of one product ("black casual shoes").
_PAIRS = {"shoe", "sneaker", "sandal", "loafer", "slipper", "flip-flop", "sock", "earring"}
_PAIRS |= {"flat", "heel", "boot", "glove", "cufflink", "stud", "stocking"}


# Plurals no suffix rule makes: "scarves" was said "scarve".
_IRREGULAR = {
    "scarf": "scarves",
    "knife": "knives",
    "shelf": "shelves",
    "accessory": "accessories",
}
_IRREGULAR_SINGULAR = {v: k for k, v in _IRREGULAR.items()}


# Canonical forms written as one word that a shopper writes as two.
_SPOKEN = {"trackpants": "track pants", "kurta-set": "kurta set"}


def as_said(canonical: str) -> str:
    """A product noun as a shopper says it of one product: "watch", but "shoes"."""
    return _SPOKEN.get(canonical, canonical) + ("s" if canonical in _PAIRS else "")


def plural(noun: str) -> str:
    """ "t-shirts", "watches", "dresses", "scarves"; a noun that is plural already stays."""
    if is_plural(noun):
        return noun
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    return noun + ("es" if noun.endswith(("ch", "sh", "x", "ss")) else "s")


def said_as_written(claim: Claim) -> str:
    """A product noun in the number its text wrote it, in one spelling: "Sweat Shirts" ->
    "sweatshirts", "T- Shirts" -> "t-shirts", "Track Pant" -> "track pants"."""
    said = as_said(claim.canonical)
    return plural(said) if is_plural(claim.text.split()[-1].lower()) else said


# Head nouns of titles that have an everyday second meaning ("tank top", "cream" the
# colour, "belt loops", "gift set"): as product nouns they would delete true clauses.
_AMBIGUOUS = """
top tops cream creams belt belts heel heels set sets pack packs combo kit kits pair pairs
piece pieces care wash oil gel mask cover covers base plus tone print design look
detail details detailing material plating each square flat flats shade frame runner
case ivory nude sleeve sleeves hem toe pocket suit chain tie valentine cup cups strap
straps handle handles short sports casual formal party gift gifts wear ethnic
"""
AMBIGUOUS_NOUNS = frozenset(_AMBIGUOUS.split())


def is_plural(noun: str) -> bool:
    """ "shoes", "jeans" (worn as a pair: plural only), not "dress"."""
    return noun in _NOT_PLURAL or singular(noun) != noun


def singular(noun: str) -> str:
    if noun in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[noun]
    if noun.endswith(("sses", "ches", "shes", "xes")):
        return noun[:-2]
    if noun.endswith("s") and not noun.endswith("ss") and noun not in _NOT_PLURAL:
        return noun[:-1]
    return noun


def _word_set(block: str) -> set[str]:
    return set(block.split())


def _with_plurals(
    words: Iterable[str], synonyms: dict[str, str], nouns: bool = False
) -> dict[str, str]:
    """Each word and its plural; ``nouns`` (products) also "dresses" of "dress" ("dresses"
    was no product noun), which a material must not get ("glasses" is not glass)."""
    forms: dict[str, str] = {}
    for w in words:
        canon = synonyms.get(w, w)
        forms[w] = canon
        if nouns or not w.endswith("s"):
            forms.setdefault(plural(w), canon)
    for w, canon in synonyms.items():
        forms.setdefault(w, canon)
        forms.setdefault(plural(w), canon)
    return forms


COLOUR_FORMS = _with_plurals(_word_set(_COLOURS), _COLOUR_SYNONYMS)
MATERIAL_FORMS = _with_plurals(_word_set(_MATERIALS), _MATERIAL_SYNONYMS)
ARTICLE_FORMS = _with_plurals(_word_set(_ARTICLES), _ARTICLE_SYNONYMS, nouns=True)
# Colour words are plurals only by accident ("blues" is fine); no "golds" needed, but harmless.

_COMPOUND_PARTS = ("colour", "material")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]")


@dataclass(frozen=True)
class Claim:
    category: str
    canonical: str
    text: str  # as written
    start: int
    end: int
    slot: str = ""  # a detail's slot ("sleeve" for "long")

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "category": self.category,
            "value": self.canonical,
            "text": self.text,
        }
        if self.slot:
            out["slot"] = self.slot
        return out


# Catalogue exports glue bullet points together ("lace-up detailSynthetic upper"): a
# lower-case letter followed by a capitalised word starts a new word.
GLUED = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")


def words(text: str) -> list[tuple[str, int, int]]:
    """(lower-cased word, start, end); hyphens and apostrophes stay inside words, glued
    bullet points come apart (a claim hidden in "detailSynthetic" is still a claim)."""
    out = []
    for m in _WORD.finditer(text):
        token, start = m.group(), m.start()
        # A word the lexicon knows whole is one word: "SweatShirt" in a title was a
        # "Shirt", and a sweatshirt was described as a shirt.
        glued = () if _canonical(token.lower()) else GLUED.finditer(token)
        cuts = [0, *(g.start() for g in glued), len(token)]
        for a, b in itertools.pairwise(cuts):
            out.append((token[a:b].lower(), start + a, start + b))
    return out


def one_piece(text: str) -> str:
    """Words the lexicon knows whole but written glued ("SweatShirt") in one piece
    ("Sweatshirt"), so that a text quoting a title is not cut at them as at a lost bullet
    break (``GLUED``)."""

    def piece(m: re.Match[str]) -> str:
        token = m.group()
        if GLUED.search(token) and _canonical(token.lower()):
            return token[:1] + token[1:].lower()
        return token

    return _WORD.sub(piece, text)


def _split_hyphenated(word: str, start: int) -> list[tuple[str, int, int]]:
    # "black-and-white", "navy-blue": a claim inside a compound still counts.
    parts, pos = [], start
    for piece in word.split("-"):
        if piece:
            parts.append((piece, pos, pos + len(piece)))
        pos += len(piece) + 1
    return parts


def _canonical(word: str) -> tuple[str, str] | None:
    for category, forms in (
        ("colour", COLOUR_FORMS),
        ("material", MATERIAL_FORMS),
        ("article", ARTICLE_FORMS),
    ):
        if word in forms:
            return category, forms[word]
    if word in GENDER_WORDS:
        return "gender", word
    return None


class Lexicon:
    """Finds claims; ``brands`` are matched as whole phrases in their written case."""

    def __init__(
        self,
        brands: Iterable[str] = (),
        articles: Iterable[str] = (),
        details: DetailSlots | None = None,
    ) -> None:
        """``articles``: the catalogue's own product nouns (its titles' head nouns, its
        article types) beyond the built-in list, so a description that calls a shirt a
        "kaftan" is caught in a catalogue that sells kaftans; ``details``: the slots and
        values its descriptions use (``details.mine_details``)."""
        self.details = details or DetailSlots()
        self.articles: dict[str, str] = {}
        brand_words = {w for b in brands for w, _, _ in words(str(b))}
        for a in articles:
            low = a.lower().strip()
            canon = singular(low)
            if (
                not low.isalpha()
                or len(canon) < 3
                or {low, canon} & AMBIGUOUS_NOUNS
                or low in brand_words
                or _canonical(low) is not None
            ):
                continue
            # Only the written form (and a singular's plural): "tights" must not make
            # "tight" a product noun.
            self.articles.setdefault(low, canon)
            if low == canon:
                self.articles.setdefault(low + "s", canon)
        self.brands: dict[str, str] = {}
        for b in brands:
            b = " ".join(str(b).split())
            low = b.lower()
            # A brand that is also a claim word or too short would fire on ordinary text.
            if len(low) < 3 or _canonical(low) is not None:
                continue
            self.brands[low] = b
        self._brand_re = (
            re.compile(
                r"(?<![\w&])("
                + "|".join(re.escape(b) for b in sorted(self.brands.values(), key=len)[::-1])
                + r")(?![\w&])"
            )
            if self.brands
            else None
        )

    def claims(self, text: str) -> list[Claim]:
        out: list[Claim] = []
        if self._brand_re is not None:
            for m in self._brand_re.finditer(text):
                out.append(Claim("brand", m.group().lower(), m.group(), m.start(), m.end()))
        taken = [(c.start, c.end) for c in out]
        toks = words(text)
        for start, end, canonical in self._compounds(text, toks, taken):
            out.append(Claim("article", canonical, text[start:end], start, end))
            taken.append((start, end))
        for word, start, end in toks:
            if any(s <= start < e for s, e in taken):
                continue
            pieces = [(word, start, end)]
            if "-" in word and _canonical(word) is None:
                pieces = _split_hyphenated(word, start)
            for piece, s, e in pieces:
                found = _canonical(piece)
                if found is None and piece in self.articles:
                    found = ("article", self.articles[piece])
                # Inside a compound only colours and materials claim anything:
                # "man-made" says nothing about gender.
                if found is not None and (len(pieces) == 1 or found[0] in _COMPOUND_PARTS):
                    out.append(Claim(found[0], found[1], text[s:e], s, e))
        if self.details:
            out.extend(self._detail_claims(text, [(c.start, c.end) for c in out]))
        return sorted(out, key=lambda c: c.start)

    def _compounds(
        self, text: str, toks: list[tuple[str, int, int]], taken: list[tuple[int, int]]
    ) -> Iterable[tuple[int, int, str]]:
        """Product nouns written as two of ``text``'s words (``toks``): "Flip Flops",
        "Track Pants", "Sweat Shirts", "T- Shirts" -> (start, end, canonical). Read a word
        at a time, a sample product was a "casual flop", a "sports pant", and a sweatshirt
        a "shirt" (258 titles of the fashion sample and Myntra's listings)."""
        i = 0
        while i + 1 < len(toks):
            (a, s, _), (b, t, e) = toks[i], toks[i + 1]
            canonical = self._article(a + b) or self._article(f"{a}-{b}")
            if (
                canonical
                and _COMPOUND_GAP.fullmatch(text[s + len(a) : t])
                and not any(x <= s < y or x <= t < y for x, y in taken)
            ):
                yield s, e, canonical
                i += 2
                continue
            i += 1

    def _article(self, word: str) -> str:
        """The canonical product noun ``word`` is, or ""."""
        return ARTICLE_FORMS.get(word) or self.articles.get(word, "")

    @classmethod
    def for_catalogue(
        cls, brands: Iterable[str], articles: Iterable[str], descriptions: Iterable[str]
    ) -> Lexicon:
        """The lexicon of a catalogue: its brands, its product nouns, and the details its
        descriptions state (none when it has no descriptions)."""
        lexicon = cls(brands, articles)
        # Brands are claimed as whole names before details are looked for; their words
        # alone ("Look", "Roadster") are not left out of the details.
        claim_words = {*COLOUR_FORMS, *MATERIAL_FORMS, *GENDER_WORDS}
        nouns = {*ARTICLE_FORMS, *lexicon.articles}
        lexicon.details = mine_details(descriptions, nouns, claim_words)
        return lexicon

    def is_product_noun(self, word: str) -> bool:
        return word in ARTICLE_FORMS or word in self.articles

    def _detail_claims(self, text: str, taken: list[tuple[int, int]]) -> list[Claim]:
        """A detail value in a clause about a slot ("long" in "long sleeves", "floral" in
        "Pattern: Floral") or about the product ("large" in "large trolley bag"). Without
        its slot noun or a product noun a clause is not a detail ("a long day")."""
        out = []
        d = self.details
        for m in _DETAIL_CLAUSE.finditer(text):
            # digits too: "has 5 pockets" is as much a claim as "has four pockets"
            toks = [
                (t.group().lower(), t.start(), t.end()) for t in _DETAIL_WORD.finditer(m.group())
            ]
            label = _LABEL.match(m.group())
            anchored = (label is not None and d.is_slot_noun(field_slot(label.group(1)))) or any(
                d.is_slot_noun(w) or self.is_product_noun(w) for w, _, _ in toks
            )
            if not anchored:
                continue
            names = [w for w, _, _ in toks]
            for w, s, e in toks:
                if label is not None and s < label.end():
                    continue  # the field's name ("Light blocking:"), not a value
                s, e = s + m.start(), e + m.start()
                if w not in d.value_slot or any(a <= s < b for a, b in taken):
                    continue
                slot = d.slot_of(w, names) or ""
                out.append(Claim("detail", w, text[s:e], s, e, slot))
        return out

    def canonical_values(self, text: str) -> dict[str, set[str]]:
        """Every claim value a text (facts, a neighbour's listing) mentions, per category."""
        values: dict[str, set[str]] = {c: set() for c in CATEGORIES}
        for c in self.claims(text):
            values[c.category].add(c.canonical)
        return values


# Between the two words of a product noun: a space, or a hyphen a title spaced ("T- Shirts").
_COMPOUND_GAP = re.compile(r"\s*-?\s*")
# A clause of a description (a glued bullet point starts one), and a "Field: value" label.
_DETAIL_CLAUSE = re.compile(r"[^,;.!?\n]+?(?=[,;.!?\n]|(?<=[a-z])(?=[A-Z][a-z])|$)")
_DETAIL_WORD = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_LABEL = re.compile(r"\s*([A-Za-z][A-Za-z /&-]{1,30}?)\s*:")


def detail_words(text: str) -> set[str]:
    """The words a text (the facts) says, as detail values are spelled: "Mid Rise" and
    "mid-rise" alike, and each part of a hyphenated word."""
    unglued = GLUED.sub(" ", text)  # "detailSynthetic": two words
    toks = [t.group().lower() for t in _DETAIL_WORD.finditer(unglued)]
    out = set(toks)
    for w in toks:
        out.update(w.split("-"))
    out.update(f"{a}-{b}" for a, b in itertools.pairwise(toks))
    return out


def gender_groups(words_or_values: Iterable[str]) -> set[str]:
    """Gender groups supported by fact values (``Men``, ``Unisex``) or claim words."""
    groups: set[str] = set()
    for w in words_or_values:
        low = w.lower().strip()
        if low in GENDER_FACTS:
            groups |= GENDER_FACTS[low]
        elif low in GENDER_WORDS:
            groups |= GENDER_WORDS[low]
    return groups


def claim_groups(claim: Claim) -> frozenset[str]:
    return GENDER_WORDS.get(claim.canonical, frozenset())


def catalogue_nouns(titles: Iterable[str], min_count: int = 3) -> list[str]:
    """The catalogue's product nouns: the last word of its titles ("... Casual Shirt"),
    kept where at least ``min_count`` titles end on it (a one-off is a model name)."""
    counts: dict[str, int] = {}
    written: dict[str, dict[str, int]] = {}  # singular -> its written forms, counted
    for title in titles:
        toks = words(title)
        if not toks:
            continue
        word, start, end = toks[-1]
        if title[start:end].isupper():  # a style code ("AUDF"), not a noun
            continue
        key = singular(word)
        counts[key] = counts.get(key, 0) + 1
        forms = written.setdefault(key, {})
        forms[word] = forms.get(word, 0) + 1
    # The commonest written form: "kaftan" (and so "kaftans"), but "tights" never "tight".
    return sorted(
        max(written[k], key=lambda w: (written[k][w], -len(w)))
        for k, n in counts.items()
        if n >= min_count
    )
