"""End-to-end embedding throughput (decode + resize + model, images/s): the eager fp32
baseline and the shipped path, side by side on the same images in one run.

    python scripts/bench_embed.py --images ../shared/data/fashion/images --limit 2000 \
        --home shelfsight-data --json bench-out/embed.json

- baseline: what a first implementation does - decode, letterbox and normalise each image
  in numpy, batches of 32, the PyTorch network in eager fp32 NCHW under ``no_grad``, all in
  one thread;
- shipped: ``indexer.embedders.batches.iter_embedded``, the loop ``shelfsight index``
  runs - decoding overlapped with inference in a thread, batches of 8, uint8 pixels into
  the compiled
  network (ONNX Runtime on a CPU, fp16 on a CUDA GPU; see indexer/embedders/runtime.py).

Both paths embed the same images with the same model (``--model auto``: the workspace's
trained hybrid, else the plain CNN). Accuracy is checked on the same images: articleType
by leave-one-out IDW-KNN (k=10, p=4) among them, with each path's own vectors.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import faiss
import numpy as np
import torch
from tqdm import tqdm

from shelfsight.indexer.embedders import load_embedder
from shelfsight.indexer.embedders.base import to_normalised_array
from shelfsight.indexer.embedders.batches import DEFAULT_BATCH, iter_embedded
from shelfsight.indexer.images import ImageError, decode_file
from shelfsight.indexer.workspace import resolve_home
from shelfsight.tagging.neighbour_tags.knn import idw_weights

BASELINE_BATCH = 32


def baseline(embedder, paths: list[Path], progress: bool) -> tuple[list[int], np.ndarray]:
    network = embedder.network  # plain fp32 NCHW PyTorch modules, shared with the runtime
    keep: list[int] = []
    out: list[np.ndarray] = []
    with tqdm(total=len(paths), desc="baseline", unit="img", disable=not progress) as bar:
        for start in range(0, len(paths), BASELINE_BATCH):
            arrays = []
            for i in range(start, min(start + BASELINE_BATCH, len(paths))):
                try:
                    image = decode_file(paths[i]).image
                except ImageError:
                    continue
                arrays.append(to_normalised_array(image, embedder.input_size))
                keep.append(i)
            if arrays:
                with torch.no_grad():
                    out.append(network(torch.from_numpy(np.stack(arrays))).numpy())
            bar.update(min(BASELINE_BATCH, len(paths) - start))
    return keep, np.concatenate(out)


def shipped(
    embedder, paths: list[Path], batch: int, progress: bool
) -> tuple[list[int], np.ndarray]:
    keys: list[int] = []
    out: list[np.ndarray] = []
    items = [(i, str(p)) for i, p in enumerate(paths)]
    for k, vectors, _ in iter_embedded(embedder, items, batch, progress=progress, desc="shipped"):
        keys.extend(k)
        out.append(vectors)
    return keys, np.concatenate(out)


def loo_accuracy(vectors: np.ndarray, labels: list[str], k: int = 10, power: float = 4.0) -> float:
    """articleType accuracy of IDW-KNN among the images themselves, each left out."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    sims, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32), k + 1)
    right = 0
    for i, (row_s, row_i) in enumerate(zip(sims, ids, strict=True)):
        votes: dict[str, float] = defaultdict(float)
        pairs = [(s, j) for s, j in zip(row_s, row_i, strict=True) if j != i][:k]
        weights = idw_weights([max(0.0, 1.0 - s) for s, _ in pairs], power)
        for w, (_, j) in zip(weights, pairs, strict=True):
            votes[labels[j]] += w
        right += max(votes, key=votes.get) == labels[i]
    return right / len(labels)


def read_labels(path: Path, column: str) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        return {row["id"]: row[column] for row in csv.DictReader(f) if row.get(column)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--model", default="auto", help="auto (default), cnn, hybrid, ...")
    ap.add_argument("--home", type=Path, help="workspace holding the trained hybrid")
    ap.add_argument(
        "--labels", type=Path, help="CSV with id + label column (default: ../styles.csv)"
    )
    ap.add_argument("--label-column", default="articleType")
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    progress = sys.stderr.isatty()
    paths = sorted(args.images.glob("*.jpg"))[: args.limit]
    embedder = load_embedder(args.model, resolve_home(args.home))
    warm = paths[:16]
    baseline(embedder, warm, progress=False)
    shipped(embedder, warm, args.batch_size, progress=False)

    t0 = time.perf_counter()
    base_keys, base_vectors = baseline(embedder, paths, progress)
    base_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    keys, vectors = shipped(embedder, paths, args.batch_size, progress)
    ship_s = time.perf_counter() - t0
    assert keys == base_keys, "both paths must embed the same images"

    result = {
        "n": len(keys),
        "model": embedder.name,
        "runtime": embedder.run.name,
        "device": torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else platform.processor() or platform.machine(),
        "baseline_images_per_s": round(len(keys) / base_s, 1),
        "images_per_s": round(len(keys) / ship_s, 1),
        "ratio": round(base_s / ship_s, 2),
        "max_abs_diff": float(np.abs(base_vectors - vectors).max()),
    }
    labels_path = args.labels or args.images.parent / "styles.csv"
    if labels_path.is_file():
        labels = read_labels(labels_path, args.label_column)
        have = [i for i, k in enumerate(keys) if paths[k].stem in labels]
        names = [labels[paths[keys[i]].stem] for i in have]
        result["accuracy_n"] = len(have)
        result["label"] = args.label_column
        result["baseline_accuracy"] = round(loo_accuracy(base_vectors[have], names), 4)
        result["accuracy"] = round(loo_accuracy(vectors[have], names), 4)
        result["accuracy_drop_pts"] = round(
            100 * (result["baseline_accuracy"] - result["accuracy"]), 2
        )
        result["classes"] = len(Counter(names))
    print(json.dumps(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
