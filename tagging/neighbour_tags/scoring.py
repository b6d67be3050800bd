"""The tag scores Shelfsight serves for a query: the IDW vote of its neighbours, blended
with the hybrid's heads, the colour family fused with the photo's own palette.

One function, so that the pipeline, the calibration fitted on the catalogue and the
evaluation all score the same way.
"""

from __future__ import annotations

from shelfsight.tagging.neighbour_tags.defaults import DEFAULT_PIXEL_WEIGHT
from shelfsight.tagging.neighbour_tags.knn import (
    DEFAULT_ALPHA,
    DEFAULT_POWER,
    Neighbour,
    blend_scores,
    vote,
)
from shelfsight.tagging.pixels.colour import fuse_pixel_colour
from shelfsight.tagging.pixels.colour_model import PixelVote, Weight, weight_at
from shelfsight.tagging.search.visual import nearest_distance


def combined_scores(
    neighbours: list[Neighbour],
    families: list[str],
    heads: dict[str, list[tuple[str, float]]] | None,
    pixel: PixelVote,
    colour_fam: str | None,
    colour_vocab: set[str] | None,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
    pixel_weight: Weight = DEFAULT_PIXEL_WEIGHT,
) -> dict[str, list[tuple[str, float]]]:
    """The tag scores the pipeline reports: IDW vote, blended with heads, colour fused
    (at the weight for how far the nearest neighbour is, ``PixelWeight``).

    The evaluation calls this too, so what is measured is what is served.
    """
    scores = blend_scores(vote(neighbours, families, power=power), heads, alpha)
    weight = weight_at(pixel_weight, nearest_distance(neighbours))
    return fuse_pixel_colour(scores, colour_fam, pixel, weight, colour_vocab)
