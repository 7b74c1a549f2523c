"""Inference backends for a :class:`~rrl.encoders.base.PixelEncoder`: torch (CPU/CUDA) and onnxruntime (CPU).

Both take uint8 ``(N, S, S, 3)`` numpy pixels and return float32 ``(N, D)`` numpy features; normalisation is part
of the network, so the ONNX graph starts from uint8 pixels.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from rrl.encoders.base import PixelEncoder

ONNX_OPSET = 17
BACKENDS = ("auto", "torch", "onnxruntime")


def available_cores() -> int:
    """CPU cores this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str, device: str) -> str:
    """``auto`` -> onnxruntime on CPU when installed, else torch. onnxruntime is CPU only here."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; valid: {', '.join(BACKENDS)}")
    on_cpu = torch.device(device).type == "cpu"
    if backend == "auto":
        return "onnxruntime" if on_cpu and onnxruntime_available() else "torch"
    if backend == "onnxruntime" and not on_cpu:
        raise ValueError(f"the onnxruntime backend runs on the CPU only, got device={device!r}; use backend='torch'")
    return backend


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` intra-op torch threads (restored afterwards); ``None`` leaves torch's setting."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TorchBackend:
    """Eval mode, no gradients, inference mode, ``channels_last`` memory format."""

    name = "torch"

    def __init__(self, model: PixelEncoder, device: str = "cpu", num_threads: int | None = None) -> None:
        self.device = torch.device(device)
        self.num_threads = num_threads
        self.model = model.to(self.device, memory_format=torch.channels_last).eval().requires_grad_(False)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if not pixels.flags.writeable:  # e.g. a shared-memory view; torch.from_numpy warns on read-only arrays
            pixels = pixels.copy()
        with torch_threads(self.num_threads), torch.inference_mode():
            x = torch.from_numpy(pixels).to(self.device, non_blocking=True)
            return self.model(x).float().cpu().numpy()


def export_onnx(model: PixelEncoder, image_size: int, path: Path) -> Path:
    """Export ``model`` (uint8 NHWC input, dynamic batch) to ``path`` atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    dummy = torch.zeros(2, image_size, image_size, 3, dtype=torch.uint8)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer notes
            torch.onnx.export(
                model,
                (dummy,),
                tmp,
                dynamo=False,  # the TorchScript exporter: no onnxscript dependency, stable graphs for CNNs
                input_names=["pixels"],
                output_names=["features"],
                dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}},
                opset_version=ONNX_OPSET,
                do_constant_folding=True,
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class OnnxRuntimeBackend:
    """onnxruntime CPU session on the exported graph, all graph optimisations on.

    Args:
        onnx_path: cached graph; exported from ``model`` if missing (or unreadable).
        num_threads: intra-op threads (``None``: every core this process may use).
        spin: let idle intra-op threads busy-wait between calls (lowest latency, but burns CPU that a renderer
            in the same process could use; off by default).
    """

    name = "onnxruntime"

    def __init__(
        self,
        model: PixelEncoder,
        image_size: int,
        onnx_path: Path,
        num_threads: int | None = None,
        spin: bool = False,
    ) -> None:
        import onnxruntime as ort

        self.num_threads = num_threads or available_cores()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.num_threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self.onnx_path = onnx_path
        if not onnx_path.is_file():
            export_onnx(model, image_size, onnx_path)
        try:
            self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception:  # an unreadable cache entry (e.g. written by another onnx version): export again
            export_onnx(model, image_size, onnx_path)
            self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"pixels": pixels})[0]
