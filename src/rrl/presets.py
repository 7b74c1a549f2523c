"""Presets: the settings a run starts from (``rrl train --preset NAME``), per task.

``PRESETS`` are RRL's (DAPG on frozen encoder features): ``paper`` (appendix 7.1, a GPU box), ``cpu`` (a 2-core
machine), ``smoke`` (minutes, every stage). ``FERM_PRESETS`` are FERM's (``--algo ferm --preset NAME``). Each is a
function ``task -> {TrainConfig field: value}``; flags given beside a preset win. Free of torch, like
:mod:`rrl.config`.
"""

from __future__ import annotations

from typing import Any

from rrl.tasks import get_task


def paper_preset(task: str) -> dict[str, Any]:
    """RRL from pixels at paper scale (appendix 7.1 and the released RRL configs), for a GPU box or cluster.

    ResNet-34 features of the task's camera (256 render, 224 crop), (256, 256) policy, 200 trajectories per
    iteration (400 for pen: 40,000 samples either way), 200 iterations (300 for pen and relocate), sparse reward.
    """
    return dict(
        obs="rgb+proprio", algo="dapg", encoder="resnet34", render_size=256, image_size=224, policy_size=(256, 256),
        trajectories=400 if task == "pen" else 200, iterations=300 if task in ("pen", "relocate") else 200,
        eval_episodes=25, n_envs=16, n_groups=2,
    )  # fmt: skip


def cpu_preset(task: str) -> dict[str, Any]:
    """RRL from pixels sized for a 2-core CPU (docs/training.md): learning visible within about 2 hours.

    Trade-offs against ``paper``: EfficientNet-Lite0 on onnxruntime instead of ResNet-34 (5-9x faster here;
    1280 features), 146-pixel renders cropped to 128 (the paper's 8/7 ratio; rendering and encoding cost scale
    with the pixel count), 40 trajectories per iteration (80 for pen) instead of 200, deterministic evaluation
    on 10 episodes every 2 iterations, 60 iterations. Everything else as in the paper.
    """
    return dict(
        obs="rgb+proprio", algo="dapg", encoder="efficientnet_lite0", encoder_backend="auto", render_size=146,
        image_size=128, policy_size=(256, 256), trajectories=80 if task == "pen" else 40, iterations=60,
        eval_episodes=10, eval_every=2, n_envs=4, n_groups=2,
    )  # fmt: skip


def smoke_preset(task: str) -> dict[str, Any]:
    """A run of a few minutes that goes through every stage (the README's first command): 25 demos, 64-px
    crops, 3 small DAPG iterations (BC alone reaches about 50% deterministic success on door here)."""
    return dict(
        obs="rgb+proprio", algo="dapg", encoder="efficientnet_lite0", render_size=73, image_size=64,
        policy_size=(64, 64), vf_size=(64, 64), trajectories=4, iterations=3, eval_episodes=4, n_envs=2,
        n_groups=1,
    )  # fmt: skip


PRESETS = {"paper": paper_preset, "cpu": cpu_preset, "smoke": smoke_preset}


def ferm_paper_preset(task: str) -> dict[str, Any]:
    """FERM as the RRL authors' FERM config runs it (``--algo ferm --preset paper``): 100-pixel renders randomly
    cropped to 84, (1024, 1024) actor and critics, batch 128, one update per sample, critic and encoder targets
    stepped after every update (critic rate 0.05, encoder 0.05), a 1M-step replay (30 GB of frames at 100 px)
    that the demos fill first (expert demonstrations acted with draws from the expert's Gaussian, as FERM's code
    collected them), 1600 CURL warm-up updates, one episode per iteration, 1M samples; 10 evaluation episodes
    every 10k samples."""
    horizon = get_task(task).horizon
    return dict(
        obs="rgb+proprio", algo="ferm", render_size=100, image_size=84, policy_size=(1024, 1024), trajectories=1,
        iterations=1_000_000 // horizon, sac_batch_size=128, sac_updates_per_sample=1.0, sac_buffer=1_000_000,
        expert_demo_actions="sampled", sac_demo_fraction=0.0, sac_lr=1e-3, sac_tau=0.05, sac_target_update_every=1,
        sac_gamma=0.99,
        sac_init_temperature=0.1, sac_critic_layer_norm=False, ferm_curl_updates=1600, eval_episodes=10,
        eval_every=10_000 // horizon, n_envs=1, n_groups=1,
    )  # fmt: skip


def ferm_cpu_preset(task: str) -> dict[str, Any]:
    """FERM sized for a 2-core CPU (docs/algorithms.md): 76-pixel renders randomly cropped to 64 (the paper's
    84/100 ratio), batch 64, one update per 4 samples, a 110k-step replay (the run's samples and the demos: none
    is overwritten, as in ``paper``), two episodes per iteration, 100k samples; 10 evaluation episodes every 4k
    samples. The rest as ``paper``."""
    horizon = get_task(task).horizon
    return {
        **ferm_paper_preset(task), "render_size": 76, "image_size": 64, "sac_batch_size": 64, "sac_buffer": 110_000,
        "sac_updates_per_sample": 0.25, "trajectories": 2, "iterations": 100_000 // (2 * horizon),
        "eval_every": 4_000 // (2 * horizon), "n_envs": 2,
    }  # fmt: skip


def ferm_smoke_preset(task: str) -> dict[str, Any]:
    """A FERM run of about a minute through every stage (tests, a first look)."""
    return {
        **ferm_paper_preset(task), "render_size": 40, "image_size": 32, "policy_size": (64, 64), "sac_batch_size": 16,
        "sac_updates_per_sample": 0.05, "sac_buffer": 10_000, "ferm_curl_updates": 5, "trajectories": 2,
        "iterations": 2, "eval_episodes": 2, "eval_every": 1, "n_envs": 2, "n_demos": 2,
    }  # fmt: skip


FERM_PRESETS = {"paper": ferm_paper_preset, "cpu": ferm_cpu_preset, "smoke": ferm_smoke_preset}  # --algo ferm
