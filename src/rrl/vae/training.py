"""Training the VAE: seeded Adam on the negative ELBO (:func:`fit`) and the whole collect-train-save run
(:func:`train_vae`)."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rrl.vae.checkpoint import save_checkpoint
from rrl.vae.config import VAETrainConfig
from rrl.vae.data import FrameDataset, collect_frames
from rrl.vae.model import ConvVAE, to_unit_nchw, vae_loss


@dataclass
class VAETrainResult:
    """What :func:`train_vae` produced: the checkpoint, the per-epoch losses and the data it saw."""

    checkpoint: Path
    history: list[dict[str, float]]
    dataset: FrameDataset
    val_index: np.ndarray
    model: ConvVAE
    collect_seconds: float
    train_seconds: float


@torch.no_grad()
def evaluate(model: ConvVAE, frames: np.ndarray, batch_size: int = 256) -> dict[str, float]:
    """Per-image recon (z = mu, deterministic) and KL, and per-pixel MSE of the reconstruction, on ``frames``."""
    model.eval()
    rec_sum = kl_sum = mse_sum = 0.0
    for i in range(0, len(frames), batch_size):
        x = to_unit_nchw(frames[i : i + batch_size])
        mu, logvar = model.encoder(x)
        logits = model.decoder(mu)
        rec, kl = vae_loss(logits, x, mu, logvar, model.cfg.recon_loss)
        rec_sum += float(rec) * len(x)
        kl_sum += float(kl) * len(x)
        mse_sum += float(((torch.sigmoid(logits) - x) ** 2).mean()) * len(x)
    n = max(len(frames), 1)
    return {"recon": rec_sum / n, "kl": kl_sum / n, "pixel_mse": mse_sum / n}


def fit(
    model: ConvVAE,
    frames: np.ndarray,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    beta: float = 1.0,
    seed: int = 0,
    val_frames: np.ndarray | None = None,
    progress: bool = False,
) -> list[dict[str, float]]:
    """Adam on ``recon + beta * kl`` (:func:`vae_loss`) over uint8 NHWC ``frames``; one history row per epoch
    (train averages over the epoch's minibatches, validation with z = mu)."""
    from tqdm import tqdm

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    data = torch.from_numpy(np.ascontiguousarray(frames))
    n_batches = math.ceil(len(data) / batch_size)
    history: list[dict[str, float]] = []
    with tqdm(total=epochs * n_batches, desc="train VAE", unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(data), generator=gen)
            sums = {"recon": 0.0, "kl": 0.0}
            for b in range(n_batches):
                x = to_unit_nchw(data[order[b * batch_size : (b + 1) * batch_size]])
                logits, mu, logvar = model(x, generator=gen)
                rec, kl = vae_loss(logits, x, mu, logvar, model.cfg.recon_loss)
                loss = rec + beta * kl
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"VAE loss became {float(loss)} at epoch {epoch}, batch {b}; lower lr")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sums["recon"] += rec.item() * len(x)
                sums["kl"] += kl.item() * len(x)
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, recon=f"{rec.item():.1f}", kl=f"{kl.item():.1f}")
            row = {"epoch": epoch + 1, "train_recon": sums["recon"] / len(data), "train_kl": sums["kl"] / len(data)}
            if val_frames is not None and len(val_frames):
                row.update({f"val_{k}": v for k, v in evaluate(model, val_frames).items()})
            history.append(row)
    model.eval()
    return history


def train_vae(
    cfg: VAETrainConfig,
    out: str | os.PathLike | None = None,
    dataset: FrameDataset | None = None,
    progress: bool = False,
) -> VAETrainResult:
    """Collect frames (unless ``dataset`` is given), train the VAE and save a checkpoint at ``out``
    (default :meth:`VAETrainConfig.default_checkpoint`)."""
    t0 = time.perf_counter()
    if dataset is None:
        dataset = collect_frames(
            cfg.tasks, cfg.frames, cfg.vae.image_size, cfg.seed, cfg.small_noise, cfg.large_noise, cfg.camera, progress
        )
    elif dataset.frames.shape[1:] != (cfg.vae.image_size, cfg.vae.image_size, 3):
        raise ValueError(
            f"dataset frames are {dataset.frames.shape[1:]}, the VAE expects "
            f"({cfg.vae.image_size}, {cfg.vae.image_size}, 3); collect frames at that size"
        )
    collect_seconds = time.perf_counter() - t0
    rng = np.random.default_rng([cfg.seed, 0x5B1])
    perm = rng.permutation(len(dataset))
    n_val = int(round(cfg.val_fraction * len(dataset)))
    val_index, train_index = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = ConvVAE(cfg.vae)
    t1 = time.perf_counter()
    history = fit(
        model,
        dataset.frames[train_index],
        cfg.epochs,
        cfg.batch_size,
        cfg.lr,
        cfg.beta,
        cfg.seed,
        val_frames=dataset.frames[val_index],
        progress=progress,
    )
    train_seconds = time.perf_counter() - t1
    train_cfg = dataclasses.asdict(cfg)
    train_cfg["tasks"] = list(cfg.tasks)
    train_cfg["vae"]["channels"] = list(cfg.vae.channels)
    path = Path(out) if out is not None else cfg.default_checkpoint()
    extra = {
        "train_config": train_cfg,
        "history": history,
        "data": {"counts": dataset.counts(), "episodes": dataset.metadata.get("episodes"), "frames": len(dataset)},
        "seconds": {"collect": round(collect_seconds, 2), "train": round(train_seconds, 2)},
        "torch_version": str(torch.__version__),
    }
    save_checkpoint(model, path, extra)
    return VAETrainResult(path, history, dataset, val_index, model, collect_seconds, train_seconds)
