"""The hybrid CNN-ViT: a small transformer over a frozen CNN's spatial feature map.

The CNN map (C x 7 x 7) becomes 49 tokens (one per cell), each linearly projected, given a
learned position embedding, and run with a class token through a transformer encoder.
Cosine-similarity heads on the class token predict each tag family. The L2-normalised
class token is the embedding in FAISS; because the heads are cosine heads, they can be
evaluated from that stored unit vector alone, so a product's head predictions never need
its image again.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import operator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shelfsight.core.errors import ModelError
from shelfsight.indexer.embedders.base import letterbox_pixels
from shelfsight.indexer.model_specs import HYBRID_TRUNK

FORMAT = "shelfsight-hybrid"
FORMAT_VERSION = 1


class ModelFileError(ModelError, ValueError):
    """A model file that is corrupt, of another format, or does not fit this code."""


@dataclass
class HybridConfig:
    arch: str = HYBRID_TRUNK
    # Channel groups of the cached map (see indexer.features): deep, mid, colour. Training
    # reads them (and the grid) off the trunk; these are Lite0's.
    groups: tuple[int, ...] = (320, 152, 3)
    # Layer-normalise a group's channels before projecting; not for the 3 colour channels,
    # whose absolute values are the information.
    group_norm: tuple[bool, ...] = (True, True, False)
    grid: int = 7
    dim: int = 192
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.1
    token_drop: float = 0.25
    # Mirror the cell grid of half the training maps: a left-right flipped product is the
    # same product, and the CNN's features are close to flip-equivariant.
    flip: bool = True
    head_scale: float = 16.0


@dataclass
class Vocabulary:
    """Per family, the values the heads predict (rare values are left to KNN)."""

    families: list[str]
    values: dict[str, list[str]] = field(default_factory=dict)

    def index(self, family: str) -> dict[str, int]:
        return {v: i for i, v in enumerate(self.values[family])}


class CosineHead(nn.Module):
    def __init__(self, dim: int, n: int, scale: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n, dim) * 0.02)
        self.scale = scale

    def forward(self, unit: torch.Tensor) -> torch.Tensor:
        return self.scale * unit @ F.normalize(self.weight, dim=1).T


class HybridViT(nn.Module):
    def __init__(self, cfg: HybridConfig, vocab: Vocabulary) -> None:
        super().__init__()
        self.cfg = cfg
        self.vocab = vocab
        # The deep group goes in before the CNN's 1x1 conv_head: re-applying the head
        # (320 -> 1280) measured no better (micro-F1 0.876 vs 0.880) and trained 2x slower.
        widths = list(cfg.groups)
        # One projection per group, summed: each scale gets its own say in the token.
        self.norms = nn.ModuleList(
            nn.LayerNorm(w) if norm else nn.Identity()
            for w, norm in zip(widths, cfg.group_norm, strict=True)
        )
        self.projs = nn.ModuleList(nn.Linear(w, cfg.dim) for w in widths)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos = nn.Parameter(torch.randn(1, 1 + cfg.grid * cfg.grid, cfg.dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.dim,
            cfg.heads,
            int(cfg.dim * cfg.mlp_ratio),
            cfg.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.dim)
        self.heads = nn.ModuleList(
            CosineHead(cfg.dim, len(vocab.values[f]), cfg.head_scale) for f in vocab.families
        )

    def embed_tokens(self, maps: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) cached maps -> (N, H*W, dim) projected cell tokens."""
        parts = torch.split(maps.float(), list(self.cfg.groups), dim=1)
        tokens = [
            proj(norm(part.flatten(2).transpose(1, 2)))
            for part, norm, proj in zip(parts, self.norms, self.projs, strict=True)
        ]
        return functools.reduce(operator.add, tokens)  # summed in order, as before

    def forward(self, maps: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(unit embeddings, logits per family)."""
        if self.training and self.cfg.flip:
            flip = torch.rand(maps.shape[0], device=maps.device) < 0.5
            maps = torch.where(flip.view(-1, 1, 1, 1), maps.flip(-1), maps)
        t = self.embed_tokens(maps) + self.pos[:, 1:]
        if self.training and self.cfg.token_drop > 0:
            # Dropping a random subset of cells is cheap augmentation on cached maps.
            keep = max(1, round(t.shape[1] * (1 - self.cfg.token_drop)))
            idx = torch.rand(t.shape[0], t.shape[1], device=t.device).argsort(1)[:, :keep]
            t = torch.gather(t, 1, idx.unsqueeze(-1).expand(-1, -1, t.shape[2]))
        cls = self.cls.expand(t.shape[0], -1, -1) + self.pos[:, :1]
        x = self.encoder(torch.cat([cls, t], dim=1))
        unit = F.normalize(self.norm(x[:, 0]), dim=1)
        return unit, [h(unit) for h in self.heads]

    @torch.no_grad()
    def head_probs(self, unit: np.ndarray) -> dict[str, list[tuple[str, float]]]:
        """Per family, (value, probability) best first, from stored unit embeddings (1 row)."""
        u = torch.from_numpy(np.ascontiguousarray(unit, dtype=np.float32)).reshape(1, -1)
        out = {}
        for family, head in zip(self.vocab.families, self.heads, strict=True):
            p = head(u).softmax(-1)[0].numpy()
            order = np.argsort(-p)
            out[family] = [(self.vocab.values[family][i], float(p[i])) for i in order]
        return out


# -- model files ----------------------------------------------------------------------------
def save_model_bytes(model: HybridViT, metrics: dict[str, Any]) -> bytes:
    state = model.state_dict()
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(asdict(model.cfg)),
        "vocab": json.dumps({"families": model.vocab.families, "values": model.vocab.values}),
        "metrics": json.dumps(metrics),
        "state_dict": state,
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def read_model_file(path: Path) -> tuple[dict[str, Any], str]:
    """The validated payload of a model file and the digest of its bytes (one read)."""
    data = path.read_bytes()  # FileNotFoundError passes through unchanged
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged zip/pickle
        raise ModelFileError(f"{path}: not a readable model file ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a Shelfsight hybrid model file")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {payload.get('format_version')}, this code reads "
            f"{FORMAT_VERSION}; re-run `shelfsight train`"
        )
    return payload, hashlib.sha256(data).hexdigest()[:12]


def model_config(payload: dict[str, Any], path: Path) -> HybridConfig:
    try:
        raw = json.loads(payload["config"])
        for key in ("groups", "group_norm"):
            if key in raw:
                raw[key] = tuple(raw[key])
        raw.pop("use_cnn_head", None)  # files written before the option was removed (off)
        return HybridConfig(**raw)
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: model file does not match this code ({exc})") from exc


def build_model(payload: dict[str, Any], path: Path) -> tuple[HybridViT, dict[str, Any]]:
    cfg = model_config(payload, path)
    try:
        v = json.loads(payload["vocab"])
        vocab = Vocabulary(v["families"], v["values"])
        model = HybridViT(cfg, vocab)
        model.load_state_dict(payload["state_dict"])
        metrics = json.loads(payload.get("metrics") or "{}")
    except (KeyError, TypeError, RuntimeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: model file does not match this code ({exc})") from exc
    model.eval()
    return model, metrics


def load_model_file(path: Path) -> tuple[HybridViT, dict[str, Any]]:
    return build_model(read_model_file(path)[0], path)


class UnitEmbedding(nn.Module):
    """Trunk maps -> the hybrid's L2-normalised class-token embedding."""

    def __init__(self, model: HybridViT) -> None:
        super().__init__()
        self.model = model

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.model(maps)[0]


class HybridEmbedder:
    """Frozen CNN trunk + trained ViT stage: images -> class-token embeddings."""

    def __init__(self, model_path: Path, spec: str | None = None, runtime: str = "auto") -> None:
        from shelfsight.indexer.embedders.cnn import LITE_INPUT, load_backbone
        from shelfsight.indexer.embedders.runtime import compile_network
        from shelfsight.indexer.embedders.trunk import TrunkMaps

        self.path = model_path
        payload, digest = read_model_file(model_path)
        arch = model_config(payload, model_path).arch
        backbone = load_backbone(arch)
        self.model, self.metrics = build_model(payload, model_path)
        self.input_size = LITE_INPUT[arch]
        trunk = TrunkMaps(backbone, self.input_size)
        self.network = nn.Sequential(trunk, UnitEmbedding(self.model)).eval()
        self.run = compile_network(self.network, self.input_size, runtime)
        self.dim = self.model.cfg.dim
        self.name = f"hybrid-{digest}"
        self.spec = spec or f"hybrid:{model_path}"

    def preprocess(self, image) -> np.ndarray:
        return letterbox_pixels(image, self.input_size)

    @torch.inference_mode()
    def embed_maps(self, maps: np.ndarray | torch.Tensor) -> np.ndarray:
        """Cached trunk maps -> embeddings (PyTorch, on the CPU: training's evaluation)."""
        unit, _ = self.model(torch.as_tensor(maps))
        return unit.float().numpy()

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        return self.run(batch)

    def head_probs(self, unit: np.ndarray) -> dict[str, list[tuple[str, float]]]:
        return self.model.head_probs(unit)
