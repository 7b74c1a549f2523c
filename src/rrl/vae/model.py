"""The convolutional VAE (:class:`ConvVAE`), its loss (the negative ELBO) and its input normalisation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rrl.vae.config import RECON_LOSSES, VAEConfig


class VAEEncoderNet(nn.Module):
    """q(z|x): stride-2 4x4 convolutions with ReLU, then a linear layer to (mu, logvar). Input NCHW in [0, 1]."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in cfg.channels:
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.ReLU()]
            c_in = c
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * cfg.bottleneck**2, 2 * cfg.latent_dim)
        self.latent_dim = cfg.latent_dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(torch.flatten(self.conv(x), 1))
        return h[:, : self.latent_dim], h[:, self.latent_dim :]


class VAEDecoderNet(nn.Module):
    """p(x|z): a linear layer to the bottleneck map, then stride-2 4x4 transposed convolutions; returns logits."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        chans = cfg.channels[::-1]
        self.shape = (chans[0], cfg.bottleneck, cfg.bottleneck)
        self.fc = nn.Linear(cfg.latent_dim, chans[0] * cfg.bottleneck**2)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans, chans[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(chans[-1], 3, 4, stride=2, padding=1))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(F.relu(self.fc(z)).view(-1, *self.shape))


class ConvVAE(nn.Module):
    """Convolutional VAE for ``image_size`` x ``image_size`` RGB frames (Kingma & Welling, 2014)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = VAEEncoderNet(cfg)
        self.decoder = VAEDecoderNet(cfg)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: NCHW in [0, 1] -> (decoder logits, mu, logvar), with z = mu + exp(logvar / 2) * eps."""
        mu, logvar = self.encoder(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decoder(z), mu, logvar

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction from z = mu(x), in [0, 1]."""
        mu, _ = self.encoder(x)
        return torch.sigmoid(self.decoder(mu))


def vae_loss(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, recon_loss: str = "bernoulli"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image negative ELBO terms, averaged over the batch (Kingma & Welling, 2014, Eq. 10):

        recon = -E_q[log p(x|z)]  (one sample of z), summed over pixels and channels:
                bernoulli: sum BCE(sigmoid(logits), x);  mse: sum (sigmoid(logits) - x)^2 (Gaussian, var 1/2)
        kl    = KL(N(mu, exp(logvar)) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar))

    Returns ``(recon, kl)``; the training loss is ``recon + beta * kl``.
    """
    if recon_loss == "bernoulli":
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    elif recon_loss == "mse":
        rec = (torch.sigmoid(logits) - x) ** 2
    else:
        raise ValueError(f"recon_loss must be one of {', '.join(RECON_LOSSES)}, got {recon_loss!r}")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
    return rec.flatten(1).sum(1).mean(), kl.mean()


def to_unit_nchw(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 NHWC frames -> float32 NCHW in [0, 1] (the VAE's input normalisation)."""
    x = torch.as_tensor(frames)
    return x.permute(0, 3, 1, 2).float().div_(255.0)
