"""Measured defaults (see BENCHMARKS.md); kept import-light so the CLI starts fast."""

# IDW exponent p in w = 1 / (d + eps)^p: sharper weighting won at every k.
DEFAULT_POWER = 4.0
DEFAULT_EPS = 1e-6
# Weight of the hybrid model's head probabilities against the KNN vote.
DEFAULT_ALPHA = 0.5
# Weight of the pixel palette against the neighbour/head vote in the colour family.
DEFAULT_PIXEL_WEIGHT = 0.2
# Share of a merchant's new products assumed to be of types the catalogue lacks: the real
# batch of issue 13 had 9 %. Calibrated scores and review flags are fitted for that mix.
NOVELTY_PRIOR = 0.1
# Pixel attributes a tag can add, and those on unless asked otherwise (OCR costs ~1 s).
ATTRIBUTES = ("colour", "shape", "ocr")
DEFAULT_ATTRIBUTES = ("colour", "shape")
