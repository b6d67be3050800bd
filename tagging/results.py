"""What Shelfsight answers, as the Python API, the CLI's ``--json`` and the HTTP API all
return it: ``TagResult``, ``SimilarResult`` and (in ``tagging.describe.writer``)
``Description``.

These are plain dataclasses with JSON-ready fields (numbers rounded the way they are
shown), so Litestar serialises them as they are and ``/schema`` documents every field.
The pipeline's working types (``TagScore``, ``Palette``, ...) stay internal; the
``from_*`` constructors are the one place they turn into answers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shelfsight.core.errors import Skip
from shelfsight.indexer.catalogue import Product
from shelfsight.tagging.pixels.ocr import BrandMatch, OcrResult, TextLine
from shelfsight.tagging.pixels.shape import ShapeResult
from shelfsight.tagging.search.visual import Neighbour

if TYPE_CHECKING:  # the palette's module loads scikit-learn and scikit-image
    from shelfsight.tagging.pixels.colour import Palette


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


class _Json:
    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


def on_score_scale(
    alternatives: list[tuple[str, float]], raw_top: float | None, score: float
) -> list[tuple[str, float]]:
    """Runner-ups (raw votes) on the chosen value's scale, so the best value always has the
    highest score: "Shirts 0.05 (Shorts 0.25)" read as the wrong pick (issue 28). Each is
    scaled like the chosen value (``score / raw_top``), and never above its share of what
    the chosen value leaves (``1 - score``), so the scores stay a distribution."""
    if not raw_top or raw_top <= 0:
        return [(v, min(s, score)) for v, s in alternatives]
    rest = max(1.0 - raw_top, 1e-9)
    return [
        (v, round(min(s * score / raw_top, (1.0 - score) * s / rest), 4)) for v, s in alternatives
    ]


@dataclass
class TagScore:
    """One family's value as the vote (and what fused with it) scored it."""

    family: str
    value: str
    score: float
    source: str = "knn"
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    review: bool = False  # below the family's auto-accept threshold: a person should check
    raw_score: float | None = None  # the vote before calibration, when calibrated
    evidence: list[str] | None = None  # the listing's words that decided it, when read
    new_value: bool = False  # a kind the words name and no catalogue value covers
    # The score under which this tag goes to review, as the fit that scored it set it
    # (None: no fitted rule); ``held``: sent to review whatever its score (out of domain,
    # atypical, photo and words contradicting, a new kind). Thresholds learnt from the
    # merchant's decisions (``neighbour_tags.outcomes``) move the first, never the second.
    threshold: float | None = None
    held: bool = False
    audit: float = 0.0  # sent to review as a spot check, drawn at this share (0: not one)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": self.value,
            "score": round(self.score, 4),
            "source": self.source,
            "review": self.review,
            "alternatives": [{"value": v, "score": round(s, 4)} for v, s in self.alternatives],
        }
        if self.raw_score is not None:
            out["raw_score"] = round(self.raw_score, 4)
        return out


@dataclass
class Alternative(_Json):
    value: str
    score: float


@dataclass
class Tag(_Json):
    """One family's answer. ``source`` says where it came from: ``knn`` (the neighbours'
    vote), ``+head`` (the hybrid's classifier), ``+colour`` (the photo's pixels),
    ``colour``/``shape``/``ocr`` (measured on the photo alone)."""

    value: str
    score: float
    source: str
    review: bool = False  # below the family's auto-accept threshold: a person should check
    alternatives: list[Alternative] = field(default_factory=list)
    raw_score: float | None = None  # the neighbours' vote before calibration
    # The listing's words that decided it (``text`` in ``source``): {"text": ["Men"]}.
    evidence: dict[str, list[str]] | None = None
    new_value: bool = False  # proposed from the words: no catalogue value covers it
    # The score under which it goes to review (the catalogue's fit, moved by what the
    # merchant's decisions taught); ``held``: in review whatever its score.
    threshold: float | None = None
    held: bool = False
    # Sent to review as a spot check (above its threshold: how right the accepted tags
    # are is measured on these), drawn at this share of such tags; 0: not one.
    audit: float = 0.0

    @classmethod
    def from_score(cls, t: TagScore) -> Tag:
        return cls(
            value=t.value,
            score=round(t.score, 4),
            source=t.source,
            review=t.review,
            alternatives=[Alternative(v, round(s, 4)) for v, s in t.alternatives],
            raw_score=_r(t.raw_score),
            evidence={"text": t.evidence} if t.evidence is not None else None,
            new_value=t.new_value,
            threshold=_r(t.threshold, 6),
            held=t.held,
            audit=t.audit,
        )


@dataclass
class SimilarProduct(_Json):
    """A catalogue product near the query; ``weight`` is its share of the tag vote."""

    id: str
    title: str
    distance: float
    weight: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)
    thumbnail: str | None = None  # set by the HTTP API: where the page fetches it

    @classmethod
    def from_neighbour(cls, n: Neighbour) -> SimilarProduct:
        return cls(n.id, n.title, round(float(n.distance), 4), round(float(n.weight), 4), n.tags)


@dataclass
class Match(_Json):
    """How the photo relates to the catalogue as a whole."""

    out_of_domain: bool  # farther from every product than the catalogue's own 99th pct
    nearest_distance: float | None
    duplicate_of: str | None  # a product with the same image bytes or a near-copy of it
    ood_threshold: float | None = None


@dataclass
class Swatch(_Json):
    name: str
    hex: str
    share: float


@dataclass
class Colours(_Json):
    """The photo's palette (K-Means on the product's pixels), biggest share first."""

    palette: list[Swatch]
    foreground: str  # how the product was separated from its backdrop
    foreground_share: float
    skin_share: float = 0.0  # share of the product's pixels left out as a model's skin

    @classmethod
    def from_palette(cls, p: Palette) -> Colours:
        swatches = [Swatch(s.name, s.hex, round(s.share, 4)) for s in p.swatches]
        return cls(swatches, p.foreground, round(p.foreground_share, 4), round(p.skin_share, 4))


@dataclass
class QueryInfo(_Json):
    k: int
    model: str
    product_id: str | None = None  # when the query was a catalogue product


@dataclass
class TagResult(_Json):
    """Every tag in one map (``tags["articleType"].value``), with the palette, shape, text,
    the neighbours that voted and how the photo relates to the catalogue (``match``)."""

    query: QueryInfo
    tags: dict[str, Tag]
    match: Match | None = None
    colour: Colours | None = None
    shape: ShapeResult | None = None
    ocr: OcrResult | None = None
    neighbours: list[SimilarProduct] = field(default_factory=list)
    review_item: int | None = None  # kept in the review inbox as this item (``keep``)


@dataclass
class BatchItem(_Json):
    """One photo of a batch: its tags, or why it was skipped (the rest went ahead)."""

    name: str  # the file's stem, the CSV row's id, or the upload's file name
    path: str | None = None
    result: TagResult | None = None
    skipped: Skip | None = None
    words: str | None = None  # the listing's words it was tagged with, when a table named them


@dataclass
class BatchResult(_Json):
    items: list[BatchItem]
    tagged: int
    skipped: int
    # The CSV header `tag-batch` writes for this workspace: the page's download uses it.
    columns: list[str] = field(default_factory=list)


@dataclass
class SimilarResult(_Json):
    query: str  # the product id, or "upload" / "image" for a photo
    where: dict[str, list[str]]
    results: list[SimilarProduct]
    ignored: list[str] = field(default_factory=list)  # words of ``text`` naming no tag


def rounded_match(m: Match | None) -> Match | None:
    if m is None:
        return None
    return Match(m.out_of_domain, _r(m.nearest_distance), m.duplicate_of, _r(m.ood_threshold))


def rounded_shape(s: ShapeResult | None) -> ShapeResult | None:
    if s is None:
        return None
    return ShapeResult(dict(s.tags), {k: round(float(v), 4) for k, v in s.measures.items()})


def rounded_ocr(o: OcrResult | None) -> OcrResult | None:
    if o is None:
        return None
    lines = [TextLine(ln.text, round(float(ln.confidence), 3), ln.box) for ln in o.lines]
    brand = (
        BrandMatch(o.brand.brand, round(o.brand.score, 1), o.brand.evidence) if o.brand else None
    )
    return OcrResult(lines, brand, round(o.seconds, 3), o.timed_out)


@dataclass
class ProductInfo(_Json):
    """A catalogue product as the API shows it; ``image``/``thumbnail`` are the HTTP API's
    URLs for its photo (``None`` from Python, where ``Shelfsight.product`` has the path)."""

    id: str
    title: str
    tags: dict[str, str]
    fields: dict[str, Any]
    image: str | None = None
    thumbnail: str | None = None
    # every photo of the product (the first is ``image``), as API URLs; GET /products/{id}
    photos: list[str] = field(default_factory=list)
    rank: float | None = None  # text search: BM25 of the keyword match (lower is better)
    score: float | None = None  # semantic: cosine similarity; hybrid: the fused score

    @classmethod
    def from_product(
        cls, p: Product, rank: float | None = None, score: float | None = None
    ) -> ProductInfo:
        return cls(p.id, p.title, dict(p.tags), dict(p.fields), rank=rank, score=score)


@dataclass
class SearchResult(_Json):
    query: str
    where: dict[str, list[str]]
    results: list[ProductInfo]
    mode: str = "keyword"  # keyword, semantic or hybrid
    # Products holding any of the query's words (counted up to 10,000), 0: nothing
    # matched, and what ``results`` shows is only the closest in meaning (or nothing).
    total: int = 0
    # Each tag family's values counted over every matching product, not only this page.
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
