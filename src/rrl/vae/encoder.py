"""The frozen VAE encoder for :mod:`rrl.encoders`, registered there as ``vae``: features are the mean of q(z|x)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from rrl.encoders.base import Backbone, EncoderArch, existing_file
from rrl.vae.checkpoint import load_checkpoint
from rrl.vae.config import VAEConfig
from rrl.vae.model import ConvVAE, VAEEncoderNet


def resize_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """``(n_out, n_in)`` matrix of 1-D antialiased bilinear resizing (torch's ``antialias=True`` filter).

    Antialiased bilinear resizing is separable, so an image resizes as ``R_h @ x @ R_w.T``: plain matrix
    products, which export to ONNX opset 17 (``_upsample_bilinear2d_aa`` does not).
    """
    # impulses along H; W = 2 because torch 2.x's antialiased kernel mis-handles inputs of width 1
    eye = torch.eye(n_in, dtype=torch.float64).view(n_in, 1, n_in, 1).expand(n_in, 1, n_in, 2).contiguous()
    out = F.interpolate(eye, size=(n_out, 2), mode="bilinear", antialias=True, align_corners=False)
    return out[:, 0, :, 0].T.float().contiguous()


class VAEFeatures(nn.Module):
    """Frozen feature trunk: NCHW images in [0, 1] -> mu(x) ``(N, latent_dim)``.

    Images that are not ``image_size`` square are first resized to it (antialiased bilinear, as matrix products
    so the ONNX export works). To resize rather than center crop, pass :func:`rrl.encoders.make_encoder` an
    ``image_size`` equal to your frame size: the encoder's own resize + center crop then leaves frames untouched.
    """

    def __init__(self, encoder: VAEEncoderNet, image_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.image_size = image_size
        self._resize: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        if (h, w) != (self.image_size, self.image_size):
            if (h, w) not in self._resize:
                self._resize[(h, w)] = (resize_matrix(h, self.image_size), resize_matrix(w, self.image_size))
            r_h, r_w = (r.to(x.device) for r in self._resize[(h, w)])
            x = torch.matmul(torch.matmul(r_h, x), r_w.T)
        return self.encoder(x)[0]


class VAEEncoderArch(EncoderArch):
    """``make_encoder("vae", weights=CHECKPOINT)``: features are the mean of q(z|x) (paper appendix 7.4).

    The latent size, architecture and input normalisation come from the checkpoint. Without ``weights``, the
    newest checkpoint in ``<cache>/vae/`` is NOT guessed: pass the file ``rrl vae train`` wrote. ``random:vae``
    gives a seeded untrained encoder of the default architecture (latent 512, 64x64).
    """

    feature_dim: ClassVar[int] = VAEConfig().latent_dim
    mean: ClassVar[tuple[float, float, float]] = (0.0, 0.0, 0.0)
    std: ClassVar[tuple[float, float, float]] = (1.0, 1.0, 1.0)

    def find_weights(self, weights: str | os.PathLike | None) -> Path:
        if weights is None:
            from rrl.paths import cache_dir

            folder = cache_dir() / "vae"
            found = sorted(p.name for p in folder.glob("*.pt")) if folder.is_dir() else []
            have = f" Checkpoints in {folder}: {', '.join(found)}." if found else f" {folder} has no checkpoint yet."
            raise FileNotFoundError(
                "encoder 'vae' needs a trained VAE checkpoint: pass weights=PATH (--encoder-weights PATH); make one "
                f"with `rrl vae train --task door` (written to {folder}/ by default).{have}"
            )
        return existing_file(weights, "VAE checkpoint for encoder 'vae'")

    def build(self, weights: Path | None) -> Backbone:
        if weights is None:
            model = ConvVAE(VAEConfig())
        else:
            model, ckpt = load_checkpoint(weights)
            norm = ckpt.get("normalisation", {})
            self.mean = tuple(norm.get("mean", (0.0, 0.0, 0.0)))  # type: ignore[misc]
            self.std = tuple(norm.get("std", (1.0, 1.0, 1.0)))  # type: ignore[misc]
        self.feature_dim = model.cfg.latent_dim  # type: ignore[misc]
        trunk = VAEFeatures(model.encoder, model.cfg.image_size)
        last_conv = f"encoder.conv.{2 * len(model.cfg.channels) - 2}"
        return Backbone(trunk, head=None, target_layer=last_conv)
