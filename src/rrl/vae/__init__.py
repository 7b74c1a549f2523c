"""RRL(VAE), the learned-representation baseline of paper section 5.3 / appendix 7.4.

A convolutional variational auto-encoder (Kingma & Welling, 2014) is trained on 64x64 frames of the task's RRL
camera; its frozen encoder (the mean of q(z|x), 512-d like ResNet-34's features) then replaces ResNet in RRL.

>>> from rrl.vae import VAETrainConfig, train_vae
>>> result = train_vae(VAETrainConfig(tasks=("door",), frames=20_000, epochs=10))   # collect + train + save
>>> from rrl.encoders import make_encoder
>>> enc = make_encoder("vae", weights=result.checkpoint, image_size=64)
>>> feats = enc(frames)                    # uint8 (N, 64, 64, 3) -> float32 (N, 512): the mean of q(z|x)

Modules:

- :mod:`rrl.vae.config`: :class:`VAEConfig` (architecture), :class:`VAETrainConfig` (data and training), formats.
- :mod:`rrl.vae.data`: :func:`collect_frames`, the appendix 7.4 data set, 25% each from the expert policy's mean
  action, the expert plus small Gaussian action noise, the expert plus large noise, and uniformly random actions.
- :mod:`rrl.vae.model`: :class:`ConvVAE`, encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), decoder p(x|z) with
  Bernoulli (default) or fixed-variance Gaussian pixel likelihood; the loss is the negative ELBO (:func:`vae_loss`).
- :mod:`rrl.vae.checkpoint`: :func:`save_checkpoint` (atomic) and :func:`load_checkpoint`.
- :mod:`rrl.vae.training`: :func:`fit` (seeded Adam with a tqdm bar) and :func:`train_vae` (collect, train, save).
- :mod:`rrl.vae.grid`: :func:`reconstruction_grid`, originals beside reconstructions (paper Fig. 10).
- :mod:`rrl.vae.encoder`: :class:`VAEEncoderArch`, the frozen encoder, registered as ``vae`` in :mod:`rrl.encoders`.
- :mod:`rrl.vae.commands`: :func:`cmd_train`, the handler of ``rrl vae train``.
"""

from rrl.vae.checkpoint import load_checkpoint, save_checkpoint
from rrl.vae.commands import cmd_train
from rrl.vae.config import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    FRAMES_FORMAT,
    FRAMES_VERSION,
    RECON_LOSSES,
    SOURCES,
    VAECheckpointError,
    VAEConfig,
    VAETrainConfig,
)
from rrl.vae.data import FrameDataset, collect_frames
from rrl.vae.encoder import VAEEncoderArch, VAEFeatures, resize_matrix
from rrl.vae.grid import pick_grid_frames, reconstruction_grid
from rrl.vae.model import ConvVAE, VAEDecoderNet, VAEEncoderNet, to_unit_nchw, vae_loss
from rrl.vae.training import VAETrainResult, evaluate, fit, train_vae

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "FRAMES_FORMAT",
    "FRAMES_VERSION",
    "RECON_LOSSES",
    "SOURCES",
    "ConvVAE",
    "FrameDataset",
    "VAECheckpointError",
    "VAEConfig",
    "VAEDecoderNet",
    "VAEEncoderArch",
    "VAEEncoderNet",
    "VAEFeatures",
    "VAETrainConfig",
    "VAETrainResult",
    "cmd_train",
    "collect_frames",
    "evaluate",
    "fit",
    "load_checkpoint",
    "pick_grid_frames",
    "reconstruction_grid",
    "resize_matrix",
    "save_checkpoint",
    "to_unit_nchw",
    "train_vae",
    "vae_loss",
]
