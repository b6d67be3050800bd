"""The model spec strings `--model` accepts (import-light: the CLI reads it at start-up)."""

SPECS = "auto, cnn[:ARCH], hybrid[:MODEL_FILE], openclip:ARCH[:CHECKPOINT]"
