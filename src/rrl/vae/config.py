"""Formats, data sources and the configs of the VAE (:class:`VAEConfig`) and its training (:class:`VAETrainConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CHECKPOINT_FORMAT = "rrl-vae"
CHECKPOINT_VERSION = 1
FRAMES_FORMAT = "rrl-vae-frames"
FRAMES_VERSION = 1

#: The four data sources of appendix 7.4, in the order they are collected.
SOURCES: tuple[str, ...] = ("expert", "expert_small_noise", "expert_large_noise", "random")
RECON_LOSSES = ("bernoulli", "mse")


class VAECheckpointError(ValueError):
    """A file that is not a readable rrl VAE checkpoint (or frames file) of the expected format and version."""


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
