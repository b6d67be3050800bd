"""One call for a product photo: KNN tags (+ hybrid heads), colour, shape and OCR.

Every tag carries its provenance (``source``) and a confidence, so the CLI, the HTTP
service and the evaluation all read the same result.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from shelfsight.core.errors import BadInput, NotIndexed
from shelfsight.indexer.images import DecodedImage
from shelfsight.tagging.neighbour_tags.calibration import (
    DUPLICATE_DISTANCE,
    Calibration,
    load_calibration,
)
from shelfsight.tagging.neighbour_tags.colour_fit import load_colour_model
from shelfsight.tagging.neighbour_tags.defaults import (
    ATTRIBUTES,
    DEFAULT_ATTRIBUTES,
    DEFAULT_PIXEL_WEIGHT,
)
from shelfsight.tagging.neighbour_tags.knn import (
    DEFAULT_ALPHA,
    DEFAULT_POWER,
    Neighbour,
    TagScore,
    best_tags,
)
from shelfsight.tagging.neighbour_tags.outcomes import META as OUTCOMES_META
from shelfsight.tagging.neighbour_tags.outcomes import Outcomes
from shelfsight.tagging.neighbour_tags.scoring import combined_scores
from shelfsight.tagging.pixels.colour import (
    Palette,
    colour_family,
    palette,
)
from shelfsight.tagging.pixels.colour_model import ColourModel, Weight, weight_at
from shelfsight.tagging.pixels.foreground import segment
from shelfsight.tagging.pixels.ocr import BrandMatcher, OcrResult, brand_lexicon, read_text
from shelfsight.tagging.pixels.shape import ShapeResult, describe_shape
from shelfsight.tagging.results import (
    Colours,
    Match,
    QueryInfo,
    SimilarProduct,
    Tag,
    TagResult,
    rounded_match,
    rounded_ocr,
    rounded_shape,
)
from shelfsight.tagging.search.visual import NeighbourSearch, Query, nearest_distance
from shelfsight.tagging.text_tags.apply import from_words, with_words
from shelfsight.tagging.text_tags.fusion import TextTags

log = logging.getLogger(__name__)
# How far shape tags can be trusted depends on how the product was cut out.
SHAPE_CONFIDENCE = {"border": 0.9, "grabcut": 0.6, "whole": 0.2}


class UnknownAttributes(BadInput):
    error = "bad attributes"


@dataclass
class PipelineOptions:
    k: int = 10
    power: float = DEFAULT_POWER
    alpha: float = DEFAULT_ALPHA
    # The photo's colour against the neighbours' vote; None: the weight `index` fitted
    # with the catalogue's colour model (DEFAULT_PIXEL_WEIGHT without one).
    pixel_weight: float | None = None
    attributes: tuple[str, ...] = DEFAULT_ATTRIBUTES
    colour_column: str | None = None
    ocr_timeout: float = 20.0
    min_score: float = 0.0
    # One auto-accept threshold for every family instead of the fitted ones (None).
    review_threshold: float | None = None

    def __post_init__(self) -> None:
        # Checked before any image is decoded or embedded: a typo costs nothing.
        unknown = set(self.attributes) - set(ATTRIBUTES)
        if unknown:
            raise UnknownAttributes(
                f"unknown attributes {sorted(unknown)}; choose from {ATTRIBUTES}"
            )
        if self.k < 1:
            raise BadInput(f"k must be at least 1, not {self.k}")


class TagChanges(TypedDict, total=False):
    """``PipelineOptions``' fields as keyword arguments (``Shelfsight.tag(img, k=5)``);
    ``attributes`` may also be a comma-separated string."""

    k: int
    power: float
    alpha: float
    pixel_weight: float | None
    attributes: str | Sequence[str]
    colour_column: str | None
    ocr_timeout: float
    min_score: float
    review_threshold: float | None


def pipeline_options(
    base: PipelineOptions | None, changes: Mapping[str, Any] | None = None
) -> PipelineOptions:
    """``base`` (else the defaults) with ``changes`` applied, checked: an unknown option,
    attribute or a k below 1 is ``BadInput`` before any photo is read."""
    changes = dict(changes or {})
    if isinstance(changes.get("attributes"), str):
        attrs = changes["attributes"].split(",")
        changes["attributes"] = tuple(a.strip() for a in attrs if a.strip())
    elif changes.get("attributes") is not None:
        changes["attributes"] = tuple(changes["attributes"])
    try:
        return dataclasses.replace(base or PipelineOptions(), **changes)
    except TypeError as exc:
        raise BadInput(f"tag: {exc}") from None


@dataclass
class PipelineResult:
    tags: dict[str, TagScore]
    neighbours: list[Neighbour]
    query: dict[str, Any]
    palette: Palette | None = None
    shape: ShapeResult | None = None
    ocr: OcrResult | None = None
    attribute_tags: dict[str, TagScore] = field(default_factory=dict)
    match: Match | None = None

    def answer(self) -> TagResult:
        """The public result: every tag in one map, numbers rounded as they are shown."""
        return TagResult(
            query=QueryInfo(self.query["k"], self.query["model"], self.query.get("product_id")),
            tags={f: Tag.from_score(t) for f, t in {**self.tags, **self.attribute_tags}.items()},
            match=rounded_match(self.match),
            colour=Colours.from_palette(self.palette) if self.palette else None,
            shape=rounded_shape(self.shape),
            ocr=rounded_ocr(self.ocr),
            neighbours=[SimilarProduct.from_neighbour(n) for n in self.neighbours],
        )

    def as_dict(self) -> dict[str, Any]:
        return self.answer().as_dict()


def match_of(
    query: Query,
    neighbours: list[Neighbour],
    catalogue_ids: dict[int, str],
    cal: Calibration | None,
) -> Match:
    """Duplicate and out-of-domain information for a query. ``catalogue_ids`` names the
    products excluded from the neighbours because they carry the very same image bytes."""
    same_bytes = [catalogue_ids[k] for k in query.exclude if k in catalogue_ids]
    if query.product is None and same_bytes:
        return Match(False, 0.0, same_bytes[0], cal.ood_distance if cal else None)
    nearest = nearest_distance(neighbours)
    dup_distance = cal.duplicate_distance if cal else DUPLICATE_DISTANCE
    duplicate = (
        neighbours[0].id
        if query.product is None and nearest is not None and nearest <= dup_distance
        else None
    )
    ood = cal is not None and cal.is_out_of_domain(nearest)
    return Match(ood, nearest, duplicate, cal.ood_distance if cal else None)


class Pipeline:
    def __init__(self, search: NeighbourSearch) -> None:
        self.search = search
        self._brands: BrandMatcher | None = None
        self._calibration: tuple[Any, Calibration | None] | None = None
        self._text_tags: tuple[float, TextTags | None] | None = None
        self._known_kinds: tuple[tuple[int, str], list[str]] | None = None
        self._outcomes: tuple[Any, Outcomes | None] | None = None
        self._colour_model: tuple[int, ColourModel | None] | None = None

    def calibration(self) -> Calibration | None:
        """The stored calibration of the index's model, re-read when the catalogue changes
        (a new `shelfsight index` or `train` fits a new one)."""
        stamp = (self.search.index.model, self.search.catalogue.generation())
        if self._calibration is None or self._calibration[0] != stamp:
            cal = load_calibration(self.search.catalogue, self.search.index.model)
            self._calibration = (stamp, cal)
        return self._calibration[1]

    def colour_model(self) -> ColourModel | None:
        """The catalogue's colour model (``index`` fits it), re-read when the catalogue
        changes."""
        stamp = self.search.catalogue.generation()
        if self._colour_model is None or self._colour_model[0] != stamp:
            self._colour_model = (stamp, load_colour_model(self.search.catalogue))
        return self._colour_model[1]

    def outcomes(self) -> Outcomes | None:
        """The review thresholds learnt from the merchant's decisions (``outcomes``),
        re-read when a refit stores new ones (one indexed row read per tag)."""
        raw = self.search.catalogue.get_meta(OUTCOMES_META)
        if self._outcomes is None or self._outcomes[0] != raw:
            self._outcomes = (raw, Outcomes.from_json(raw) if raw else None)
        return self._outcomes[1]

    def text_tags(self) -> TextTags | None:
        """The listing words' model (``index`` fits it), re-read when its file changes."""
        path = self.search.workspace.text_tags_path
        stamp = path.stat().st_mtime if path.is_file() else -1.0
        if self._text_tags is None or self._text_tags[0] != stamp:
            loaded = TextTags.load(path) if stamp >= 0 else None
            if stamp >= 0 and loaded is None:
                log.warning(
                    "the words' model was fitted by another version; tags use the photo "
                    "alone until `shelfsight train` fits it again",
                    extra={"fields": {"path": str(path)}},
                )
            self._text_tags = (stamp, loaded)
        return self._text_tags[1]

    def from_words(self, words: str) -> PipelineResult:
        """Tags for a listing that has words and no photo."""
        text_tags = self.text_tags()
        if text_tags is None:
            raise NotIndexed("no text model in this workspace yet; run `shelfsight index`")
        result = PipelineResult({}, [], {"k": 0, "model": "text"})
        result.tags = from_words(text_tags, words, known_kinds=self.known_kinds(text_tags))
        self._learnt(result.tags, None, words)
        return result

    def _learnt(self, tags: Mapping[str, TagScore], opts: PipelineOptions | None, key: str) -> None:
        if opts is not None and opts.review_threshold is not None:
            return  # the merchant's own threshold stands
        outcomes = self.outcomes()
        if outcomes is not None:
            outcomes.apply(tags, key)

    def known_kinds(self, text_tags: TextTags) -> list[str]:
        """The type family's values the catalogue holds now: a kind added since the words'
        model was fitted (a product written through the API) is no longer new."""
        if text_tags.kind is None:
            return []
        catalogue = self.search.catalogue
        stamp = (catalogue.generation(), text_tags.kind.family)
        if self._known_kinds is None or self._known_kinds[0] != stamp:
            self._known_kinds = (stamp, list(catalogue.value_counts(text_tags.kind.family)))
        return self._known_kinds[1]

    @property
    def brands(self) -> BrandMatcher:
        if self._brands is None:
            cat = self.search.catalogue
            products = list(cat.iter_products())
            column = cat.column("brand")
            explicit = [str(p.fields.get(column) or "") if column else "" for p in products]
            self._brands = BrandMatcher(brand_lexicon((p.title for p in products), explicit))
        return self._brands

    def run(
        self,
        query: Query,
        image: DecodedImage | None,
        opts: PipelineOptions | None = None,
        neighbours: list[Neighbour] | None = None,
        words: str | None = None,
    ) -> PipelineResult:
        """Tags for one query; ``neighbours`` when already found (a batch searches once);
        ``words``: the listing's title and text, fused with the photo where they inform."""
        opts = opts or PipelineOptions()
        families = self.search.catalogue.tag_families()
        if neighbours is None:
            neighbours = self.search.neighbours(query, opts.k)
        heads = self.search.head_probs(query.vector) if opts.alpha > 0 else None

        result = PipelineResult({}, neighbours, {"k": opts.k, "model": self.search.index.model})
        if query.product is not None:
            result.query["product_id"] = query.product.id
        fg = None
        if image is not None and {"colour", "shape"} & set(opts.attributes):
            fg = segment(image.image)
        fam = vocab = pixel = model = None
        weight: Weight = DEFAULT_PIXEL_WEIGHT
        if fg is not None and image is not None and "colour" in opts.attributes:
            result.palette = palette(image.image, fg)
            fam = colour_family(
                families, opts.colour_column or self.search.catalogue.column("colour")
            )
            vocab = set(self.search.catalogue.value_counts(fam)) if fam else None
            model = self.colour_model()
            if model is not None and model.family == fam and result.palette.features is not None:
                pixel = model.given(result.palette.features)
                weight = model.pixel_weight
            else:  # no model fitted (no colour labels): the palette's colour names
                model = None
                pixel = result.palette.name_scores()
        if opts.pixel_weight is not None:  # the caller's weight wins over the fitted one
            weight = opts.pixel_weight
        scores = combined_scores(
            neighbours,
            families,
            heads,
            pixel,
            fam,
            vocab,
            opts.power,
            opts.alpha,
            weight,
        )
        if result.palette is not None:
            if model is not None:  # the swatches in the house's words, as the tag is
                result.palette = result.palette.named_by(model, model.kind_vote(scores))
            top = result.palette.swatches[0]
            result.attribute_tags["colour"] = TagScore("colour", top.name, top.share, "colour")
        sources = {f: ("knn+head" if heads and f in heads else "knn") for f in scores}
        if fam and pixel and fam in scores and weight_at(weight, nearest_distance(neighbours)) > 0:
            sources[fam] += "+colour"
        if fg is not None and "shape" in opts.attributes:
            result.shape = describe_shape(fg.mask)
            conf = SHAPE_CONFIDENCE[fg.method]
            for name, value in result.shape.tags.items():
                result.attribute_tags[name] = TagScore(name, value, conf, "shape")
        if image is not None and "ocr" in opts.attributes:
            result.ocr = read_text(image.image, timeout=opts.ocr_timeout)
            match = self.brands.match([ln.text for ln in result.ocr.lines])
            if match is not None:
                result.ocr.brand = match
                conf = max(
                    (ln.confidence for ln in result.ocr.lines if match.evidence in ln.text),
                    default=0.5,
                )
                result.attribute_tags["brand"] = TagScore(
                    "brand", match.brand, match.score / 100 * conf, "ocr"
                )
        tags = best_tags(scores, min_score=opts.min_score)
        for family, t in tags.items():
            t.source = sources.get(family, "knn")
        cal = self.calibration()
        ids = {}
        if query.exclude and query.product is None:
            ids = {k: p.id for k, p in self.search.catalogue.summaries(query.exclude).items()}
        result.match = match_of(query, neighbours, ids, cal)
        if cal is not None:
            cal.apply(tags, scores, neighbours, result.match.out_of_domain, opts.review_threshold)
        elif result.match.out_of_domain:
            for t in tags.values():
                t.review = t.held = True
        result.tags = tags
        text_tags = self.text_tags() if words else None
        if words and text_tags is not None:
            ood = bool(result.match and result.match.out_of_domain)
            known = self.known_kinds(text_tags)
            result.tags = with_words(tags, scores, text_tags, words, ood, known_kinds=known)
        key = image.sha256 if image is not None else query.vector.tobytes()[:32].hex()
        self._learnt(result.tags, opts, key)
        return result
