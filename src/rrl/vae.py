"""RRL(VAE), the learned-representation baseline of paper section 5.3 / appendix 7.4.

A convolutional variational auto-encoder (Kingma & Welling, 2014) is trained on 64x64 frames of the task's RRL
camera; its frozen encoder (the mean of q(z|x), 512-d like ResNet-34's features) then replaces ResNet in RRL.

>>> from rrl.vae import VAETrainConfig, train_vae
>>> result = train_vae(VAETrainConfig(tasks=("door",), frames=20_000, epochs=10))   # collect + train + save
>>> from rrl.encoders import make_encoder
>>> enc = make_encoder("vae", weights=result.checkpoint, image_size=64)
>>> feats = enc(frames)                    # uint8 (N, 64, 64, 3) -> float32 (N, 512): the mean of q(z|x)

Pieces:

- :func:`collect_frames`: the appendix 7.4 data set, 25% each from the expert policy's mean action, the expert
  plus small Gaussian action noise, the expert plus large noise, and uniformly random actions.
- :class:`ConvVAE`: encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), decoder p(x|z) with Bernoulli (default)
  or fixed-variance Gaussian pixel likelihood; the loss is the negative ELBO (:func:`vae_loss`).
- :func:`train_vae`: seeded Adam training with a tqdm bar; writes a checkpoint atomically.
- :class:`VAEEncoderArch`: the frozen encoder, registered as ``vae`` in :mod:`rrl.encoders`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rrl.encoders.base import Backbone, EncoderArch, existing_file
from rrl.paths import atomic_write

CHECKPOINT_FORMAT = "rrl-vae"
CHECKPOINT_VERSION = 1
FRAMES_FORMAT = "rrl-vae-frames"
FRAMES_VERSION = 1

#: The four data sources of appendix 7.4, in the order they are collected.
SOURCES: tuple[str, ...] = ("expert", "expert_small_noise", "expert_large_noise", "random")
RECON_LOSSES = ("bernoulli", "mse")


class VAECheckpointError(ValueError):
    """A file that is not a readable rrl VAE checkpoint (or frames file) of the expected format and version."""


# --------------------------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of :class:`ConvVAE`.

    Attributes:
        latent_dim: size of z (paper: 512, "for a fair comparison with Resnet").
        image_size: side of the square input frames (paper: 64); must be divisible by ``2 ** len(channels)``.
        channels: output channels of the stride-2 encoder convolutions (mirrored by the decoder).
        recon_loss: ``bernoulli`` (pixel intensities in [0, 1] as Bernoulli means, summed cross-entropy) or
            ``mse`` (Gaussian with fixed variance 1/2: summed squared error).
    """

    latent_dim: int = 512
    image_size: int = 64
    channels: tuple[int, ...] = (32, 64, 128, 256)
    recon_loss: str = "bernoulli"

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"channels must be a non-empty tuple of positive ints, got {self.channels}")
        step = 2 ** len(self.channels)
        if self.image_size < step or self.image_size % step:
            raise ValueError(
                f"image_size must be a positive multiple of 2**len(channels) = {step}, got {self.image_size}"
            )
        if self.recon_loss not in RECON_LOSSES:
            raise ValueError(f"recon_loss must be one of {', '.join(RECON_LOSSES)}, got {self.recon_loss!r}")

    @property
    def bottleneck(self) -> int:
        """Spatial side of the last encoder feature map."""
        return self.image_size // 2 ** len(self.channels)


@dataclass(frozen=True)
class VAETrainConfig:
    """Data collection (appendix 7.4) and training of the VAE.

    Attributes:
        tasks: tasks whose RRL camera provides frames (frames are split equally between tasks).
        frames: total number of frames (paper: 1,000,000), split equally between tasks and the 4 sources.
        epochs: passes over the training frames (paper: 10).
        batch_size, lr: Adam minibatch size and learning rate.
        beta: weight of the KL term (1 = the ELBO of Kingma & Welling).
        small_noise, large_noise: std of the Gaussian noise added to the expert's action (actions live in [-1, 1]).
        val_fraction: share of frames held out to report a validation loss and draw the reconstruction grid.
        seed: seeds the episode resets, the action noise, the weight init, the split and the minibatch order.
        camera: camera name; ``None`` is the task's (first) RRL camera.
        vae: the architecture.
    """

    tasks: tuple[str, ...] = ("door",)
    frames: int = 20_000
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    beta: float = 1.0
    small_noise: float = 0.1
    large_noise: float = 0.5
    val_fraction: float = 0.05
    seed: int = 0
    camera: str | None = None
    vae: VAEConfig = field(default_factory=VAEConfig)

    def __post_init__(self) -> None:
        if isinstance(self.tasks, str) or not self.tasks:
            raise ValueError(f"tasks must be a non-empty tuple of task names, got {self.tasks!r}")
        object.__setattr__(self, "tasks", tuple(self.tasks))
        from rrl.tasks import get_task

        for task in self.tasks:
            get_task(task)  # raises with the valid names
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks repeat: {self.tasks}")
        if self.frames < 4 * len(self.tasks):
            raise ValueError(f"frames must be at least 4 per task (one per source), got {self.frames}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")
        if self.lr <= 0 or self.beta < 0:
            raise ValueError(f"lr must be > 0 and beta >= 0, got lr={self.lr}, beta={self.beta}")
        if not 0 <= self.small_noise <= self.large_noise:
            raise ValueError(f"need 0 <= small_noise <= large_noise, got {self.small_noise}, {self.large_noise}")
        if not 0 <= self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in [0, 0.5), got {self.val_fraction}")

    def default_checkpoint(self) -> Path:
        """``<cache>/vae/<tasks>-<size>px-z<latent>-f<frames>-e<epochs>-s<seed>.pt`` (see rrl.paths.cache_dir)."""
        from rrl.paths import cache_dir

        v = self.vae
        name = f"{'+'.join(self.tasks)}-{v.image_size}px-z{v.latent_dim}-f{self.frames}-e{self.epochs}-s{self.seed}"
        return cache_dir() / "vae" / f"{name}.pt"


# --------------------------------------------------------------------------------------------------------------
# Data (appendix 7.4)
# --------------------------------------------------------------------------------------------------------------


@dataclass
class FrameDataset:
    """Frames for VAE training.

    Attributes:
        frames: uint8 ``(N, S, S, 3)``.
        source: int8 ``(N,)`` index into :data:`SOURCES`.
        task: int8 ``(N,)`` index into ``tasks``.
        action_deviation: float32 ``(N,)`` RMS difference between the action taken from the frame and the
            expert's (clipped) mean action there: 0 for ``expert``, about the noise std for the noisy sources.
        tasks: task names.
        metadata: how the frames were made (seeds, noise levels, camera, timing).
    """

    frames: np.ndarray
    source: np.ndarray
    task: np.ndarray
    action_deviation: np.ndarray
    tasks: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)

    def counts(self) -> dict[str, dict[str, int]]:
        """Frames per task and source."""
        return {
            t: {s: int(np.sum((self.task == i) & (self.source == j))) for j, s in enumerate(SOURCES)}
            for i, t in enumerate(self.tasks)
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ``.npz`` file atomically (temp file + rename)."""
        path = Path(path)
        meta = {"format": FRAMES_FORMAT, "version": FRAMES_VERSION, "tasks": list(self.tasks), **self.metadata}
        arrays = dict(frames=self.frames, source=self.source, task=self.task, action_deviation=self.action_deviation)
        return atomic_write(path, lambda f: np.savez(f, metadata=np.array(json.dumps(meta)), **arrays), binary=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> FrameDataset:
        """Read a file written by :meth:`save`.

        Raises:
            VAECheckpointError: the file is not an rrl frames file of this version.
        """
        path = existing_file(path, "VAE frames file")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["metadata"]))
                arrays = {k: data[k] for k in ("frames", "source", "task", "action_deviation")}
        except (OSError, ValueError, KeyError) as err:
            raise VAECheckpointError(
                f"{path} is not an rrl VAE frames file ({err}); delete it and collect again"
            ) from err
        if meta.get("format") != FRAMES_FORMAT or meta.get("version") != FRAMES_VERSION:
            raise VAECheckpointError(
                f"{path}: expected format {FRAMES_FORMAT!r} version {FRAMES_VERSION}, found "
                f"{meta.get('format')!r} version {meta.get('version')}; delete it and collect again"
            )
        tasks = tuple(meta.pop("tasks"))
        for key in ("format", "version"):
            meta.pop(key)
        return cls(tasks=tasks, metadata=meta, **arrays)


def _split_evenly(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _task_frames(
    task: str,
    n_frames: int,
    image_size: int,
    seed: int,
    small_noise: float,
    large_noise: float,
    camera: str | None,
    task_index: int,
    progress: Callable[[int], None] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Frames of one task: ``n_frames`` split equally over :data:`SOURCES` (the first sources get the remainder)."""
    from rrl.demos import load_expert_policy
    from rrl.envs import EnvConfig, make_env

    spec_cams = EnvConfig(task=task).camera_names
    cams = (camera,) if camera is not None else spec_cams[:1]
    env = make_env(EnvConfig(task=task, obs_mode="rgb", cameras=cams, render_size=image_size, crop_size=None))
    policy = load_expert_policy(task)
    base = env.unwrapped
    low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
    if base._get_obs().shape != (policy.obs_dim,) or env.action_space.shape != (policy.act_dim,):
        raise ValueError(
            f"the {task} expert expects state {policy.obs_dim} / action {policy.act_dim}, the env gives "
            f"{base._get_obs().shape} / {env.action_space.shape}"
        )
    noise = {"expert": 0.0, "expert_small_noise": small_noise, "expert_large_noise": large_noise}
    frames, sources, deviations, episodes = [], [], [], 0
    try:
        for j, (src, count) in enumerate(zip(SOURCES, _split_evenly(n_frames, len(SOURCES)))):
            rng = np.random.default_rng([seed, task_index, j, 0x7AE])
            seeds = np.random.SeedSequence([seed, task_index, j]).generate_state(count + 1, dtype=np.uint32)
            got = source_episodes = 0
            while got < count:  # every episode yields >= 1 frame, so count + 1 seeds are enough
                obs, _ = env.reset(seed=int(seeds[source_episodes]))
                source_episodes += 1
                episodes += 1
                done = False
                while not done and got < count:
                    expert = np.clip(policy.mean_action(base._get_obs()), low, high)
                    if src == "random":
                        action = rng.uniform(low, high)
                    else:
                        action = np.clip(expert + noise[src] * rng.standard_normal(expert.shape), low, high)
                    frames.append(obs["pixels"][0])
                    sources.append(j)
                    deviations.append(float(np.sqrt(np.mean((action - expert) ** 2))))
                    got += 1
                    if progress is not None:
                        progress(1)
                    obs, _, terminated, truncated, _ = env.step(action)
                    done = terminated or truncated
    finally:
        env.close()
    return (
        np.stack(frames).astype(np.uint8),
        np.asarray(sources, np.int8),
        np.asarray(deviations, np.float32),
        episodes,
    )


def collect_frames(
    tasks: tuple[str, ...] | str = ("door",),
    frames: int = 20_000,
    image_size: int = 64,
    seed: int = 0,
    small_noise: float = 0.1,
    large_noise: float = 0.5,
    camera: str | None = None,
    progress: bool = False,
) -> FrameDataset:
    """Collect the appendix 7.4 data set: ``frames`` frames of the RRL camera, split equally between ``tasks``
    and the four :data:`SOURCES` (expert mean action; expert + N(0, small_noise^2); expert + N(0, large_noise^2);
    uniform random actions). Noisy actions are clipped to the action space. Every frame of an episode is kept
    (the observation before each action), episodes run until the source has its share.
    """
    from tqdm import tqdm

    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    if frames < 4 * len(tasks):
        raise ValueError(f"frames must be at least 4 per task (one per source), got {frames}")
    start = time.perf_counter()
    parts, episodes = [], {}
    with tqdm(total=frames, desc="collect frames", unit="frame", disable=not progress) as bar:
        for i, (task, n) in enumerate(zip(tasks, _split_evenly(frames, len(tasks)))):
            f, s, d, eps = _task_frames(task, n, image_size, seed, small_noise, large_noise, camera, i, bar.update)
            parts.append((f, s, np.full(len(f), i, np.int8), d))
            episodes[task] = eps
    meta = {
        "image_size": image_size,
        "seed": seed,
        "small_noise": small_noise,
        "large_noise": large_noise,
        "camera": camera,
        "episodes": episodes,
        "collect_seconds": round(time.perf_counter() - start, 2),
    }
    return FrameDataset(
        frames=np.concatenate([p[0] for p in parts]),
        source=np.concatenate([p[1] for p in parts]),
        task=np.concatenate([p[2] for p in parts]),
        action_deviation=np.concatenate([p[3] for p in parts]),
        tasks=tasks,
        metadata=meta,
    )


# --------------------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------------------


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

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
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


# --------------------------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------------
# Reconstruction grid (paper Fig. 10)
# --------------------------------------------------------------------------------------------------------------


def pick_grid_frames(dataset: FrameDataset, index: np.ndarray, per_task: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Per task, ``per_task`` indices (from ``index``) spread over the four sources."""
    rng = np.random.default_rng(seed)
    picks = []
    for t in range(len(dataset.tasks)):
        chosen: list[int] = []
        pools = [index[(dataset.task[index] == t) & (dataset.source[index] == s)] for s in range(len(SOURCES))]
        for k in range(per_task):
            pool = [i for i in pools[k % len(SOURCES)] if i not in chosen]
            if not pool:
                pool = [i for i in index[dataset.task[index] == t] if i not in chosen]
            if pool:
                chosen.append(int(rng.choice(pool)))
        picks.append(np.asarray(chosen, dtype=np.int64))
    return picks


def reconstruction_grid(
    model: ConvVAE,
    dataset: FrameDataset,
    index: np.ndarray | None = None,
    out: str | os.PathLike = "vae_reconstructions.png",
    per_task: int = 8,
    scale: int = 2,
    seed: int = 0,
) -> Path:
    """PNG like paper Fig. 10: for each task a row of original frames and a row of their reconstructions
    (decoded from z = mu), columns cycling through the four sources. ``index``: frames to pick from (e.g. the
    held-out ones); default all."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = np.arange(len(dataset)) if index is None or len(index) == 0 else np.asarray(index)
    picks = pick_grid_frames(dataset, index, per_task, seed)
    rows, labels = [], []
    for task, idx in zip(dataset.tasks, picks):
        orig = dataset.frames[idx]
        rec = model.reconstruct(to_unit_nchw(orig)).permute(0, 2, 3, 1).mul(255).round().byte().numpy()
        rows += [orig, rec]
        labels += [f"{task}\noriginal", f"{task}\nreconstruction"]
    ncols = max(len(r) for r in rows)
    size = dataset.frames.shape[1] * scale
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * size / 80 + 1.2, len(rows) * size / 80 + 0.5), dpi=100)
    axes = np.atleast_2d(axes)
    for r, (row, label) in enumerate(zip(rows, labels)):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(row):
                ax.imshow(row[c], interpolation="nearest")
            else:
                ax.axis("off")
            if r == 0 and c < len(picks[0]):
                ax.set_title(SOURCES[int(dataset.source[picks[0][c]])].replace("expert_", "+").replace("_", " "),
                             fontsize=6)  # fmt: skip
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.tight_layout(pad=0.3)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------------------------------------------
# Frozen encoder for rrl.encoders (registered there as "vae")
# --------------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------------
# Command line (`rrl vae train`, registered in rrl.cli)
# --------------------------------------------------------------------------------------------------------------


_FRAMES_KEYS = ("seed", "small_noise", "large_noise", "camera")


def cmd_train(args: Any) -> int:
    """``rrl vae train``: collect frames (or load ``--frames-file``), train, save checkpoint + grid, print losses."""
    tasks = tuple(t.strip() for t in (args.tasks or args.task or "").split(",") if t.strip())
    if not tasks:
        raise ValueError("give --task TASK or --tasks TASK1,TASK2")
    vae = VAEConfig(latent_dim=args.latent, image_size=args.size, recon_loss=args.recon_loss)
    cfg = VAETrainConfig(
        tasks=tasks,
        frames=args.frames,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        beta=args.beta,
        small_noise=args.small_noise,
        large_noise=args.large_noise,
        seed=args.seed,
        camera=args.camera,
        vae=vae,
    )
    progress = not args.no_progress
    dataset = None
    if args.frames_file and Path(args.frames_file).is_file():
        dataset = FrameDataset.load(args.frames_file)
        want = (tasks, args.frames, args.size, args.seed, args.small_noise, args.large_noise, args.camera)
        m = dataset.metadata
        have = (dataset.tasks, len(dataset), dataset.frames.shape[1], *(m.get(k) for k in _FRAMES_KEYS))
        if want != have:
            raise ValueError(
                f"{args.frames_file} holds (tasks, frames, size, seed, small_noise, large_noise, camera) = {have}, "
                f"this run asks for {want}; "
                "pass another --frames-file or delete it"
            )
        print(f"loaded {len(dataset)} frames from {args.frames_file}")
    elif args.frames_file:
        dataset = collect_frames(
            tasks, args.frames, args.size, args.seed, args.small_noise, args.large_noise, args.camera, progress
        )
        print(f"saved {len(dataset)} frames to {dataset.save(args.frames_file)}")
    result = train_vae(cfg, out=args.out, dataset=dataset, progress=progress)
    grid = Path(args.grid) if args.grid else result.checkpoint.with_suffix(".png")
    reconstruction_grid(result.model, result.dataset, result.val_index, grid, per_task=args.grid_columns,
                        seed=args.seed)  # fmt: skip
    print(f"frames per task and source: {json.dumps(result.dataset.counts())}")
    print(f"episodes: {json.dumps(result.dataset.metadata.get('episodes'))}")
    collect = result.dataset.metadata.get("collect_seconds", round(result.collect_seconds, 2))
    print(f"collect: {collect:.1f} s, train: {result.train_seconds:.1f} s")
    for row in result.history:
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    print(f"wrote {result.checkpoint}")
    print(f"wrote {grid}")
    return 0
