"""`shelfsight train`: fit the hybrid CNN-ViT stage to the catalogue's own tags.

The CNN is frozen, so its feature maps are computed once (cached by image hash) and every
epoch only runs the small transformer. After training, the model file is written aside and
verified, ``models/CURRENT`` is swapped, and every product is re-embedded from the cached
maps into a fresh index, so tagging moves to the new model in one atomic step.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from shelfsight.core.errors import BadInput, Skip
from shelfsight.indexer.build import rebuild_index
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.embedders.hybrid import (
    HybridConfig,
    HybridEmbedder,
    HybridViT,
    ModelFileError,
    Vocabulary,
    load_model_file,
    save_model_bytes,
)
from shelfsight.indexer.embedders.trunk import CnnTrunk
from shelfsight.indexer.features import FeatureCache
from shelfsight.indexer.workspace import Workspace, atomic_path, atomic_write_text

log = logging.getLogger(__name__)

IGNORE = -100


@dataclass
class TrainOptions:
    epochs: int = 18
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    val_fraction: float = 0.1
    patience: int = 5
    min_count: int = 3  # values seen fewer times are left to KNN, not the heads
    seed: int = 0
    threads: int | None = None


@dataclass
class TrainReport:
    model_path: str = ""
    model_name: str = ""
    n_train: int = 0
    n_val: int = 0
    epochs_run: int = 0
    best_epoch: int = 0
    val_accuracy: dict[str, float] = field(default_factory=dict)
    untrained_val_accuracy: dict[str, float] = field(default_factory=dict)
    loss_history: list[float] = field(default_factory=list)
    feature_seconds: float = 0.0
    train_seconds: float = 0.0
    index_seconds: float = 0.0
    model_bytes: int = 0
    skipped: list[Skip] = field(default_factory=list)  # images that could not be read
    indexed: int = 0
    val_indices: list[int] = field(default_factory=list)  # rows the heads never trained on
    calibration: Any = None  # tagging.neighbour_tags.calibration.Calibration, fitted after training
    words: dict[str, Any] = field(default_factory=dict)  # the listing words' fit (text_fit)

    def as_dict(self) -> dict[str, Any]:
        cal, self.calibration = self.calibration, None
        try:
            out = asdict(self)
        finally:
            self.calibration = cal
        out.pop("val_indices")  # internal: which rows calibration may use
        out["calibration"] = cal.summary() if cal else None
        return out


def feature_cache_for(
    workspace: Workspace, trunk: CnnTrunk, path: Path | None = None
) -> FeatureCache:
    return FeatureCache(path or workspace.feature_cache(trunk.layout), trunk)


def build_vocabulary(families: list[str], tags: list[dict[str, str]], min_count: int) -> Vocabulary:
    values: dict[str, list[str]] = {}
    kept = []
    for fam in families:
        counts = Counter(t[fam] for t in tags if t.get(fam))
        vals = sorted(v for v, n in counts.items() if n >= min_count)
        if len(vals) >= 2:  # a family with one value has nothing to learn
            values[fam] = vals
            kept.append(fam)
    return Vocabulary(kept, values)


def encode_labels(vocab: Vocabulary, tags: list[dict[str, str]]) -> np.ndarray:
    y = np.full((len(tags), len(vocab.families)), IGNORE, dtype=np.int64)
    for j, fam in enumerate(vocab.families):
        idx = vocab.index(fam)
        for i, t in enumerate(tags):
            y[i, j] = idx.get(t.get(fam, ""), IGNORE)
    return y


@torch.no_grad()
def head_accuracy(
    model: HybridViT, maps: np.ndarray, y: np.ndarray, batch: int = 256
) -> dict[str, float]:
    model.eval()
    correct = np.zeros(y.shape[1])
    total = np.zeros(y.shape[1])
    for s in range(0, len(maps), batch):
        _, logits = model(torch.from_numpy(maps[s : s + batch]))
        yb = y[s : s + batch]
        for j, lg in enumerate(logits):
            mask = yb[:, j] != IGNORE
            correct[j] += (lg.argmax(1).numpy()[mask] == yb[mask, j]).sum()
            total[j] += mask.sum()
    return {
        f: round(float(c / t), 4) if t else 0.0
        for f, c, t in zip(model.vocab.families, correct, total, strict=True)
    }


def fit(
    maps: np.ndarray,
    tags: list[dict[str, str]],
    families: list[str],
    cfg: HybridConfig | None = None,
    opts: TrainOptions | None = None,
    progress: bool = True,
) -> tuple[HybridViT, TrainReport]:
    """Train on cached maps (N, C, H, W) with their tags; early-stop on a held-out split."""
    cfg = cfg or HybridConfig(grid=maps.shape[2])
    if sum(cfg.groups) != maps.shape[1] or cfg.grid != maps.shape[2]:
        raise ValueError(
            f"maps of shape {maps.shape[1:]} do not fit config groups {cfg.groups}, grid {cfg.grid}"
        )
    opts = opts or TrainOptions()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    order = rng.permutation(len(maps))
    n_val = max(1, round(len(maps) * opts.val_fraction)) if len(maps) >= 10 else 0
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    vocab = build_vocabulary(families, [tags[i] for i in train_idx], opts.min_count)
    if not vocab.families:
        raise BadInput("no tag family has two values with enough examples to learn from")
    y = encode_labels(vocab, tags)
    model = HybridViT(cfg, vocab)
    report = TrainReport(
        n_train=len(train_idx), n_val=len(val_idx), val_indices=[int(i) for i in val_idx]
    )
    eval_maps = maps[val_idx] if n_val else maps[train_idx]
    eval_y = y[val_idx] if n_val else y[train_idx]
    report.untrained_val_accuracy = head_accuracy(model, eval_maps, eval_y)

    params = [p for n, p in model.named_parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=opts.lr, weight_decay=opts.weight_decay)
    steps_per_epoch = math.ceil(len(train_idx) / opts.batch_size)
    total_steps = steps_per_epoch * opts.epochs
    warmup = steps_per_epoch

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_at)
    best_score, best_state, best_epoch, bad_epochs = -1.0, None, 0, 0
    bar = tqdm(range(opts.epochs), desc="train", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        perm = rng.permutation(train_idx)
        losses = []
        for s in range(0, len(perm), opts.batch_size):
            bi = np.sort(perm[s : s + opts.batch_size])
            _, logits = model(torch.from_numpy(maps[bi]))
            yb = torch.from_numpy(y[bi])
            loss: torch.Tensor = sum(  # type: ignore[assignment]  # a sum of tensors
                F.cross_entropy(
                    lg, yb[:, j], ignore_index=IGNORE, label_smoothing=opts.label_smoothing
                )
                for j, lg in enumerate(logits)
                if (yb[:, j] != IGNORE).any()
            )
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
            sched.step()
            losses.append(float(loss.detach()))
        report.loss_history.append(round(float(np.mean(losses)), 4))
        acc = head_accuracy(model, eval_maps, eval_y)
        score = float(np.mean(list(acc.values())))
        bar.set_postfix(loss=report.loss_history[-1], val=round(score, 4))
        log.info("epoch=%d loss=%.4f val_mean_acc=%.4f", epoch + 1, report.loss_history[-1], score)
        report.epochs_run = epoch + 1
        if score > best_score:
            best_score, best_state, best_epoch, bad_epochs = (
                score,
                copy.deepcopy(model.state_dict()),
                epoch + 1,
                0,
            )
            report.val_accuracy = acc
        else:
            bad_epochs += 1
            if n_val and bad_epochs >= opts.patience:
                break
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    report.best_epoch = best_epoch
    return model, report


def train_workspace(
    workspace: Workspace,
    catalogue: Catalogue,
    cfg: HybridConfig | None = None,
    opts: TrainOptions | None = None,
    feature_cache: Path | None = None,
    progress: bool = True,
) -> TrainReport:
    """Train on every product, install the model atomically, re-embed and re-index."""
    trunk = CnnTrunk((cfg or HybridConfig()).arch)
    # The map layout is the trunk's: its channel groups and grid are read off it, not assumed.
    cfg = replace(cfg or HybridConfig(), groups=trunk.groups, grid=trunk.grid)
    cache = feature_cache_for(workspace, trunk, feature_cache)
    photos = [
        (p, p.image_sha256, p.image_path)
        for p in catalogue.iter_products()
        if p.image_sha256 and p.image_path
    ]
    t0 = time.perf_counter()
    failed = cache.ensure([(sha, path) for _, sha, path in photos], progress=progress)
    bad = {sha for sha, _, _ in failed}
    products = [p for p, sha, _ in photos if sha not in bad]
    maps = cache.load([sha for _, sha, _ in photos if sha not in bad])
    feature_seconds = time.perf_counter() - t0
    if len(products) < 10:
        raise BadInput(f"need at least 10 readable products to train, have {len(products)}")

    t1 = time.perf_counter()
    model, report = fit(
        maps, [p.tags for p in products], catalogue.tag_families(), cfg, opts, progress
    )
    report.train_seconds = round(time.perf_counter() - t1, 1)
    report.feature_seconds = round(feature_seconds, 1)
    report.skipped = [Skip(r, path=p) for _, p, r in failed]

    # Write aside, prove it loads, then swap the pointer: a bad write never goes live.
    data = save_model_bytes(model, {"val_accuracy": report.val_accuracy})
    name = f"hybrid-{time.strftime('%Y%m%d-%H%M%S')}.pt"
    target = workspace.models_dir / name
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
        load_model_file(tmp)
    report.model_bytes = len(data)
    report.model_path = str(target)

    t2 = time.perf_counter()
    embedder = HybridEmbedder(target, spec=f"hybrid:models/{name}")
    vectors = np.concatenate(
        [embedder.embed_maps(maps[s : s + 512]) for s in range(0, len(maps), 512)]
    )
    catalogue.put_embeddings(embedder.name, [p.key for p in products], vectors)
    # Calibrating the heads on products they trained on would teach over-confidence:
    # the held-out validation products are kept for that (tagging.neighbour_tags.calibration).
    catalogue.set_meta(
        f"validation_keys:{embedder.name}", [products[i].key for i in report.val_indices]
    )
    atomic_write_text(workspace.current_model_pointer, name + "\n")
    index = rebuild_index(workspace, catalogue, embedder)
    report.index_seconds = round(time.perf_counter() - t2, 1)
    report.model_name = embedder.name
    report.indexed = len(index)
    _prune_models(workspace, keep=name)
    return report


def _prune_models(workspace: Workspace, keep: str, versions: int = 2) -> None:
    files = sorted(workspace.models_dir.glob("hybrid-*.pt"))
    for old in [f for f in files if f.name != keep][: -(versions - 1) or None]:
        old.unlink(missing_ok=True)


__all__ = ["ModelFileError", "TrainOptions", "TrainReport", "fit", "train_workspace"]
