"""rrl.encoders on real inputs: real EfficientNet-Lite0 weights, torchvision-format ResNet checkpoints written into a
temporary torch hub cache, both backends, the ONNX cache."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import skimage.data
import torch
import torchvision
from torch import nn
from torchvision.transforms.v2 import functional as TF

from rrl.encoders import Backbone, EncoderArch, available_encoders, make_encoder, register_encoder, registry
from rrl.encoders.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Normalize, resize_center_crop
from rrl.encoders.resnet import ResNet18

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


pytestmark = pytest.mark.usefixtures("isolated_caches")


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """Four real photos, 300 x 300 crops (so preprocessing resizes and crops)."""
    imgs = [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.astronaut(), skimage.data.rocket()]
    return np.stack([img[:300, :300, :3] for img in imgs])


@pytest.fixture(scope="module")
def effnet_torch():
    return make_encoder("efficientnet_lite0", backend="torch")


@pytest.fixture(scope="module")
def effnet_ort():
    return make_encoder("efficientnet_lite0", backend="onnxruntime")


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)))


# --- registry --------------------------------------------------------------------------------------------------


def test_registry_names_and_unknown_name():
    assert {"resnet18", "resnet34", "resnet50", "efficientnet_lite0"} <= set(available_encoders())
    with pytest.raises(ValueError, match="unknown encoder 'resnet35'.*resnet34"):
        make_encoder("resnet35")
    with pytest.raises(ValueError, match="unknown encoder backend"):
        make_encoder("random:resnet18", backend="tensorflow")
    with pytest.raises(ValueError, match="CPU only"):
        make_encoder("random:resnet18", backend="onnxruntime", device="cuda")
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("resnet34", "rrl.encoders.resnet:ResNet50")
    with pytest.raises(ValueError, match="plain words"):
        register_encoder("random:x", "rrl.encoders.resnet:ResNet50")


class TinyEncoder(EncoderArch):
    """A VAE-like encoder: no classifier head, inputs in [0, 1]."""

    feature_dim = 4
    mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

    def build(self, weights):
        net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        if weights is not None:
            net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return Backbone(net, head=None, target_layer="0")


def test_custom_encoder_is_one_class_and_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(registry._REGISTRY, "tiny", TinyEncoder)  # = register_encoder("tiny", TinyEncoder)
    with pytest.raises(FileNotFoundError, match="weights=PATH"):
        make_encoder("tiny")
    net = TinyEncoder("tiny").build(None).trunk
    torch.save(net.state_dict(), tmp_path / "tiny.pt")
    enc = make_encoder("tiny", weights=tmp_path / "tiny.pt", backend="torch", image_size=32)
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    with torch.no_grad():
        ref = net(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255).numpy()
    np.testing.assert_allclose(enc(frames), ref, rtol=1e-5, atol=1e-6)
    assert not enc.has_classifier
    with pytest.raises(ValueError, match="no classifier head"):
        enc.classify(frames)
    assert make_encoder("random:tiny", image_size=32, backend="torch")(frames).shape == (3, 4)


# --- preprocessing ---------------------------------------------------------------------------------------------


def test_preprocessing_matches_paper_pipeline(photos):
    frames = np.random.default_rng(1).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_center_crop(frames, 224), frames)  # already the crop size: untouched
    rendered = np.random.default_rng(2).integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_center_crop(rendered, 224), rendered[:, 16:240, 16:240])  # 256 -> crop
    cat = skimage.data.chelsea()  # 300 x 451: resize shorter side to 256, center crop 224 (torchvision reference)
    ref = TF.center_crop(TF.resize(torch.from_numpy(cat).permute(2, 0, 1), 256, antialias=True), 224)
    ours = resize_center_crop(cat[None], 224)[0]
    diff = np.abs(ours.astype(int) - ref.permute(1, 2, 0).numpy())
    assert ours.shape == (224, 224, 3) and diff.max() <= 1 and diff.mean() < 0.5  # rounding only
    assert resize_center_crop(photos, 96).shape == (4, 96, 96, 3)  # 300 -> 110 -> 96
    x = torch.from_numpy(frames)
    ref = (x.permute(0, 3, 1, 2).float() / 255 - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(
        IMAGENET_STD
    )[:, None, None]
    torch.testing.assert_close(Normalize()(x), ref, rtol=1e-5, atol=1e-5)


def test_input_validation(effnet_torch):
    with pytest.raises(ValueError, match=r"uint8 RGB frames of shape \(N, H, W, 3\)"):
        effnet_torch(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="single frame"):
        effnet_torch(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="n_cams"):
        effnet_torch.encode_views(np.zeros((2, 64, 64, 3), np.uint8))
    assert effnet_torch(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 1280)


# --- EfficientNet-Lite0 with its real weights --------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_efficientnet_lite0_classifies_real_photos(backend, effnet_torch, effnet_ort):
    enc = effnet_torch if backend == "torch" else effnet_ort
    assert enc.backend == backend and enc.feature_dim == 1280
    cat, coffee = skimage.data.chelsea(), skimage.data.coffee()
    top_cat = np.argsort(-enc.classify(cat[None])[0])[:3]
    top_coffee = np.argsort(-enc.classify(coffee[None])[0])[:1]
    assert CAT_CLASSES & set(top_cat.tolist()), top_cat
    assert top_coffee[0] == ESPRESSO, top_coffee
    feats = enc(np.stack([resize_center_crop(cat[None], 224)[0], resize_center_crop(coffee[None], 224)[0]]))
    assert feats.shape == (2, 1280) and feats.dtype == np.float32 and (feats >= 0).all()  # after ReLU6 + pooling
    # the features are what the classifier head sees
    logits = enc.model.backbone.head(torch.from_numpy(feats)).numpy()
    assert logits[0].argmax() in CAT_CLASSES and logits[1].argmax() == ESPRESSO


def test_torch_and_onnxruntime_features_agree(photos, effnet_torch, effnet_ort):
    assert effnet_torch.fingerprint == effnet_ort.fingerprint
    a, b = effnet_torch(photos), effnet_ort(photos)
    assert _rel_err(b, a) < 1e-4
    r_t = make_encoder("random:resnet18", backend="torch", image_size=64)
    r_o = make_encoder("random:resnet18", backend="onnxruntime", image_size=64, num_threads=1)
    assert r_o.backend == "onnxruntime" and r_o.num_threads == 1
    assert _rel_err(r_o(photos), r_t(photos)) < 1e-4


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_features_deterministic_across_calls_and_batch_sizes(backend, photos):
    enc = make_encoder("efficientnet_lite0", backend=backend, image_size=96)
    full = enc(photos)
    np.testing.assert_array_equal(enc(photos), full)  # same call, same bits
    one_by_one = np.concatenate([enc(photos[i : i + 1]) for i in range(len(photos))])
    enc.batch_size = 3  # chunks of 3 + 1
    chunked = enc(photos)
    np.testing.assert_allclose(one_by_one, full, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(chunked, full, rtol=1e-5, atol=1e-5)


def test_encode_views_concatenates_cameras(photos, effnet_ort):
    pix = resize_center_crop(photos, 224).reshape(2, 2, 224, 224, 3)  # 2 samples x 2 cameras
    feats = effnet_ort.encode_views(pix)
    assert feats.shape == (2, 2 * 1280)
    per_view = effnet_ort(pix.reshape(4, 224, 224, 3))
    np.testing.assert_allclose(feats[1, 1280:], per_view[3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(feats[0, :1280], per_view[0], rtol=1e-5, atol=1e-6)


def test_auto_backend_and_fingerprint():
    auto = make_encoder("random:resnet18", image_size=64)
    assert auto.backend == "onnxruntime"  # CPU + onnxruntime installed
    assert make_encoder("random:resnet18", image_size=64, backend="torch").fingerprint == auto.fingerprint
    assert make_encoder("random:resnet18", image_size=96, backend="torch").fingerprint != auto.fingerprint
    assert make_encoder("random:resnet18", image_size=64, seed=1, backend="torch").fingerprint != auto.fingerprint


# --- ONNX cache ------------------------------------------------------------------------------------------------


def test_onnx_export_is_cached_and_atomic(tmp_path, monkeypatch):
    monkeypatch.setenv("RRL_CACHE_DIR", str(tmp_path))
    enc = make_encoder("random:resnet18", backend="onnxruntime", image_size=64)
    files = sorted((tmp_path / "onnx").iterdir())
    assert [f.suffix for f in files] == [".onnx"]  # no temp files left behind
    path = files[0]
    assert path == enc.onnx_path and "64px" in path.name
    stamp = path.stat().st_mtime_ns
    again = make_encoder("random:resnet18", backend="onnxruntime", image_size=64)
    assert again.onnx_path == path and path.stat().st_mtime_ns == stamp  # reused, not exported again
    make_encoder("random:resnet18", backend="onnxruntime", image_size=96)  # other size: other file
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 2
    path.write_bytes(b"not an onnx graph")  # a broken cache entry is replaced
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    repaired = make_encoder("random:resnet18", backend="onnxruntime", image_size=64)
    np.testing.assert_allclose(repaired(frames), enc(frames), rtol=1e-6, atol=1e-6)


# --- random:<arch> -----------------------------------------------------------------------------------------------


def test_random_weights_are_seeded_and_leave_global_rng_alone():
    state = torch.get_rng_state()
    a = make_encoder("random:resnet18", backend="torch", image_size=64, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    b = make_encoder("random:resnet18", backend="torch", image_size=64, seed=3)
    c = make_encoder("random:resnet18", backend="torch", image_size=64, seed=4)
    assert a.weights_hash == b.weights_hash != c.weights_hash
    assert a.feature_dim == 512 and a.has_classifier
    with pytest.raises(ValueError, match="seeded random weights"):
        make_encoder("random:resnet18", weights="/some/file.pth")


# --- ResNets from torchvision checkpoints ------------------------------------------------------------------------


def _hub_dir() -> str:
    path = os.path.join(os.environ["TORCH_HOME"], "hub", "checkpoints")
    os.makedirs(path, exist_ok=True)
    return path


def _torchvision_checkpoint(arch: str, folder: str, seed: int = 0) -> tuple[nn.Module, str]:
    """A torchvision-format checkpoint (state dict incl. fc) named <arch>-<sha256 prefix>.pth like torchvision's."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = getattr(torchvision.models, arch)(weights=None).eval()
    tmp = os.path.join(folder, f"{arch}.tmp")
    torch.save(net.state_dict(), tmp)
    with open(tmp, "rb") as f:
        prefix = hashlib.sha256(f.read()).hexdigest()[:8]
    path = os.path.join(folder, f"{arch}-{prefix}.pth")
    os.replace(tmp, path)
    return net, path


def test_missing_resnet_weights_message_names_file_folder_and_alternative():
    with pytest.raises(FileNotFoundError) as err:
        make_encoder("resnet34")
    msg = str(err.value)
    assert "resnet34-b627a593.pth" in msg and _hub_dir() in msg and "--encoder efficientnet_lite0" in msg
    with pytest.raises(FileNotFoundError, match="resnet50-0676ba61.pth"):
        make_encoder("resnet50")


def test_resnet_loads_torchvision_checkpoint_from_hub_cache(monkeypatch, photos):
    net, path = _torchvision_checkpoint("resnet18", _hub_dir())
    monkeypatch.setattr(ResNet18, "official_files", (os.path.basename(path),))  # our file plays the official one
    enc = make_encoder("resnet18", backend="torch", image_size=64)
    pix = resize_center_crop(photos, 64)
    with torch.no_grad():
        x = Normalize()(torch.from_numpy(pix))
        logits = net(x)
        net.fc = nn.Identity()
        feats = net(x)
    assert enc.feature_dim == 512
    np.testing.assert_allclose(enc(photos), feats.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(enc.classify(photos), logits.numpy(), rtol=1e-4, atol=1e-4)
    os.remove(path)


def test_resnet_checks_official_hash_and_architecture(tmp_path):
    _, path = _torchvision_checkpoint("resnet18", str(tmp_path))
    official = os.path.join(_hub_dir(), "resnet18-f37072fd.pth")
    os.replace(path, official)  # right format, wrong bytes for the official name
    with pytest.raises(ValueError, match="sha256 f37072fd"):
        make_encoder("resnet18", image_size=64)
    with pytest.raises(ValueError, match="sha256 f37072fd"):
        make_encoder("resnet18", image_size=64, weights=official)
    custom = tmp_path / "my_resnet18.pth"  # a custom name: no hash to check, loads
    os.replace(official, custom)
    assert make_encoder("resnet18", backend="torch", image_size=64, weights=custom).weights_hash
    _, r34 = _torchvision_checkpoint("resnet34", str(tmp_path))
    with pytest.raises(ValueError, match="not a torchvision resnet18 checkpoint"):
        make_encoder("resnet18", image_size=64, weights=r34)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_encoder("resnet18", weights=tmp_path / "missing.pth")
    garbage, whole = tmp_path / "garbage.pth", tmp_path / "whole_module.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    torch.save(nn.Linear(2, 2), whole)  # a pickled module: loading it would run code, so it is refused
    for bad, encoder in ((garbage, "resnet18"), (whole, "resnet18"), (whole, "efficientnet_lite0")):
        with pytest.raises(ValueError, match=r"is not a readable state dict.*torch.save\(model.state_dict\(\), PATH\)"):
            make_encoder(encoder, image_size=64, weights=bad)


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none; docs/benchmarks.md 'GPU box')"
)
def test_cuda_graphs_equal_eager_for_every_batch_size(photos):
    eager = make_encoder("random:resnet18", backend="torch", device="cuda", image_size=64, cuda_graphs=False)
    graphs = make_encoder("random:resnet18", backend="torch", device="cuda", image_size=64)
    for n in (1, 3, 3, 1):  # new sizes capture a graph, repeated sizes replay it on new inputs
        frames = photos[:n]
        np.testing.assert_array_equal(graphs(frames[::-1].copy()), eager(frames[::-1].copy()))
        np.testing.assert_array_equal(graphs(frames), eager(frames))


def test_cuda_graphs_only_on_a_gpu():
    enc = make_encoder("random:resnet18", backend="torch", device="cpu", image_size=32)
    assert enc._run._graphs is None  # the CPU path is the plain eager call
