"""RRL end to end from pixels (tiny sizes): Algorithm 1 on [encoder(frames), proprio], resume, eval, presets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import rrl.train as train_mod
from rrl.checkpoint import read_checkpoint
from rrl.config import PRESETS, TrainConfig
from rrl.train import LOG_COLUMNS, read_log, resume, train

NON_TIMING = [c for c in LOG_COLUMNS if not c.startswith("t_") and c not in ("wall_time", "rss_peak_mb")]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    from rrl.demos import make_expert_demos, save_demos

    return save_demos(make_expert_demos("door", n=2, seed=0), tmp_path_factory.mktemp("demos") / "door2.h5")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RRL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rrl-cache"))


def _cfg(out: Path, demo_file: Path, **kw) -> TrainConfig:
    base = dict(
        task="door", obs="rgb+proprio", algo="dapg", demos=str(demo_file), n_demos=2, seed=1, iterations=2,
        trajectories=2, horizon=12, eval_episodes=1, policy_size=(16, 16), vf_size=(16, 16),
        encoder="efficientnet_lite0", render_size=73, image_size=64, n_envs=2, n_groups=2, out=str(out),
    )  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def _rows(run_dir: Path) -> list[dict[str, str]]:
    return [{c: r[c] for c in NON_TIMING} for r in read_log(run_dir / "log.csv")]


@pytest.fixture(scope="module")
def pixel_run(tmp_path_factory, demo_file) -> Path:
    mp = pytest.MonkeyPatch()
    mp.setenv("RRL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rrl-cache"))
    try:
        return train(_cfg(tmp_path_factory.mktemp("run") / "full", demo_file), progress=False)
    finally:
        mp.undo()


def test_pixel_run_trains_on_encoder_features_and_proprio(pixel_run: Path) -> None:
    rows = _rows(pixel_run)
    assert [int(r["samples"]) for r in rows] == [24, 48]
    for r in rows:  # a real NPG step on 1280 + 24 inputs, kept inside the trust region
        assert 0 < float(r["kl"]) <= 2 * 0.05
    # 24 samples for ~21k parameters: the Fisher is rank-deficient, the quadratic model of Eq. 6 overshoots
    # and the KL safety net halves the step (at paper scale, 40,000 samples, it does not trigger)
    assert any(int(r["step_backtracks"]) > 0 for r in rows)
    state = read_checkpoint(pixel_run / "checkpoint.pt")["policy"]
    assert state["net.0.weight"].shape == (16, 1280 + 24)  # EfficientNet-Lite0 features + 24 hand joints
    # BC fitted the input scales on the demo features: the proprio block matches the demos' joint spread
    assert torch.all(state["in_scale"][1280:] > 0) and not torch.equal(state["in_shift"], torch.zeros(1304))
    cfg = json.loads((pixel_run / "config.json").read_text())["config"]
    assert cfg["encoder"] == "efficientnet_lite0" and cfg["image_size"] == 64 and cfg["obs"] == "rgb+proprio"
    assert (pixel_run / "curve.png").stat().st_size > 0


def test_pixel_run_resumes_to_the_same_iteration(pixel_run: Path, tmp_path: Path, demo_file: Path) -> None:
    half = train(_cfg(tmp_path / "half", demo_file, iterations=1), progress=False)
    resume(half, progress=False, iterations=2)
    assert _rows(half) == _rows(pixel_run)
    a = read_checkpoint(half / "checkpoint.pt")["policy"]
    b = read_checkpoint(pixel_run / "checkpoint.pt")["policy"]
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_visual_demo_features_are_cached(pixel_run: Path, demo_file: Path, tmp_path: Path) -> None:
    from rrl.demos import load_demos

    cfg = _cfg(tmp_path / "x", demo_file)
    enc = train_mod.make_run_encoder(cfg)
    cached = train_mod.load_visual_demos(cfg, enc)  # written by the pixel_run fixture
    n = sum(len(t["actions"]) for t in load_demos(demo_file).trajectories)
    assert cached.observations.shape == (n, 1304)
    frames_rendered = []
    original = enc.encode_views
    enc.encode_views = lambda px: frames_rendered.append(len(px)) or original(px)
    again = train_mod.load_visual_demos(cfg, enc)
    assert frames_rendered == [] and np.array_equal(again.observations, cached.observations)


def test_proprio_arm_and_input_pca_shape_the_policy_input(tmp_path: Path, demo_file: Path) -> None:
    """``proprio_arm``: door's 4 arm joints join the 24 hand joints, in the rollouts, the demos and evaluation;
    ``input_pca``: the first layer sees 8 principal components of the 1280 features and the 28 joints raw."""
    from rrl.demos import load_demos
    from rrl.evaluate import evaluate_run

    run_dir = train(_cfg(tmp_path / "arm", demo_file, iterations=1, proprio_arm=True, input_pca=8), progress=False)
    state = read_checkpoint(run_dir / "checkpoint.pt")["policy"]
    assert state["in_shift"].shape == (1280 + 4 + 24,) and state["in_proj"].shape == (1280, 8)
    assert state["net.0.weight"].shape == (16, 8 + 4 + 24)
    # the policy's input shift was fitted to the demos: its proprio block is the demos' mean arm + hand qpos
    qpos = np.concatenate([t["sim_states"]["qpos"] for t in load_demos(demo_file).trajectories])
    np.testing.assert_allclose(state["in_shift"][1280:].numpy(), qpos[:, :28].mean(axis=0), rtol=1e-5, atol=1e-6)
    result = evaluate_run(run_dir, episodes=1)
    assert result.episodes == 1 and 0 < result.input_shift < result.input_max < np.inf
    with pytest.raises(ValueError, match="proprio_arm adds arm joints"):
        _cfg(tmp_path / "x", demo_file, obs="rgb", proprio_arm=True)


def test_missing_resnet_weights_fail_before_any_environment(tmp_path: Path, demo_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-hub"))

    def no_envs(*a, **k):
        raise AssertionError("an environment was started before the encoder check")

    monkeypatch.setattr(train_mod, "make_default_sampler", no_envs)
    monkeypatch.setattr(train_mod, "load_demo_set", no_envs)
    with pytest.raises(FileNotFoundError, match="resnet34.*efficientnet_lite0|efficientnet_lite0.*resnet34"):
        train(_cfg(tmp_path / "r34", demo_file, encoder="resnet34"), progress=False)


def test_eval_cli_reproduces_training_eval_and_writes_video(pixel_run: Path, tmp_path: Path, capsys) -> None:
    from rrl.cli import main

    assert main(["eval", str(pixel_run), "--episodes", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    summary = json.loads((pixel_run / "summary.json").read_text())["final_policy_eval"]
    assert out["success_rate"] == summary["success_rate"] and np.isclose(out["mean_return"], summary["mean_return"])
    video = tmp_path / "door.mp4"
    assert main(["eval", str(pixel_run), "--episodes", "0", "--video", str(video), "--distractor", "object_color"]) == 0
    frames = np.stack(list(_ffmpeg_frames(video)))
    assert frames.shape[0] == 12 and frames.shape[1:3] == (64, 64)
    assert main(["eval", str(tmp_path / "nothing-here"), "--episodes", "1"]) == 2
    assert "not found" in capsys.readouterr().err


def test_presets_and_overrides(capsys) -> None:
    paper_pen = TrainConfig.from_preset("paper", "pen")
    assert (paper_pen.encoder, paper_pen.trajectories, paper_pen.iterations) == ("resnet34", 400, 300)
    assert (paper_pen.render_size, paper_pen.image_size, paper_pen.policy_size) == (256, 224, (256, 256))
    paper_door = TrainConfig.from_preset("paper", "door")
    assert paper_door.trajectories * paper_door.effective_horizon == 40_000 and paper_door.iterations == 200
    cpu = TrainConfig.from_preset("cpu", "door", seed=3, trajectories=20)
    assert cpu.encoder == "efficientnet_lite0" and cpu.trajectories == 20 and cpu.seed == 3 and cpu.preset == "cpu"
    assert set(PRESETS) == {"paper", "cpu", "smoke"}
    with pytest.raises(ValueError, match="unknown preset"):
        TrainConfig.from_preset("huge", "door")
    with pytest.raises(ValueError, match="unknown camera"):
        TrainConfig(obs="rgb+proprio", cameras=("nope",))
    with pytest.raises(ValueError, match="multiple of n_groups"):
        TrainConfig(obs="rgb+proprio", n_envs=3, n_groups=2)
    from rrl.cli import main

    assert main(["train", "--resume", "somewhere", "--preset", "cpu", "--no-progress"]) == 2
    assert "new runs only" in capsys.readouterr().err


def _ffmpeg_frames(path: Path):
    import imageio.v2 as imageio

    with imageio.get_reader(path, format="FFMPEG") as reader:
        yield from reader


def test_a_moved_run_finds_its_encoder_weights_at_another_path(tmp_path: Path, demo_file: Path, capsys) -> None:
    """A run started with --encoder-weights PATH resumes and evaluates with the same weights at another path (a run
    moved to another machine or folder), checked against the weights hash config.json recorded; other weights, or
    a run that recorded no hash, are refused before anything is written."""
    import shutil

    from rrl.cli import main
    from rrl.encoders.efficientnet import packaged_weights
    from rrl.evaluate import evaluate_run

    first = tmp_path / "machine_a" / "lite0.pth"
    first.parent.mkdir()
    shutil.copy(packaged_weights(), first)
    run = train(_cfg(tmp_path / "run", demo_file, iterations=1, encoder_weights=str(first)), progress=False)
    meta = json.loads((run / "config.json").read_text())
    recorded = meta["encoder_weights_hash"]
    assert meta["config"]["encoder_weights"] == str(first) and len(recorded) == 64
    moved = tmp_path / "machine_b" / "weights.pth"
    moved.parent.mkdir()
    shutil.move(first, moved)
    with pytest.raises(FileNotFoundError, match="does not exist .*--encoder-weights PATH"):  # the recorded path is gone
        resume(run, progress=False, iterations=2)
    other = tmp_path / "other.pth"
    state = torch.load(moved, weights_only=True)
    key = next(k for k, v in state.items() if v.is_floating_point())
    torch.save({**state, key: state[key] + 0.01}, other)
    before = (run / "config.json").read_bytes()
    with pytest.raises(ValueError, match="are not those .* was trained with"):
        resume(run, progress=False, iterations=2, encoder_weights=str(other))
    assert main(["eval", str(run), "--episodes", "1", "--encoder-weights", str(other), "--no-progress"]) == 2
    assert "are not those" in capsys.readouterr().err and (run / "config.json").read_bytes() == before
    resume(run, progress=False, iterations=2, encoder_weights=str(moved))
    meta = json.loads((run / "config.json").read_text())
    assert len(read_log(run / "log.csv")) == 2 and meta["config"]["encoder_weights"] == str(moved)
    assert meta["resumed_with"][-1]["overrides"]["encoder_weights"] == str(moved)
    assert meta["encoder_weights_hash"] == recorded
    assert evaluate_run(run, 1, encoder_weights=str(moved)).episodes == 1
    # a run whose config.json recorded no hash (made before rrl recorded one) keeps its own path
    del meta["encoder_weights_hash"]
    meta["config"]["encoder_weights"] = str(first)
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"records no hash .* --encoder-weights {first}"):
        resume(run, progress=False, iterations=3, encoder_weights=str(moved))
