"""The ViT stage on synthetic feature maps: learning, files, and bad files (no CNN needed)."""

import numpy as np
import pytest
import torch

from shelfsight.indexer.embedders.hybrid import (
    HybridConfig,
    ModelFileError,
    load_model_file,
    save_model_bytes,
)
from shelfsight.indexer.train import TrainOptions, build_vocabulary, fit, head_accuracy

CFG = HybridConfig(groups=(6, 2), group_norm=(True, False), grid=3, dim=32, depth=1, heads=2)


def synthetic(n=240, seed=0):
    """Maps whose class shows up in a few channels of a few cells: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, 3, n)
    colours = rng.integers(0, 2, n)
    maps = rng.normal(size=(n, 8, 3, 3)).astype(np.float32)
    maps[np.arange(n), kinds, :, :] += 1.5
    maps[np.arange(n), 4 + colours, 0, :] += 1.5
    tags = [{"kind": f"k{k}", "colour": f"c{c}"} for k, c in zip(kinds, colours, strict=True)]
    return maps, tags


def test_training_reduces_loss_and_beats_the_untrained_stage():
    maps, tags = synthetic()
    _model, rep = fit(
        maps,
        tags,
        ["kind", "colour"],
        CFG,
        TrainOptions(epochs=12, batch_size=32, patience=12, val_fraction=0.25),
        progress=False,
    )
    assert rep.loss_history[-1] < 0.7 * rep.loss_history[0]
    assert (
        np.mean(list(rep.val_accuracy.values()))
        > np.mean(list(rep.untrained_val_accuracy.values())) + 0.2
    )
    assert rep.val_accuracy["kind"] >= 0.8


def test_training_is_reproducible():
    maps, tags = synthetic(n=80)
    opts = TrainOptions(epochs=2, batch_size=16, val_fraction=0.25)
    a, _ = fit(maps, tags, ["kind"], CFG, opts, progress=False)
    b, _ = fit(maps, tags, ["kind"], CFG, opts, progress=False)
    for (na, ta), (_, tb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(ta, tb), na


def test_rare_values_are_left_to_knn():
    tags = [{"kind": "Shirts"}] * 5 + [{"kind": "Jeans"}] * 3 + [{"kind": "Cape"}] * 2
    vocab = build_vocabulary(["kind", "solo"], tags + [{"solo": "x"}] * 4, min_count=3)
    assert vocab.values == {"kind": ["Jeans", "Shirts"]}  # Cape is rare, solo has one value


def test_model_file_roundtrip(tmp_path):
    maps, tags = synthetic(n=60)
    model, _ = fit(maps, tags, ["kind"], CFG, TrainOptions(epochs=1), progress=False)
    path = tmp_path / "m.pt"
    path.write_bytes(save_model_bytes(model, {"note": 1}))
    loaded, metrics = load_model_file(path)
    assert metrics == {"note": 1}
    x = torch.from_numpy(maps[:4])
    with torch.no_grad():
        np.testing.assert_allclose(model(x)[0].numpy(), loaded(x)[0].numpy(), atol=1e-6)
    y = np.zeros((4, 1), dtype=np.int64)
    assert head_accuracy(loaded, maps[:4], y).keys() == {"kind"}
    with torch.no_grad():
        probs = loaded.head_probs(loaded(x)[0][0].numpy())
    assert sum(p for _, p in probs["kind"]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "damage",
    ["truncate", "garbage", "other_pickle", "version", "shape"],
)
def test_bad_model_files_give_clear_errors(tmp_path, damage):
    maps, tags = synthetic(n=60)
    model, _ = fit(maps, tags, ["kind"], CFG, TrainOptions(epochs=1), progress=False)
    data = save_model_bytes(model, {})
    path = tmp_path / "m.pt"
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a model" * 100)
    elif damage == "other_pickle":
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        payload = torch.load(__import__("io").BytesIO(data), weights_only=True)
        if damage == "version":
            payload["format_version"] = 99
        else:
            payload["state_dict"]["proj.weight"] = torch.zeros(5, 5)
        torch.save(payload, path)
    with pytest.raises(ModelFileError) as e:
        load_model_file(path)
    assert str(path) in str(e.value)


def test_a_model_file_from_before_use_cnn_head_was_removed_still_loads(tmp_path):
    import io
    import json

    maps, tags = synthetic(n=60)
    model, _ = fit(maps, tags, ["kind"], CFG, TrainOptions(epochs=1), progress=False)
    payload = torch.load(io.BytesIO(save_model_bytes(model, {})), weights_only=True)
    payload["config"] = json.dumps({**json.loads(payload["config"]), "use_cnn_head": False})
    path = tmp_path / "old.pt"
    torch.save(payload, path)
    loaded, _ = load_model_file(path)
    x = torch.from_numpy(maps[:2])
    with torch.no_grad():
        np.testing.assert_allclose(model(x)[0].numpy(), loaded(x)[0].numpy(), atol=1e-6)
