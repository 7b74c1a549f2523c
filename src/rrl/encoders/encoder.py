"""The frozen encoder object the rest of rrl uses: frames in, features out (paper section 3.4, Eq. 10)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from rrl.encoders import registry
from rrl.encoders.backends import ONNX_OPSET, OnnxRuntimeBackend, TorchBackend, resolve_backend, torch_threads
from rrl.encoders.base import Backbone, PixelEncoder, state_dict_hash
from rrl.encoders.preprocessing import check_frames, resize_center_crop, resize_size

PREPROCESSING_VERSION = 1


class Encoder:
    """A frozen image encoder: uint8 frames ``(N, H, W, 3)`` -> float32 features ``(N, feature_dim)``.

    Make one with :func:`make_encoder`. Attributes:
        name: registered name (``random:`` prefix included).
        feature_dim: features per view.
        image_size: side of the square crop the network sees.
        backend: ``"torch"`` or ``"onnxruntime"``.
        fingerprint: sha256 hex of the weights, the preprocessing and the image size. Equal fingerprints give
            equal features up to rounding (~1e-6 relative) on CPU backends; on CUDA, TF32 convolutions differ
            from the CPU by up to ~4e-2 of a feature's std, so a cache key also needs backend and device.
        weights_hash: sha256 hex of the network's parameters and buffers.
        has_classifier: whether :meth:`classify` (and Grad-CAM) work.
    """

    def __init__(
        self,
        name: str,
        model: PixelEncoder,
        feature_dim: int,
        image_size: int,
        weights_hash: str,
        fingerprint: str,
        backend: TorchBackend | OnnxRuntimeBackend,
        device: str,
        batch_size: int,
    ) -> None:
        self.name, self.feature_dim, self.image_size = name, feature_dim, image_size
        self.weights_hash, self.fingerprint = weights_hash, fingerprint
        self.model = model  # torch module (on `device` for torch, on the CPU for onnxruntime): classify, Grad-CAM
        self._run = backend
        self.backend: str = backend.name
        self.device = torch.device(device) if backend.name == "torch" else torch.device("cpu")
        self.batch_size = batch_size

    @property
    def has_classifier(self) -> bool:
        return self.model.backbone.head is not None

    @property
    def num_threads(self) -> int | None:
        """Intra-op threads of the backend (torch: ``None`` = torch's global setting)."""
        return self._run.num_threads

    @property
    def onnx_path(self) -> Path | None:
        """The cached ONNX graph the onnxruntime backend runs (``None`` for torch)."""
        return getattr(self._run, "onnx_path", None)

    def __repr__(self) -> str:
        return (
            f"Encoder({self.name!r}, feature_dim={self.feature_dim}, image_size={self.image_size}, "
            f"backend={self.backend!r}, fingerprint={self.fingerprint[:12]}...)"
        )

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        """uint8 ``(N, H, W, 3)`` -> the uint8 ``(N, S, S, 3)`` crops the network sees (resize + center crop)."""
        return resize_center_crop(frames, self.image_size)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Features of uint8 RGB frames ``(N, H, W, 3)`` (any size): float32 ``(N, feature_dim)``."""
        pixels = self.preprocess(check_frames(frames))
        if len(pixels) == 0:
            return np.zeros((0, self.feature_dim), np.float32)
        chunks = [self._run(pixels[i : i + self.batch_size]) for i in range(0, len(pixels), self.batch_size)]
        return np.ascontiguousarray(np.concatenate(chunks) if len(chunks) > 1 else chunks[0], dtype=np.float32)

    def encode_views(self, pixels: np.ndarray) -> np.ndarray:
        """Multi-camera frames uint8 ``(N, n_cams, H, W, 3)`` -> ``(N, n_cams * feature_dim)``, views concatenated
        in camera order (paper: features of every camera side by side)."""
        pixels = np.asarray(pixels)
        if pixels.ndim != 5:
            raise ValueError(f"expected uint8 frames (N, n_cams, H, W, 3), got shape {pixels.shape}")
        n, cams = pixels.shape[:2]
        feats = self(pixels.reshape(n * cams, *pixels.shape[2:]))
        return feats.reshape(n, cams * self.feature_dim)

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """ImageNet logits ``(N, 1000)`` from the classifier head kept aside (a check that the weights are right).

        Raises:
            ValueError: if the encoder has no classifier head.
        """
        if not self.has_classifier:
            raise ValueError(f"encoder {self.name!r} has no classifier head")
        pixels = torch.from_numpy(self.preprocess(check_frames(frames))).to(self.device)
        with torch_threads(self.num_threads), torch.inference_mode():
            x = self.model.normalize(pixels).contiguous(memory_format=torch.channels_last)
            return self.model.backbone.classify(x).float().cpu().numpy()


def _fingerprint(name: str, weights_hash: str, image_size: int, mean, std) -> str:
    spec = {
        "encoder": name,
        "weights": weights_hash,
        "image_size": image_size,
        "resize": resize_size(image_size),
        "resize_mode": "bilinear-antialias-uint8-center-crop",
        "mean": list(mean),
        "std": list(std),
        "version": PREPROCESSING_VERSION,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def onnx_cache_path(name: str, fingerprint: str, image_size: int) -> Path:
    """``<cache_dir>/onnx/<name>-<size>px-<key>.onnx``, keyed by weights hash + preprocessing + size + opset."""
    from rrl.paths import cache_dir

    key = hashlib.sha256(f"{fingerprint}|opset{ONNX_OPSET}".encode()).hexdigest()[:20]
    return cache_dir() / "onnx" / f"{name.replace(':', '-')}-{image_size}px-{key}.onnx"


def make_encoder(
    name: str = "resnet34",
    backend: str = "auto",
    device: str = "cpu",
    image_size: int = 224,
    weights: str | os.PathLike | None = None,
    seed: int = 0,
    num_threads: int | None = None,
    batch_size: int | None = None,
    spin: bool = False,
    cuda_graphs: bool = True,
) -> Encoder:
    """Build a frozen encoder.

    Args:
        name: a registered name (:func:`available_encoders`) or ``random:<name>`` (same architecture, weights
            drawn with ``seed``: a control for whether pretraining matters).
        backend: ``"auto"`` (onnxruntime on the CPU when installed, else torch), ``"torch"`` or ``"onnxruntime"``.
        device: torch device (``"cpu"``, ``"cuda"``); onnxruntime runs on the CPU.
        image_size: side of the center crop fed to the network (paper: 224 from 256 renders).
        weights: explicit checkpoint path; ``None`` looks in the encoder's default place.
        seed: seed of the random weights of ``random:<name>``.
        num_threads: intra-op threads. onnxruntime: ``None`` = every available core. torch: ``None`` leaves
            torch's global setting (by default the physical cores); a number applies during each call only.
        batch_size: largest batch sent to the backend at once; bigger inputs are split. ``None``: 8 for torch on
            the CPU, 16 for onnxruntime, 64 on a GPU (CPU throughput drops with bigger chunks, see
            docs/benchmarks.md "Encoders").
        spin: onnxruntime only: busy-wait threads between calls (faster back-to-back calls, burns idle CPU).
        cuda_graphs: torch on a GPU only: replay captured CUDA graphs, one per batch size (small batches are
            launch-bound otherwise; :class:`rrl.encoders.backends.CudaGraphs`).

    Raises:
        FileNotFoundError: pretrained weights are missing (raised before any network is built).
        ValueError: unknown name/backend, an inconsistent combination, or a CUDA device on a machine without one.
    """
    base, random = registry.parse_name(name)
    if random and weights is not None:
        raise ValueError(f"{name!r} uses seeded random weights; do not pass weights={weights!r}")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size}")
    backend = resolve_backend(backend, device)
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r}: torch finds no CUDA GPU on this machine; use device 'cpu' (`--device cpu`, "
            "also accepted by `rrl train --resume`, `rrl eval` and `rrl experiment robustness`)"
        )
    if batch_size is None:
        batch_size = 16 if backend == "onnxruntime" else 8 if torch.device(device).type == "cpu" else 64
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    arch = registry.get_arch(base)
    path = None if random else arch.find_weights(weights)  # fail fast, before anything heavy
    with torch.random.fork_rng(devices=[]):  # random weights must not touch the caller's RNG
        torch.manual_seed(seed)
        backbone: Backbone = arch.build(path)
    backbone.eval().requires_grad_(False)
    model = PixelEncoder(backbone, arch.mean, arch.std).eval()
    weights_hash = state_dict_hash(backbone)
    fingerprint = _fingerprint(name, weights_hash, image_size, arch.mean, arch.std)
    if backend == "onnxruntime":
        onnx_path = onnx_cache_path(name, fingerprint, image_size)
        runner = OnnxRuntimeBackend(model, image_size, onnx_path, num_threads, spin)
    else:
        runner = TorchBackend(model, device, num_threads, cuda_graphs)
    return Encoder(name, model, arch.feature_dim, image_size, weights_hash, fingerprint, runner, device, batch_size)
