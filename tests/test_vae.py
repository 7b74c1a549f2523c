"""RRL(VAE) (paper appendix 7.4): data collection, VAE training, checkpoints and the frozen `vae` encoder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rrl.encoders import make_encoder
from rrl.vae import (
    SOURCES,
    ConvVAE,
    FrameDataset,
    VAECheckpointError,
    VAEConfig,
    collect_frames,
    evaluate,
    fit,
    load_checkpoint,
    resize_matrix,
    save_checkpoint,
    to_unit_nchw,
    vae_loss,
)

SMALL = VAEConfig(latent_dim=16, channels=(16, 32, 64, 64))


@pytest.fixture(scope="module")
def door_frames() -> FrameDataset:
    return collect_frames("door", frames=48, image_size=64, seed=0)


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("RRL_CACHE_DIR", str(tmp_path / "cache"))  # ONNX exports and default paths stay out of ~


# --- data ------------------------------------------------------------------------------------------------------


def test_collect_frames_four_sources_in_equal_shares(door_frames):
    ds = door_frames
    assert ds.frames.shape == (48, 64, 64, 3) and ds.frames.dtype == np.uint8
    assert ds.counts() == {"door": {s: 12 for s in SOURCES}}
    assert ds.tasks == ("door",) and np.all(ds.task == 0)
    dev = {s: ds.action_deviation[ds.source == j] for j, s in enumerate(SOURCES)}
    # the expert quarter follows the mean action exactly; noise grows from small to large; random is far off
    assert np.all(dev["expert"] == 0)
    assert 0.03 < dev["expert_small_noise"].mean() <= 0.1 + 1e-6
    assert dev["expert_small_noise"].mean() < dev["expert_large_noise"].mean() <= 0.5 + 1e-6
    assert dev["random"].mean() > 2 * dev["expert_small_noise"].mean()
    # real renders, not blank: the episodes of different sources start from different resets
    assert ds.frames.std() > 20
    firsts = [ds.frames[ds.source == j][0] for j in range(len(SOURCES))]
    assert not np.array_equal(firsts[0], firsts[1])


def test_collect_frames_is_seeded_and_splits_tasks_equally(door_frames, tmp_path):
    again = collect_frames("door", frames=8, image_size=64, seed=0)
    # the first source's first frames are the same episode as in the 48-frame set
    np.testing.assert_array_equal(again.frames[:2], door_frames.frames[:2])
    both = collect_frames(("door", "hammer"), frames=10, image_size=32, seed=1)
    assert both.frames.shape == (10, 32, 32, 3)
    assert both.counts() == {
        "door": {"expert": 2, "expert_small_noise": 1, "expert_large_noise": 1, "random": 1},
        "hammer": {"expert": 2, "expert_small_noise": 1, "expert_large_noise": 1, "random": 1},
    }
    path = both.save(tmp_path / "frames.npz")
    back = FrameDataset.load(path)
    np.testing.assert_array_equal(back.frames, both.frames)
    assert back.tasks == both.tasks and back.counts() == both.counts() and back.metadata["seed"] == 1
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(VAECheckpointError, match="not an rrl VAE frames file"):
        FrameDataset.load(tmp_path / "bad.npz")


# --- model and loss --------------------------------------------------------------------------------------------


def test_vae_loss_is_the_negative_elbo():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 16, 16, generator=g)
    logits = torch.randn(3, 3, 16, 16, generator=g)
    mu, logvar = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    rec, kl = vae_loss(logits, x, mu, logvar, "bernoulli")
    # Bernoulli log-likelihood of intensities x (the continuous relaxation: x log p + (1 - x) log(1 - p))
    p = torch.sigmoid(logits)
    ref_rec = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1).mean()
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    ref_kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1).mean()
    torch.testing.assert_close(rec, ref_rec, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(kl, ref_kl, rtol=1e-5, atol=1e-5)
    mse, _ = vae_loss(logits, x, mu, logvar, "mse")
    torch.testing.assert_close(mse, ((p - x) ** 2).flatten(1).sum(1).mean())


def test_vae_shapes_and_config_validation():
    model = ConvVAE(VAEConfig(latent_dim=8, image_size=32, channels=(8, 16)))
    logits, mu, logvar = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 3, 32, 32) and mu.shape == logvar.shape == (2, 8)
    with pytest.raises(ValueError, match="multiple of 2\\*\\*len\\(channels\\) = 16"):
        VAEConfig(image_size=40)
    with pytest.raises(ValueError, match="recon_loss"):
        VAEConfig(recon_loss="l1")


def test_vae_reduces_reconstruction_loss_on_a_fixed_batch(door_frames):
    batch = door_frames.frames[::2]  # 24 real door frames, all four sources
    torch.manual_seed(0)
    model = ConvVAE(SMALL)
    before = evaluate(model, batch)
    history = fit(model, batch, epochs=30, batch_size=len(batch), lr=2e-3, seed=0)
    after = evaluate(model, batch)
    assert len(history) == 30
    # untrained: ~ln 2 nats per value (8517 per image); 30 steps: ~6200 and a 3x lower pixel MSE (seed 0)
    assert after["recon"] < before["recon"] - 1500
    assert after["pixel_mse"] < 0.5 * before["pixel_mse"]
    assert history[-1]["train_recon"] + history[-1]["train_kl"] < history[0]["train_recon"] + history[0]["train_kl"]


# --- end to end: CLI -> checkpoint -> encoder registry ---------------------------------------------------------


def test_cli_train_writes_checkpoint_and_grid_that_the_vae_encoder_loads(tmp_path, door_frames):
    from rrl.cli import main

    ckpt, grid = tmp_path / "vae.pt", tmp_path / "grid.png"
    argv = ["vae", "train", "--task", "door", "--frames", "200", "--epochs", "1", "--latent", "16", "--size", "64",
            "--seed", "3", "--out", str(ckpt), "--grid", str(grid), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert ckpt.is_file() and grid.is_file()
    import imageio.v3 as iio

    img = iio.imread(grid)
    assert img.ndim == 3 and img.shape[0] > 2 * 64 and img.shape[1] > 8 * 64  # 2 rows x 8 columns at 2x
    model, meta = load_checkpoint(ckpt)
    assert meta["data"]["counts"] == {"door": {s: 50 for s in SOURCES}}
    assert meta["train_config"]["seed"] == 3 and len(meta["history"]) == 1

    frames = door_frames.frames[:5]
    enc = make_encoder("vae", weights=ckpt, image_size=64, backend="torch")
    assert enc.feature_dim == 16 and not enc.has_classifier
    feats = enc(frames)
    assert feats.shape == (5, 16) and feats.dtype == np.float32
    np.testing.assert_array_equal(enc(frames), feats)  # deterministic: the mean of q(z|x), no sampling
    with torch.no_grad():
        ref = model.encoder(to_unit_nchw(frames))[0].numpy()
    np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-5)
    assert enc.encode_views(np.stack([frames, frames[::-1]], axis=1)).shape == (5, 32)
    ort = make_encoder("vae", weights=ckpt, image_size=64, backend="onnxruntime")
    np.testing.assert_allclose(ort(frames), feats, rtol=1e-4, atol=1e-4)

    # frames of another size are resized to 64 inside the network (pass image_size = the frame size)
    big = np.repeat(np.repeat(frames, 3, axis=1), 3, axis=2)  # 192 x 192
    x = F.interpolate(to_unit_nchw(big), size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        ref_big = model.encoder(x)[0].numpy()
    for backend in ("torch", "onnxruntime"):
        enc_big = make_encoder("vae", weights=ckpt, image_size=192, backend=backend)
        np.testing.assert_allclose(enc_big(big), ref_big, rtol=1e-4, atol=1e-4)


def test_resize_matrix_matches_torch_antialiased_bilinear():
    x = torch.rand(2, 3, 224, 200)
    ref = F.interpolate(x, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
    torch.testing.assert_close(resize_matrix(224, 64) @ x @ resize_matrix(200, 64).T, ref, rtol=1e-5, atol=1e-5)


# --- errors ----------------------------------------------------------------------------------------------------


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="rrl vae train"):
        make_encoder("vae")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_encoder("vae", weights=tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(VAECheckpointError, match="not a readable torch checkpoint"):
        make_encoder("vae", weights=garbage, image_size=64)
    good = save_checkpoint(ConvVAE(SMALL), tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(VAECheckpointError, match="not a readable torch checkpoint"):
        load_checkpoint(truncated)
    plain = tmp_path / "plain.pt"
    torch.save(ConvVAE(SMALL).state_dict(), plain)  # a bare state dict is not our format
    with pytest.raises(VAECheckpointError, match="expected an rrl VAE checkpoint"):
        make_encoder("vae", weights=plain)
    ckpt = torch.load(good, weights_only=True)
    torch.save({**ckpt, "version": 99}, tmp_path / "future.pt")
    with pytest.raises(VAECheckpointError, match="version 99 is not supported"):
        load_checkpoint(tmp_path / "future.pt")
    torch.save({**ckpt, "config": {**ckpt["config"], "latent_dim": 32}}, tmp_path / "mismatch.pt")
    with pytest.raises(VAECheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "mismatch.pt")
    assert isinstance(VAECheckpointError("x"), ValueError)  # the CLI prints ValueErrors as `rrl ...: error: ...`


def test_vae_is_registered_without_importing_rrl_vae():
    code = (
        "import sys, rrl.encoders as e; assert 'rrl.vae' not in sys.modules; "
        "assert 'vae' in e.available_encoders(); "
        "enc = e.make_encoder('random:vae', image_size=64, backend='torch'); print(enc.feature_dim)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "512"
