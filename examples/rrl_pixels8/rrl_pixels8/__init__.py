"""An example rrl encoder plugin: the frame averaged over an 8x8 grid of blocks, per colour channel (192
features per view). No weights, no learning: a floor for what a representation must beat, and for the door's
positions a surprisingly strong one (the feature probe reads them from 8x8 pixels with R^2 >= 0.99).

Use it without installing anything (``PYTHONPATH=examples/rrl_pixels8``)::

    rrl train --task door --preset smoke --encoder rrl_pixels8:Pixels8

or install it (``pip install -e examples/rrl_pixels8``) and use the name its entry point registers::

    rrl train --task door --preset smoke --encoder pixels8
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from rrl.encoders import Backbone, EncoderArch

GRID = 8


class Pixels8(EncoderArch):
    """Frames in [0, 1] (``mean`` 0, ``std`` 1), averaged over a ``GRID`` x ``GRID`` grid: ``3 * GRID**2`` features."""

    feature_dim = 3 * GRID * GRID
    mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

    def find_weights(self, weights: str | Path | None) -> Path | None:
        if weights is not None:
            raise ValueError(f"encoder {self.name!r} has no weights; drop --encoder-weights {weights}")
        return None  # nothing to load

    def build(self, weights: Path | None) -> Backbone:
        # A 1x1 identity convolution first: Grad-CAM needs a convolutional layer to look at.
        conv = nn.Conv2d(3, 3, kernel_size=1, bias=False)
        nn.init.dirac_(conv.weight)
        trunk = nn.Sequential(conv, nn.AdaptiveAvgPool2d(GRID), nn.Flatten())
        return Backbone(trunk, head=None, target_layer="0")
