"""Which of a catalogue's tag families says what kind of product it is.

The calibration holds a kind out to learn what a product of a new kind looks like, the
words' fusion treats the kind's family apart, and the colour model reads the neighbours'
vote on the kind (a watch's grey is "Steel"): all three ask here.
"""

from __future__ import annotations

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.tagging.pixels.colour import colour_family


def novelty_family(catalogue: Catalogue, families: list[str]) -> str | None:
    """The family whose values stand for product types: the one with the most values,
    leaving out the colour family (a new colour is not a new kind of product)."""
    colour = colour_family(families, catalogue.column("colour"))
    counted = [(len(catalogue.value_counts(f)), f) for f in families if f != colour]
    counted = [(n, f) for n, f in counted if n >= 3]
    return max(counted)[1] if counted else None
