"""What the frozen encoder looks at (paper Fig. 1): Grad-CAM (Selvaraju et al.) on the encoder's last stage and
guided backpropagation (Springenberg et al.) to the input pixels, both for the top-1 ImageNet class.

>>> from rrl.encoders import make_encoder
>>> from rrl.explain import explain, explanation_figure
>>> enc = make_encoder("efficientnet_lite0", backend="torch")
>>> expl = explain(enc, frames)               # uint8 (N, H, W, 3)
>>> explanation_figure(expl, "fig.png")       # rows: frames, Grad-CAM overlays, guided backprop

Works for every encoder whose :class:`~rrl.encoders.Backbone` has a classifier ``head`` and a ``target_layer``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rrl.encoders import Backbone, Encoder
from rrl.result_folder import write_file

# Activations whose backward pass guided backpropagation changes (gates such as Sigmoid in SE blocks are kept).
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.GELU, nn.Hardswish, nn.Mish)


@dataclass(frozen=True)
class Explanation:
    """Grad-CAM and guided backpropagation of a batch of frames.

    Attributes:
        frames: uint8 ``(N, S, S, 3)``, the crops the encoder saw.
        classes: ``(N,)`` explained ImageNet class (the top-1 unless given).
        probs: ``(N,)`` softmax probability of that class.
        labels: ImageNet names of ``classes``.
        gradcam: float32 ``(N, S, S)`` in [0, 1] (each map divided by its maximum).
        guided: float32 ``(N, S, S, 3)``, raw guided-backprop gradient w.r.t. the normalised input.
    """

    frames: np.ndarray
    classes: np.ndarray
    probs: np.ndarray
    labels: list[str]
    gradcam: np.ndarray
    guided: np.ndarray


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names (shipped with torchvision, no download)."""
    from torchvision.models import ResNet34_Weights

    return list(ResNet34_Weights.IMAGENET1K_V1.meta["categories"])


def _check_explainable(backbone: Backbone, name: str) -> None:
    if backbone.head is None or backbone.target_layer is None:
        raise ValueError(f"encoder {name!r} has no ImageNet classifier head / target layer; nothing to explain")


def grad_cam(backbone: Backbone, x: torch.Tensor, classes: torch.Tensor | None = None):
    """Grad-CAM: ReLU(sum_k alpha_k A^k), alpha_k = spatial mean of d y_c / d A^k, A = ``target_layer`` output.

    Args:
        x: normalised float images ``(N, 3, S, S)``.
        classes: class per image; ``None`` = top-1.

    Returns:
        (cam ``(N, S, S)`` in [0, 1], classes ``(N,)``, logits ``(N, 1000)``).
    """
    layer = backbone.trunk.get_submodule(backbone.target_layer)
    store: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        store["act"] = output
        return output.clone()  # later in-place ops (e.g. ReLU(inplace=True)) must not touch the saved activation

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = backbone.classify(x.detach().requires_grad_(True))
            classes = logits.argmax(1) if classes is None else classes
            score = logits.gather(1, classes[:, None]).sum()
            act = store["act"]
            grads = torch.autograd.grad(score, act)[0]
    finally:
        handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    return cam / peak, classes, logits.detach()


class _Guided(nn.Module):
    """The activation unchanged forward; backward only lets positive gradients through (guided backprop)."""

    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(x)
        if y.requires_grad:
            y.register_hook(lambda g: g.clamp(min=0))
        return y


def guided_copy(backbone: Backbone) -> Backbone:
    """A copy of ``backbone`` with every activation wrapped for guided backpropagation (not in place)."""
    guided = copy.deepcopy(backbone)
    for parent in list(guided.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, _ACTIVATIONS):
                if hasattr(child, "inplace"):
                    child.inplace = False
                setattr(parent, child_name, _Guided(child))
    return guided


def guided_backprop(backbone: Backbone, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """d y_c / d x through ``backbone`` with guided activations: ``(N, 3, S, S)``."""
    guided = guided_copy(backbone)
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        score = guided.classify(x).gather(1, classes[:, None]).sum()
        return torch.autograd.grad(score, x)[0].detach()


def explain(encoder: Encoder, frames: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
    """Grad-CAM and guided backprop of ``encoder`` for uint8 frames ``(N, H, W, 3)`` (top-1 class by default)."""
    backbone = encoder.model.backbone
    _check_explainable(backbone, encoder.name)
    crops = encoder.preprocess(frames)
    x = encoder.model.normalize(torch.from_numpy(crops).to(encoder.device)).contiguous()
    target = None if classes is None else torch.as_tensor(np.asarray(classes), dtype=torch.long, device=x.device)
    cam, target, logits = grad_cam(backbone, x, target)
    guided = guided_backprop(backbone, x, target)
    probs = logits.softmax(1).gather(1, target[:, None])[:, 0]
    names = imagenet_labels() if logits.shape[1] == 1000 else [str(i) for i in range(logits.shape[1])]
    target_np = target.cpu().numpy()
    return Explanation(
        frames=crops,
        classes=target_np,
        probs=probs.cpu().numpy().astype(np.float32),
        labels=[names[c] for c in target_np],
        gradcam=cam.cpu().numpy().astype(np.float32),
        guided=guided.permute(0, 2, 3, 1).cpu().numpy().astype(np.float32),
    )


def guided_to_image(grad: np.ndarray) -> np.ndarray:
    """A guided-backprop gradient ``(S, S, 3)`` as a viewable float image in [0, 1] (zero-centred, 0.15 std)."""
    g = grad - grad.mean()
    g = g / (g.std() + 1e-12) * 0.15 + 0.5
    return np.clip(g, 0.0, 1.0)


def explanation_figure(expl: Explanation, out: str | Path, title: str | None = None) -> Path:
    """Write a PNG: a row of frames (with top-1 class), a row of Grad-CAM overlays, a row of guided backprop."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    n = len(expl.frames)
    fig = Figure(figsize=(2.4 * n, 7.6), dpi=100, layout="constrained")
    axes = fig.subplots(3, n, squeeze=False)
    jet = colormaps["jet"]
    for i in range(n):
        frame = expl.frames[i].astype(np.float32) / 255.0
        overlay = 0.5 * frame + 0.5 * jet(expl.gradcam[i])[..., :3]
        panels = (frame, overlay, guided_to_image(expl.guided[i]))
        for row, img in enumerate(panels):
            axes[row, i].imshow(img)
            axes[row, i].set_xticks([])
            axes[row, i].set_yticks([])
        axes[0, i].set_title(f"{expl.labels[i][:18]} ({expl.probs[i]:.2f})", fontsize=9)
    for row, label in enumerate(("frame (top-1 class)", "Grad-CAM", "guided backprop")):
        axes[row, 0].set_ylabel(label)
    if title:
        fig.suptitle(title)
    return write_file(out, fig)  # atomically: an interrupted run leaves no half-written image


def task_frames(
    task: str,
    n_frames: int = 4,
    camera: str | None = None,
    seed: int = 0,
    random_steps: int = 10,
    render_size: int = 256,
    crop_size: int = 224,
) -> np.ndarray:
    """``n_frames`` uint8 frames ``(n, crop, crop, 3)`` of a task: episode ``seed + i`` after ``random_steps * i``
    random actions (so the frames differ in object placement and hand pose)."""
    from rrl.envs import EnvConfig, make_env

    cameras = (camera,) if camera is not None else None
    env = make_env(EnvConfig(task=task, obs_mode="rgb", cameras=cameras, render_size=render_size, crop_size=crop_size))
    frames = []
    try:
        env.action_space.seed(seed)
        for i in range(n_frames):
            obs, _ = env.reset(seed=seed + i)
            for _ in range(random_steps * i):
                obs, *_ = env.step(env.action_space.sample())
            frames.append(obs["pixels"][0])
    finally:
        env.close()
    return np.stack(frames)
