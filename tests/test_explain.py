"""Grad-CAM and guided backpropagation (rrl.explain): formulas on a tiny network, localisation with real
EfficientNet-Lite0 weights, every built-in encoder, the figure and ``rrl explain`` on real task frames."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import skimage.data
import torch
from torch import nn

from rrl.cli import main
from rrl.encoders import Backbone, make_encoder
from rrl.encoders.preprocessing import resize_center_crop
from rrl.explain import explain, explanation_figure, grad_cam, guided_backprop, guided_copy

CAT_CLASSES = {281, 282, 283, 284, 285}
ESPRESSO = 967


pytestmark = pytest.mark.usefixtures("isolated_caches")


@pytest.fixture(scope="module")
def effnet():
    return make_encoder("efficientnet_lite0", backend="torch")


def _tiny_backbone(seed: int = 0) -> Backbone:
    """conv1x1(3->4) -> ReLU -> mean pool -> linear(4->2): Grad-CAM and guided backprop have closed forms."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        trunk = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        head = nn.Linear(4, 2)
    return Backbone(trunk, head=head, target_layer="1").eval().requires_grad_(False)


def test_formulas_on_a_tiny_network():
    net = _tiny_backbone()
    x = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(1))
    w, b = net.trunk[0].weight[:, :, 0, 0].numpy(), net.trunk[0].bias.numpy()  # (4, 3), (4,)
    h = net.head.weight.numpy()  # (2, 4)
    z = np.einsum("kc,nchw->nkhw", w, x.numpy()) + b[None, :, None, None]  # pre-activation
    act = np.maximum(z, 0)
    classes = torch.tensor([0, 1])
    cam, _, logits = grad_cam(net, x, classes)
    guided = guided_backprop(net, x, classes).numpy()
    n_pix = 25
    for i, c in enumerate(classes.tolist()):
        # Grad-CAM: alpha_k = mean_p dy_c/dA_kp = h_ck / P; map = ReLU(sum_k alpha_k A_k), divided by its max
        ref = np.maximum(np.einsum("k,khw->hw", h[c] / n_pix, act[i]), 0)
        np.testing.assert_allclose(cam[i].numpy(), ref / ref.max(), rtol=1e-5, atol=1e-6)
        # guided backprop: only positive gradients pass the ReLU backwards: sum_k W_k max(h_ck, 0)/P [z_k > 0]
        gate = (z[i] > 0) * np.maximum(h[c], 0)[:, None, None] / n_pix
        np.testing.assert_allclose(guided[i], np.einsum("kc,khw->chw", w, gate), rtol=1e-5, atol=1e-7)
    vanilla = torch.autograd.functional.jacobian(lambda v: net.classify(v)[:, 0].sum(), x)
    assert not np.allclose(vanilla[0].numpy(), guided[0])  # the rule changes something here
    assert logits.shape == (2, 2)


def test_guided_copy_leaves_the_encoder_untouched(effnet):
    backbone = effnet.model.backbone
    before = [type(m) for m in backbone.modules()]
    inplace = [m.inplace for m in backbone.modules() if hasattr(m, "inplace")]
    guided = guided_copy(backbone)
    assert [type(m) for m in backbone.modules()] == before
    assert [m.inplace for m in backbone.modules() if hasattr(m, "inplace")] == inplace
    assert sum(type(m).__name__ == "_Guided" for m in guided.modules()) == 33  # every ReLU6 of EfficientNet-Lite0


def test_gradcam_localises_the_explained_class(effnet):
    # left half: the cat, right half: the coffee cup -- the map must follow the class asked for
    cat = resize_center_crop(skimage.data.chelsea()[None], 224)[0]
    cup = resize_center_crop(skimage.data.coffee()[None], 224)[0]
    composite = np.concatenate([cat[:, 56:168], cup[:, 56:168]], axis=1)[None]
    top = np.argsort(-effnet.classify(composite)[0])[:5]
    cat_class = next(c for c in top if c in CAT_CLASSES)
    both = np.concatenate([composite, composite])
    expl = explain(effnet, both, classes=np.array([cat_class, ESPRESSO]))
    left, right = expl.gradcam[:, :, :112].sum(axis=(1, 2)), expl.gradcam[:, :, 112:].sum(axis=(1, 2))
    assert left[0] > 2 * right[0], (left, right)  # cat evidence on the left
    assert right[1] > 2 * left[1], (left, right)  # espresso evidence on the right
    assert expl.labels[1] == "espresso" and expl.classes.tolist() == [cat_class, ESPRESSO]


@pytest.mark.parametrize("name", ["random:resnet18", "random:resnet50", "efficientnet_lite0"])
def test_explain_works_for_every_encoder_with_a_head(name):
    enc = make_encoder(name, backend="torch", image_size=64)
    frames = np.stack([skimage.data.astronaut()[:200, :200], skimage.data.coffee()[:200, :200]])
    expl = explain(enc, frames)
    assert expl.frames.shape == (2, 64, 64, 3) and expl.gradcam.shape == (2, 64, 64)
    assert expl.guided.shape == (2, 64, 64, 3) and np.isfinite(expl.guided).all()
    assert expl.gradcam.min() >= 0 and expl.gradcam.max() <= 1 + 1e-6
    assert np.array_equal(expl.classes, enc.classify(frames).argmax(1)) and (expl.probs > 0).all()
    assert np.abs(expl.guided).sum() > 0


def test_figure_has_three_rows(effnet, tmp_path):
    frames = np.stack([skimage.data.chelsea()[:224, :224], skimage.data.coffee()[:224, :224]])
    out = explanation_figure(explain(effnet, frames), tmp_path / "fig.png", title="photos")
    img = iio.imread(out)
    assert img.shape[0] > img.shape[1] * 0.9 and img.ndim == 3  # 3 rows x 2 columns: taller than wide


def test_cli_explain_on_task_frames(tmp_path, capsys):
    out = tmp_path / "door.png"
    rc = main(["explain", "--task", "door", "--encoder", "efficientnet_lite0", "--frames", "2", "--out", str(out)])
    assert rc == 0 and out.is_file()
    text = capsys.readouterr().out
    assert "frame 1: top-1" in text and str(out) in text
    assert iio.imread(out).shape[1] > 300


def test_cli_explain_fails_before_any_env_when_weights_are_missing(monkeypatch, tmp_path, capsys):
    import rrl.envs

    def no_env(*args, **kwargs):
        raise AssertionError("an environment was started before the encoder weights were checked")

    monkeypatch.setattr(rrl.envs, "make_env", no_env)
    rc = main(["explain", "--task", "door", "--encoder", "resnet34", "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and "resnet34-b627a593.pth" in err and "--encoder efficientnet_lite0" in err
