import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from shelfsight.indexer.embedders.base import letterbox_pixels, to_normalised_array
from shelfsight.indexer.embedders.runtime import (
    RuntimeUnavailable,
    compile_network,
    resolve_runtime,
)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU6(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    ).eval()  # fmt: skip


def _pixels(n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_compiled_network_matches_eager_on_normalised_input(runtime):
    net = _net()
    pixels = _pixels()
    # The eager reference: numpy normalisation, NCHW float, as bench_embed's baseline does.
    ref_in = np.stack([to_normalised_array(Image.fromarray(p), 32) for p in pixels])
    with torch.no_grad():
        ref = net(torch.from_numpy(ref_in)).numpy()
    run = compile_network(net, 32, runtime)
    assert run.name == runtime
    np.testing.assert_allclose(run(pixels), ref, atol=1e-5)
    assert run(pixels[:1]).shape == (1, 8)  # any batch size


def test_letterbox_pixels_is_uint8_hwc():
    image = Image.new("RGB", (40, 20), (10, 20, 30))
    px = letterbox_pixels(image, 32)
    assert px.shape == (32, 32, 3) and px.dtype == np.uint8
    assert tuple(px[0, 0]) == (255, 255, 255) and tuple(px[16, 16]) == (10, 20, 30)


def test_runtime_choice(monkeypatch):
    with pytest.raises(ValueError, match="unknown runtime"):
        resolve_runtime("tensorrt")
    monkeypatch.setenv("SHELFSIGHT_RUNTIME", "torch")
    assert resolve_runtime("auto") == "torch"
    monkeypatch.delenv("SHELFSIGHT_RUNTIME")
    expected = "cuda" if torch.cuda.is_available() else "onnxruntime"
    assert resolve_runtime("auto") == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_runtime_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeUnavailable, match="no CUDA device"):
        resolve_runtime("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cuda_half_precision_is_close_to_fp32():
    net = _net()
    pixels = _pixels()
    cpu = compile_network(net, 32, "torch")(pixels)
    gpu = compile_network(net, 32, "cuda")(pixels)
    np.testing.assert_allclose(gpu, cpu, atol=2e-2)
