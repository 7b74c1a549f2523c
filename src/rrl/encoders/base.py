"""What one encoder is: an :class:`EncoderArch` (weights lookup + network builder) producing a :class:`Backbone`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from rrl.encoders.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Normalize


class Backbone(nn.Module):
    """A frozen feature network: ``trunk`` maps normalised NCHW images to ``(N, feature_dim)`` features.

    Args:
        trunk: the network up to and including global pooling (classifier removed).
        head: the classifier removed from it (ImageNet logits), kept for checks and Grad-CAM; ``None`` if the
            encoder has none (e.g. a VAE).
        target_layer: name (inside ``trunk``) of the last convolutional stage, the Grad-CAM layer.
    """

    def __init__(self, trunk: nn.Module, head: nn.Module | None = None, target_layer: str | None = None) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.target_layer = target_layer
        if target_layer is not None:
            trunk.get_submodule(target_layer)  # fail early on a wrong name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            raise ValueError("this encoder has no classifier head (classify/explain need one)")
        return self.head(self.trunk(x))


class PixelEncoder(nn.Module):
    """uint8 NHWC pixels -> features: :class:`Normalize` then the backbone. This is what both backends run."""

    def __init__(self, backbone: Backbone, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.backbone = backbone

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalize(pixels))


class EncoderArch:
    """One encoder architecture. Subclass it, set ``feature_dim``, implement :meth:`build` (and
    :meth:`find_weights` if the weights come from somewhere special), then register it (see ``rrl.encoders``).

    ``mean``/``std`` are the input normalisation in [0, 1] pixel units (ImageNet by default).
    """

    feature_dim: ClassVar[int]
    mean: ClassVar[tuple[float, float, float]] = IMAGENET_MEAN
    std: ClassVar[tuple[float, float, float]] = IMAGENET_STD

    def __init__(self, name: str) -> None:
        self.name = name

    def find_weights(self, weights: str | os.PathLike | None) -> Path:
        """Path of the pretrained weights to load. Called before anything else is built, so that a missing file
        fails fast. ``weights`` is the user's explicit path or ``None`` (look in the default place).

        Raises:
            FileNotFoundError: with what file is expected, where to put it, and what to do instead.
        """
        if weights is None:
            raise FileNotFoundError(
                f"encoder {self.name!r} has no default weights; pass weights=PATH (--encoder-weights PATH), "
                f"or use random:{self.name} for seeded random weights"
            )
        return existing_file(weights, f"weights for encoder {self.name!r}")

    def build(self, weights: Path | None) -> Backbone:
        """The network with ``weights`` loaded; random initialisation (seeded by the caller) when ``None``."""
        raise NotImplementedError


def existing_file(path: str | os.PathLike, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{what}: file {path} does not exist")
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def state_dict_hash(module: nn.Module) -> str:
    """sha256 of a module's parameters and buffers (names, dtypes, shapes, values)."""
    h = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        arr = np.ascontiguousarray(tensor.detach().cpu().numpy()).reshape(-1)
        h.update(f"{key}|{arr.dtype}|{tuple(tensor.shape)}|".encode())
        h.update(arr.view(np.uint8).data)
    return h.hexdigest()
