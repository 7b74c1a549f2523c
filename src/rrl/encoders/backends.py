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


class CudaGraphs:
    """Replays one captured CUDA graph of ``model`` per batch size (at most ``max_graphs`` sizes, then eager).

    A small-batch call of a CNN on a GPU is bound by kernel launches: ResNet-34 at batch 8 runs barely faster
    than at batch 1 (docs/benchmarks.md, "GPU box"). A graph replays all the kernels with one launch. The input
    is copied into the graph's static buffer; the returned tensor is the static output, valid until the next call.
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, max_graphs: int = 8) -> None:
        self.model, self.device, self.max_graphs = model, device, max_graphs
        self.graphs: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor, torch.cuda.CUDAGraph]] = {}

    def _capture(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.cuda.CUDAGraph]:
        static_in = torch.zeros(shape, dtype=torch.uint8, device=self.device)
        side = torch.cuda.Stream(self.device)  # warm-up off the default stream, as torch.cuda.graph requires
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(2):
                self.model(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(graph):
            static_out = self.model(static_in)
        return static_in, static_out, graph

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = tuple(x.shape)
        if key not in self.graphs:
            if len(self.graphs) >= self.max_graphs:
                with torch.no_grad():
                    return self.model(x.to(self.device))
            self.graphs[key] = self._capture(key)
        static_in, static_out, graph = self.graphs[key]
        static_in.copy_(x)
        graph.replay()
        return static_out


class TorchBackend:
    """Eval mode, no gradients, inference mode, ``channels_last`` memory format; CUDA graphs on a GPU."""

    name = "torch"

    def __init__(
        self, model: PixelEncoder, device: str = "cpu", num_threads: int | None = None, cuda_graphs: bool = True
    ) -> None:
        self.device = torch.device(device)
        self.num_threads = num_threads
        self.model = model.to(self.device, memory_format=torch.channels_last).eval().requires_grad_(False)
        self._graphs = CudaGraphs(self.model, self.device) if cuda_graphs and self.device.type == "cuda" else None

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if not pixels.flags.writeable:  # e.g. a shared-memory view; torch.from_numpy warns on read-only arrays
            pixels = pixels.copy()
        if self._graphs is not None:
            return self._graphs(torch.from_numpy(pixels)).float().cpu().numpy()
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
