"""Where an embedding network runs: ONNX Runtime on CPU, half precision on a CUDA GPU.

Every image network here is written once in PyTorch, taking the usual float NCHW
ImageNet-normalised batch. ``compile_network`` wraps it so that it takes what decoding
gives (uint8 NHWC pixels), with the conversion inside the graph, and hands it to the
fastest runtime present:

- ``cuda``: PyTorch on the GPU, channels-last, fp16 autocast (uint8 crosses the bus, 4x
  less than float);
- ``onnxruntime`` (the CPU default): the network exported to ONNX in memory and run by ONNX
  Runtime, which fuses the convolutions with their activations and runs ~3.5x faster than
  eager PyTorch on 2 cores (BENCHMARKS.md); its output matches PyTorch within 1e-4;
- ``torch``: eager PyTorch on the CPU, channels-last, inference mode (no ONNX Runtime).

``SHELFSIGHT_RUNTIME`` overrides the choice. The runtime never changes what the vectors
mean, so it is not part of an embedder's name: vectors from any runtime mix in one index.
"""

from __future__ import annotations

import copy
import io
import logging
import threading
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from shelfsight.core.errors import ModelError
from shelfsight.core.settings import settings
from shelfsight.indexer.embedders.base import IMAGENET_MEAN, IMAGENET_STD

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "onnxruntime", "torch", "cuda")
# torch.onnx.export keeps its state in module globals: two exports in two threads at once
# fail ("GLOBALS.in_onnx_export must be True").
_EXPORT_LOCK = threading.Lock()


class RuntimeUnavailable(ModelError, RuntimeError):
    pass


class FromPixels(nn.Module):
    """uint8 (N, H, W, 3) pixels -> the wrapped network's output."""

    scale: torch.Tensor  # buffers, registered below
    shift: torch.Tensor

    def __init__(
        self,
        network: nn.Module,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("scale", 1.0 / (255.0 * torch.tensor(std).view(1, 3, 1, 1)))
        self.register_buffer(
            "shift", -torch.tensor(mean).view(1, 3, 1, 1) / torch.tensor(std).view(1, 3, 1, 1)
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        # permute() of an NHWC tensor is already in channels-last memory order.
        x = pixels.permute(0, 3, 1, 2).float() * self.scale + self.shift
        return self.network(x)


def resolve_runtime(runtime: str = "auto") -> str:
    choice = settings().runtime if runtime == "auto" else runtime
    if choice not in RUNTIMES:
        raise ValueError(f"unknown runtime {choice!r}; choose one of {', '.join(RUNTIMES)}")
    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda"
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return "torch"
        return "onnxruntime"
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeUnavailable("runtime 'cuda' asked for, but PyTorch sees no CUDA device")
    return choice


class TorchRunner:
    """PyTorch on the CPU (fp32) or a CUDA GPU (fp16 autocast), channels-last."""

    def __init__(self, module: FromPixels, device: torch.device) -> None:
        self.device = device
        self.name = "cuda" if device.type == "cuda" else "torch"
        # A private copy: the backbone is shared (lru_cache) and must stay on the CPU.
        private = copy.deepcopy(module).to(device)
        self.module = private.to(memory_format=torch.channels_last).eval()

    @torch.inference_mode()
    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.device.type == "cuda"):
            out = self.module(x)
        return out.float().cpu().numpy()


class OnnxRunner:
    """The network exported to ONNX (in memory) and run by ONNX Runtime on the CPU."""

    name = "onnxruntime"

    def __init__(self, module: FromPixels, input_size: int, threads: int | None = None) -> None:
        import onnxruntime as ort

        probe = torch.zeros(2, input_size, input_size, 3, dtype=torch.uint8)
        buf = io.BytesIO()
        with _EXPORT_LOCK, warnings.catch_warnings():
            # The TorchScript exporter warns that it is deprecated; it is the one that
            # exports these networks in under a second without extra packages.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(),
                (probe,),
                buf,  # type: ignore[arg-type]  # a file object works; the stub says path
                input_names=["pixels"],
                output_names=["out"],
                dynamic_axes={"pixels": {0: "n"}, "out": {0: "n"}},
                opset_version=17,
                dynamo=False,
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Spinning worker threads would take the core that decodes the next batch.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            buf.getvalue(), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"pixels": np.ascontiguousarray(pixels)})[0]


def compile_network(
    network: nn.Module, input_size: int, runtime: str = "auto"
) -> TorchRunner | OnnxRunner:
    """A callable uint8 (N, H, W, 3) -> float32 output, on the best runtime present."""
    module = FromPixels(network).eval()
    choice = resolve_runtime(runtime)
    if choice == "onnxruntime":
        try:
            return OnnxRunner(module, input_size)
        except ImportError as exc:
            raise RuntimeUnavailable("runtime 'onnxruntime' needs the onnxruntime package") from exc
    device = torch.device("cuda" if choice == "cuda" else "cpu")
    return TorchRunner(module, device)
