"""A GGUF language model converted once, then read back as plain tensors.

transformers reads a GGUF by parsing its metadata three times (configuration, tokenizer,
weights: 7.7 s each for SmolLM2-135M's 49,152-token vocabulary) and naming its tensors one
at a time: the default model took 28-35 s to load on 2 cores, in every process that
describes with it. Its dequantised float32 weights, configuration and tokenizer are written
once to the user's cache folder (517 MB for SmolLM2-135M) and load in 3.9-4.3 s, the same
weights and the same text (``scripts/bench_describe_load.py``, imports not counted).

A cache entry is keyed by the GGUF file (path, size, time) and the transformers version,
written to a temporary folder and renamed into place whole, so a reader sees a complete
entry or none; one that cannot be read is converted again. Writing is best effort: a full
disk or a read-only home leaves the model loaded from its GGUF, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from shelfsight.core.settings import settings

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
COMPLETE = "complete"  # written last: an entry without it is never read


def cache_root() -> Path | None:
    """Where converted models live: ``SHELFSIGHT_MODEL_CACHE``, else the user's cache
    folder; None when the setting turns it off."""
    chosen = settings().model_cache
    if chosen is not None:
        return Path(chosen).expanduser() if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "shelfsight" / "converted-models"


def entry_for(model_folder: str, gguf_file: str) -> Path | None:
    """The cache folder of this GGUF as this transformers reads it (None: no cache, or no
    such file: the load itself says what is wrong)."""
    import transformers

    root = cache_root()
    path = Path(model_folder) / gguf_file
    if root is None or not path.is_file():
        return None
    st = path.stat()
    key = json.dumps(
        [str(path.resolve()), st.st_size, st.st_mtime_ns, transformers.__version__, "float32"]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return root / f"{path.stem}-{digest}"


def load(entry: Path) -> tuple[Any, Any] | None:
    """(tokenizer, model) from a complete entry, or None (absent or unreadable)."""
    if not (entry / COMPLETE).is_file():
        return None
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(entry)
        model = AutoModelForCausalLM.from_pretrained(entry, dtype=torch.float32)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        log.warning("converted model %s unreadable (%s): converting again", entry, exc)
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return tokenizer, model


def save(entry: Path, tokenizer: Any, model: Any) -> None:
    """Write a GGUF-loaded model's float32 weights, configuration and tokenizer as
    ``entry``, whole or not at all."""
    from safetensors.torch import save_model

    if (entry / COMPLETE).is_file():
        return
    tmp: Path | None = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
        config = model.config.to_dict()
        # The tensors written are dequantised already: read back, they are plain weights.
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=1, default=str))
        save_model(model, str(tmp / WEIGHTS))  # tied weights once (the head is the embedding)
        model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / COMPLETE).write_text("1")
        if entry.exists() and not (entry / COMPLETE).is_file():
            shutil.rmtree(entry, ignore_errors=True)  # what a hand or a crash left half
        try:
            tmp.rename(entry)
            tmp = None
        except OSError:
            if not (entry / COMPLETE).is_file():  # not another process's entry: a real error
                raise
    except OSError as exc:
        log.warning("could not cache the converted model in %s: %s", entry, exc)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
