"""Image preprocessing of the paper (section 7.2): resize to 256, center crop 224, ImageNet mean/std.

Split in two so that the part that runs on every frame can live inside the network graph:

- :func:`resize_center_crop` (numpy/torch, outside the graph): uint8 ``(N, H, W, 3)`` of any size ->
  uint8 ``(N, S, S, 3)``. Resize the shorter side to ``round(S * 256 / 224)`` (bilinear, antialiased, rounded back
  to uint8 like torchvision's PIL pipeline), then center crop ``S``. Frames that are already ``S x S`` (the normal
  case: the env renders 256 and crops 224) pass through untouched.
- :class:`Normalize` (an ``nn.Module``, inside the graph, exported to ONNX too): uint8 NHWC -> float32 NCHW,
  ``(x / 255 - mean) / std``. The NHWC -> NCHW permute of a contiguous NHWC tensor is already ``channels_last``
  in memory, so the torch backend needs no copy.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_size(image_size: int) -> int:
    """Shorter-side size before the center crop: 256 for a 224 crop (paper), scaled for other sizes."""
    return round(image_size * 256 / 224)


def check_frames(frames: np.ndarray) -> np.ndarray:
    """Validate a batch of RGB frames: uint8 ``(N, H, W, 3)``."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"expected uint8 RGB frames of shape (N, H, W, 3), got {frames.dtype} {frames.shape}; "
            "for a single frame use frames[None], for several cameras use encode_views"
        )
    return frames


def resize_center_crop(frames: np.ndarray, image_size: int) -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` -> uint8 ``(N, image_size, image_size, 3)`` (paper: resize 256, crop 224)."""
    frames = check_frames(frames)
    n, h, w, _ = frames.shape
    if h == image_size and w == image_size:
        return np.ascontiguousarray(frames)
    if n == 0:
        return np.zeros((0, image_size, image_size, 3), np.uint8)
    short = resize_size(image_size)
    # torchvision Resize(int): the shorter side becomes `short`, the longer one keeps the aspect ratio.
    new_h, new_w = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    if (new_h, new_w) != (h, w):
        x = F.interpolate(x.float(), size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
        x = x.round_().clamp_(0, 255).to(torch.uint8)
    top, left = int(round((new_h - image_size) / 2.0)), int(round((new_w - image_size) / 2.0))
    x = x[:, :, top : top + image_size, left : left + image_size]
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())


class Normalize(nn.Module):
    """uint8 NHWC pixels -> float32 NCHW ``(x / 255 - mean) / std`` (as one multiply-add)."""

    def __init__(self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> None:
        super().__init__()
        mean_t, std_t = torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)
        self.register_buffer("scale", (1.0 / (255.0 * std_t)).float().view(1, 3, 1, 1))
        self.register_buffer("shift", (-mean_t / std_t).float().view(1, 3, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.permute(0, 3, 1, 2).float() * self.scale + self.shift
