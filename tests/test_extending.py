"""Extending rrl from outside its source tree (docs/extending.md): an encoder given as an import path, an encoder
registered by an installed package's entry point (used by `rrl train` and `rrl eval` in fresh processes), and
pixel flags on a state run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rrl.checkpoint import read_checkpoint
from rrl.cli import main
from rrl.config import TrainConfig
from rrl.encoders import available_encoders, make_encoder, registry
from rrl.paths import cache_dir

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rrl_pixels8"

pytestmark = pytest.mark.usefixtures("isolated_caches")


def _block_means(frames: np.ndarray, grid: int = 8) -> np.ndarray:
    """The example encoder's features computed by hand: (N, 3 * grid * grid), channel-major like NCHW pooling."""
    n, h, w, _ = frames.shape
    blocks = frames.reshape(n, grid, h // grid, grid, w // grid, 3).mean(axis=(2, 4)) / 255.0
    return blocks.transpose(0, 3, 1, 2).reshape(n, -1)


def _fake_install(site: Path) -> None:
    """What `pip install examples/rrl_pixels8` leaves for importlib.metadata: a dist-info with the entry point."""
    info = site / "rrl_pixels8-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rrl-pixels8\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[rrl.encoders]\npixels8 = rrl_pixels8:Pixels8\n")


def test_encoder_from_an_import_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    enc = make_encoder("rrl_pixels8:Pixels8", backend="torch", image_size=32)
    assert enc.feature_dim == 192
    np.testing.assert_allclose(enc(frames), _block_means(frames), rtol=1e-5, atol=1e-6)
    ort = make_encoder("rrl_pixels8:Pixels8", backend="onnxruntime", image_size=32)  # cache file name has no ':'
    np.testing.assert_allclose(ort(frames), _block_means(frames), rtol=1e-5, atol=1e-6)
    names = [p.name.split("-")[:3] for p in (cache_dir() / "onnx").glob("*.onnx")]
    assert names == [["rrl_pixels8", "Pixels8", "32px"]]
    with pytest.raises(ValueError, match="has no weights; drop --encoder-weights"):
        make_encoder("rrl_pixels8:Pixels8", weights="x.pt")
    with pytest.raises(ValueError, match="cannot import 'Nope' from module 'rrl_pixels8'.*PYTHONPATH"):
        make_encoder("rrl_pixels8:Nope")
    with pytest.raises(ValueError, match="No module named 'no_such_module'"):
        make_encoder("no_such_module:Arch")
    with pytest.raises(ValueError, match="not an rrl.encoders.EncoderArch subclass"):
        make_encoder("numpy:ndarray")
    with pytest.raises(ValueError, match="unknown encoder 'pixels9'.*package.module:Class"):
        make_encoder("pixels9")


def test_entry_point_lists_the_encoder(monkeypatch, tmp_path, capsys):
    _fake_install(tmp_path)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the lookup registers it; undo after
    assert "pixels8" in available_encoders() and "resnet34" in available_encoders()
    assert main(["encoders"]) == 0  # `rrl encoders`: the plugin's row, and where the built-ins' weights are
    table = capsys.readouterr().out
    assert re.search(r"^pixels8 +192 +rrl_pixels8:Pixels8 +none needed$", table, re.M)
    assert re.search(r"^efficientnet_lite0 +1280 +\S+ +found: .*\.pth$", table, re.M)
    assert re.search(r"^resnet34 +512 +rrl.encoders.resnet:ResNet34 +missing \(below\)$", table, re.M)  # empty hub
    assert "resnet34: no ImageNet weights for encoder 'resnet34'" in table
    frames = np.random.default_rng(1).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_allclose(make_encoder("pixels8", backend="torch", image_size=16)(frames), _block_means(frames),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_pixel_flags_on_a_state_run_are_an_error():
    with pytest.raises(ValueError, match="--encoder, --image-size set the pixel input.*--obs rgb\\+proprio"):
        TrainConfig.from_preset(None, "door", encoder="resnet34", image_size=64)
    assert TrainConfig.from_preset(None, "door", obs="rgb+proprio", encoder="resnet34").is_pixel
    assert not TrainConfig.from_preset("cpu", "door", obs="state").is_pixel  # the preset's own pixel fields: fine


def test_own_experiment_runs_and_exports(monkeypatch, tmp_path):
    """An Experiment defined outside rrl (here: RRL against the 8x8-pixel encoder) runs like the paper's."""
    from rrl.experiments.ablations import Experiment, Variant, run_experiment

    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setenv("RRL_CACHE_DIR", str(tmp_path / "cache"))
    variants = (Variant("RRL"), Variant("8x8 pixels", {"encoder": "rrl_pixels8:Pixels8"}))
    exp = Experiment("pixels8", "-", "Do 8x8 raw pixels do as well as ImageNet features?", variants, tasks=("door",))
    tiny = dict(iterations=1, trajectories=2, horizon=10, eval_episodes=1, n_demos=1, n_envs=2, n_groups=1)
    report = run_experiment(exp, scale="smoke", root=tmp_path / "runs", results_root=tmp_path / "results", **tiny)
    assert [r["variant"] for r in report["runs"]] == ["RRL", "8x8 pixels"] and not report["skipped"]
    widths = [read_checkpoint(Path(r["out"]) / "checkpoint.pt")["policy"]["net.0.weight"].shape[1]
              for r in report["runs"]]  # fmt: skip
    assert widths == [1280 + 24, 192 + 24]
    assert Path(report["runs"][1]["out"]) == tmp_path / "runs" / "pixels8" / "smoke" / "door" / "8x8_pixels_s0"
    meta = json.loads((tmp_path / "results" / "pixels8_door_smoke" / "meta.json").read_text())
    assert set(meta["groups"]) == {"RRL", "8x8 pixels"}


@pytest.mark.slow
def test_installed_encoder_plugin_trains_and_evaluates_from_the_cli(tmp_path):
    from rrl.demos import make_expert_demos, save_demos

    site = tmp_path / "site"
    _fake_install(site)
    demos = save_demos(make_expert_demos("door", n=2, seed=0), tmp_path / "door2.h5")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(EXAMPLE)]), "RRL_CACHE_DIR": str(tmp_path / "c")}
    run = tmp_path / "run"
    train = [sys.executable, "-m", "rrl.cli", "train", "--task", "door", "--obs", "rgb+proprio", "--encoder", "pixels8",
             "--demos", str(demos), "--n-demos", "2", "--iterations", "1", "--trajectories", "2", "--horizon", "12",
             "--eval-episodes", "1", "--policy-size", "16,16", "--vf-size", "16,16", "--render-size", "73",
             "--image-size", "64", "--n-envs", "2", "--n-groups", "2", "--no-progress", "--out", str(run)]  # fmt: skip
    done = subprocess.run(train, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run / "config.json").read_text())["config"]["encoder"] == "pixels8"
    policy = read_checkpoint(run / "checkpoint.pt")["policy"]
    assert policy["net.0.weight"].shape == (16, 192 + 24)  # 8x8x3 block means + 24 hand joints
    evaluated = subprocess.run([sys.executable, "-m", "rrl.cli", "eval", str(run), "--episodes", "1"], env=env,
                               capture_output=True, text=True, timeout=600)  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "success" in evaluated.stdout and "over 1 episodes" in evaluated.stdout


KEYPOINTS = Path(__file__).resolve().parents[1] / "examples" / "rrl_keypoints"


def test_keypoint_encoder_finds_a_bright_spot(monkeypatch):
    """examples/rrl_keypoints: the spatial soft-argmax of a feature map returns where the activation is, and the
    keypoint encoders (a stage of the ImageNet EfficientNet-Lite0) agree across backends and follow a moved object."""
    monkeypatch.syspath_prepend(str(KEYPOINTS))
    from rrl_keypoints import SpatialSoftArgmax

    fmap = torch.zeros(1, 2, 9, 17)
    fmap[0, 0, 4, 16] = 50.0  # channel 0: a peak at the right edge, middle row -> (x, y) = (1, 0)
    fmap[0, 1, 0, 8] = 50.0  # channel 1: top row, middle column -> (0, -1)
    np.testing.assert_allclose(SpatialSoftArgmax()(fmap).numpy(), [[1.0, 0.0, 0.0, -1.0]], atol=1e-3)
    flat = SpatialSoftArgmax()(torch.ones(1, 1, 5, 5))  # no peak: the centre
    np.testing.assert_allclose(flat.numpy(), [[0.0, 0.0]], atol=1e-6)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        SpatialSoftArgmax(temperature=0.0)

    frames = np.full((2, 64, 64, 3), 40, np.uint8)
    frames[0, 8:20, 8:20] = (255, 40, 40)  # a red square top left, then bottom right
    frames[1, 44:56, 44:56] = (255, 40, 40)
    enc = make_encoder("rrl_keypoints:KeypointsS16", backend="torch", image_size=64)
    feats = enc(frames)
    assert feats.shape == (2, enc.feature_dim) == (2, 224) and np.all(np.abs(feats) <= 1.0 + 1e-5)
    ort = make_encoder("rrl_keypoints:KeypointsS16", backend="onnxruntime", image_size=64)
    np.testing.assert_allclose(ort(frames), feats, atol=1e-4)
    # stride 8 (a 8 x 8 map here): the keypoints move with the square, to the right and down (x then y per channel)
    s8 = make_encoder("rrl_keypoints:KeypointsS8", backend="torch", image_size=64)(frames)
    dx, dy = s8[1, :40] - s8[0, :40], s8[1, 40:] - s8[0, 40:]
    assert dx.mean() > 0.1 and dy.mean() > 0.1 and (dx > 0).mean() > 0.6 and (dy > 0).mean() > 0.6
