"""VAE checkpoints: config, input normalisation and weights in one versioned torch file."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

from rrl.encoders.base import existing_file
from rrl.paths import atomic_write
from rrl.vae.config import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, VAECheckpointError, VAEConfig
from rrl.vae.model import ConvVAE


def save_checkpoint(model: ConvVAE, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Write ``{format, version, config, normalisation, state_dict, **extra}`` atomically (temp file + rename).

    ``extra`` must hold only plain Python values (it is read back with ``torch.load(weights_only=True)``).
    """
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": {**dataclasses.asdict(model.cfg), "channels": list(model.cfg.channels)},
        # inputs are uint8 / 255 in [0, 1]; no per-channel mean/std (the rrl.encoders Normalize convention)
        "normalisation": {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **(extra or {}),
    }
    return atomic_write(Path(path), lambda f: torch.save(ckpt, f), binary=True)


def load_checkpoint(path: str | os.PathLike) -> tuple[ConvVAE, dict[str, Any]]:
    """Load a :func:`save_checkpoint` file: ``(model in eval mode, the checkpoint dict)``.

    Raises:
        FileNotFoundError: no file at ``path``.
        VAECheckpointError: the file is not a torch file, not an rrl VAE checkpoint, of another version, or its
            weights do not fit its config.
    """
    path = existing_file(path, "VAE checkpoint")
    hint = "train one with `rrl vae train --task door` and pass the .pt file it writes"
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError / UnpicklingError / EOFError for damaged files
        raise VAECheckpointError(f"{path} is not a readable torch checkpoint ({type(err).__name__}); {hint}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise VAECheckpointError(
            f"{path}: expected an rrl VAE checkpoint (format {CHECKPOINT_FORMAT!r}), found {found!r}; {hint}"
        )
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise VAECheckpointError(
            f"{path}: VAE checkpoint version {ckpt.get('version')} is not supported (expected "
            f"{CHECKPOINT_VERSION}); retrain with this rrl version"
        )
    try:
        cfg = VAEConfig(**ckpt["config"])
        model = ConvVAE(cfg)
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise VAECheckpointError(f"{path}: VAE checkpoint config and weights do not fit ({err}); {hint}") from err
    return model.eval(), ckpt
