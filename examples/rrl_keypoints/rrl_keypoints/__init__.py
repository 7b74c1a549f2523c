"""An example rrl encoder plugin: image coordinates instead of pooled features.

RRL pools the last feature map of a frozen ImageNet network into one vector: *what* is in the frame, with
*where* only implicit. These encoders keep the where: the feature map of an earlier stage of the same frozen
EfficientNet-Lite0 (ImageNet weights, offline), and for each channel the expected image position under a
softmax over its activations (a spatial soft-argmax, as in Levine et al. 2016, "End-to-end training of deep
visuomotor policies", here with no training). A channel that fires on the door handle gives the handle's x / y.

- ``KeypointsS8``: stage 3 (stride 8; 40 channels): 80 features, a 16 x 16 map at 128 px.
- ``KeypointsS16``: stage 5 (stride 16; 112 channels): 224 features, 8 x 8 at 128 px.

Use it without installing (``PYTHONPATH=examples/rrl_keypoints``)::

    rrl train --task door --preset smoke --encoder rrl_keypoints:KeypointsS8
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rrl.encoders import Backbone
from rrl.encoders.efficientnet import EfficientNetLite0


class SpatialSoftArgmax(nn.Module):
    """``(N, C, H, W)`` -> ``(N, 2C)``: per channel, the expected ``x`` then ``y`` (each in [-1, 1]) under a
    softmax over the ``H * W`` positions of the channel's activations, standardised over those positions and
    divided by ``temperature`` (raw activations of a pretrained stage span tens of units: their softmax would be
    a hard argmax, jumping from cell to cell)."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        flat = x.reshape(n, c, h * w)
        z = (flat - flat.mean(dim=-1, keepdim=True)) / (flat.std(dim=-1, keepdim=True) + 1e-6)
        p = torch.softmax(z / self.temperature, dim=-1).reshape(n, c, h, w)
        xs = torch.linspace(-1.0, 1.0, w, dtype=x.dtype, device=x.device)
        ys = torch.linspace(-1.0, 1.0, h, dtype=x.dtype, device=x.device)
        ex = (p.sum(dim=2) * xs).sum(dim=-1)
        ey = (p.sum(dim=3) * ys).sum(dim=-1)
        return torch.cat([ex, ey], dim=1)


class _Keypoints(EfficientNetLite0):
    """EfficientNet-Lite0 (its ImageNet weights) up to ``blocks[:n_blocks]``, then :class:`SpatialSoftArgmax`."""

    n_blocks: int
    channels: int

    def build(self, weights: Path | None) -> Backbone:
        net = super().build(weights).trunk  # timm's efficientnet_lite0 with the weights loaded
        trunk = nn.Sequential(net.conv_stem, net.bn1, *net.blocks[: self.n_blocks], SpatialSoftArgmax())
        return Backbone(trunk, head=None, target_layer=str(1 + self.n_blocks))  # the last stage kept


class KeypointsS8(_Keypoints):
    n_blocks, channels = 3, 40
    feature_dim = 2 * channels


class KeypointsS16(_Keypoints):
    n_blocks, channels = 5, 112
    feature_dim = 2 * channels
