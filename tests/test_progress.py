"""Progress bars of the long waits: they go to stderr only when asked for and leave the results unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rrl.sampling import DemoData
from rrl.train import TrainConfig, train


@pytest.fixture(scope="module")
def bc_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BC-only door run from state on random (observation, action) pairs: a policy to evaluate, in seconds."""
    rng = np.random.default_rng(0)
    demos = DemoData(rng.standard_normal((64, 39)).astype(np.float32),
                     rng.uniform(-1, 1, (64, 28)).astype(np.float32), n_trajectories=2)  # fmt: skip
    out = tmp_path_factory.mktemp("progress") / "bc"
    cfg = TrainConfig(task="door", algo="bc", seed=0, horizon=20, eval_episodes=1, policy_size=(16, 16),
                      vf_size=(16, 16), n_demos=2, out=str(out))  # fmt: skip
    return train(cfg, demos=demos, progress=False)


def test_evaluate_run_shows_a_bar_over_episodes_only_when_asked(bc_run: Path, capsys) -> None:
    from rrl.evaluate import evaluate_run

    quiet = evaluate_run(bc_run, episodes=3, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    shown = evaluate_run(bc_run, episodes=3, progress=True)
    captured = capsys.readouterr()
    assert "eval door" in captured.err and "3/3" in captured.err and captured.out == ""
    assert shown.success_rate == quiet.success_rate and shown.mean_return == quiet.mean_return
    np.testing.assert_array_equal(shown.successes, quiet.successes)


def test_eval_cli_bar_and_no_progress(bc_run: Path, capsys) -> None:
    from rrl.cli import main

    assert main(["eval", str(bc_run), "--episodes", "2", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "over 2 episodes" in captured.out
    assert main(["eval", str(bc_run), "--episodes", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert "2/2" in captured.err and '"episodes": 2' in captured.out


def test_episode_bar_follows_collection_rounds(capsys) -> None:
    from rrl.evaluate import _EpisodeBar

    bar = _EpisodeBar(episodes=5, width=4, horizon=10, desc="eval")
    seen = []
    for _ in range(20):  # two rounds of 4 environments x 10 steps; the second round keeps 1 episode
        bar.steps(4)
        seen.append(bar.bar.n)
    assert seen[4] == 2 and seen[9] == 4 and seen[14] == 4 and seen[19] == 5
    assert seen == sorted(seen)
    bar.close()
    capsys.readouterr()


def test_vae_collection_and_training_bars(capsys) -> None:
    from rrl.vae import ConvVAE, VAEConfig, collect_frames, fit

    frames = collect_frames("door", frames=8, image_size=32, seed=0, progress=False)
    assert capsys.readouterr().err == ""
    collect_frames("door", frames=8, image_size=32, seed=0, progress=True)
    assert "collect frames" in capsys.readouterr().err
    model = ConvVAE(VAEConfig(latent_dim=4, image_size=32, channels=(8, 8)))
    fit(model, frames.frames, epochs=2, batch_size=4, progress=False)
    assert capsys.readouterr().err == ""
    fit(model, frames.frames, epochs=2, batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "train VAE" in err and "4/4" in err
