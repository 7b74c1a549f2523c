"""FERM (rrl.algos.ferm, rrl.train_ferm): CURL, the encoder's gradient paths, the frame replay, runs from real
MuJoCo frames, exact resume and evaluation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from rrl.algos.ferm import (
    FERMAgent,
    FERMConfig,
    FrameFlattener,
    FrameReplay,
    center_crop,
    curl_loss,
    random_crop,
    split_observation,
)
from rrl.algos.sac import SACConfig

pytestmark = pytest.mark.usefixtures("isolated_caches")

SMALL = FERMConfig(sac=SACConfig(hidden=(32, 32), critic_layer_norm=False, batch_size=16), image_size=32,
                   feature_dim=16)  # fmt: skip


def _door_frames(n: int, size: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` real door frames (N, 3, size, size) and proprioception after random actions."""
    from rrl.envs import EnvConfig, make_env

    env = make_env(EnvConfig(task="door", obs_mode="rgb+proprio", render_size=size, crop_size=None))
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    frames, proprio = [], []
    for _ in range(n):
        frames.append(obs["pixels"][0].transpose(2, 0, 1))
        proprio.append(obs["proprio"])
        obs, *_ = env.step(env.action_space.sample())
    env.close()
    return np.stack(frames), np.stack(proprio).astype(np.float32)


def test_crops_and_observation_split_are_exact():
    frames = torch.arange(2 * 3 * 6 * 6, dtype=torch.uint8).reshape(2, 3, 6, 6)
    out = random_crop(frames, 4, torch.Generator().manual_seed(0))
    for i in range(2):  # every crop is a window of its own frame stack, same offset on every channel
        hits = [(r, c) for r in range(3) for c in range(3) if torch.equal(frames[i, :, r : r + 4, c : c + 4], out[i])]
        assert len(hits) == 1
    assert torch.equal(center_crop(frames, 4), frames[..., 1:5, 1:5])
    pixels = np.random.default_rng(0).integers(0, 256, size=(5, 2, 8, 8, 3), dtype=np.uint8)  # 2 cameras
    flat = np.concatenate([FrameFlattener(8).encode_views(pixels), np.ones((5, 24), np.float32)], axis=1)
    stacks, proprio = split_observation(flat, n_cameras=2, size=8)
    assert stacks.dtype == np.uint8 and stacks.shape == (5, 6, 8, 8) and proprio.shape == (5, 24)
    np.testing.assert_array_equal(stacks[:, 3:6].transpose(0, 2, 3, 1), pixels[:, 1])  # camera 2's RGB


def test_curl_loss_falls_on_a_fixed_batch_of_real_frames():
    """32 door frames of different episodes (40 px, cropped to 32): InfoNCE starts near chance (log 32) and falls
    once the encoder tells the frames apart (after about 300 updates here; 2.4 by 500)."""
    from rrl.envs import EnvConfig, make_env

    env = make_env(EnvConfig(task="door", obs_mode="rgb", render_size=40, crop_size=None))
    stacks = []
    for s in range(32):
        obs, _ = env.reset(seed=s)
        stacks.append(obs["pixels"][0].transpose(2, 0, 1))
    env.close()
    agent = FERMAgent(3, 24, 28, SMALL, seed=0)
    batch = torch.from_numpy(np.stack(stacks))
    losses = [agent.update_curl(batch) for _ in range(500)]
    assert abs(losses[0] - np.log(32)) < 0.3  # the untrained codes' scores spread a little around chance
    assert np.mean(losses[-20:]) < 0.8 * np.log(32)
    z = torch.randn(8, 16)  # the positive pair scores highest -> the loss is lowest
    assert curl_loss(z, z, torch.eye(16)) < curl_loss(z, torch.randn(8, 16), torch.eye(16))


def test_curl_encoder_steps_twice_as_ferm_code_does():
    """curl_encoder_steps=2: the encoder's second Adam (fresh moments) takes the same first step as CURL's own, so
    after one update the encoder has moved exactly twice as far and W as far as with one optimiser; the second
    optimiser's moments survive a checkpoint."""
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (8, 3, 40, 40), dtype=np.uint8))
    agents = [FERMAgent(3, 24, 28, dataclasses.replace(SMALL, curl_encoder_steps=k), seed=0) for k in (1, 2)]
    before = [p.detach().clone() for p in agents[0].trunk.parameters()]
    w0 = agents[0].w.detach().clone()
    for agent in agents:
        agent.update_curl(frames)
    for p0, p1, p2 in zip(before, agents[0].trunk.parameters(), agents[1].trunk.parameters()):
        torch.testing.assert_close(p2 - p0, 2 * (p1 - p0), rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(agents[1].w - w0, agents[0].w - w0)
    assert agents[0].curl_encoder_opt is None and "curl_encoder_opt" not in agents[0].state_dict()
    restored = FERMAgent(3, 24, 28, dataclasses.replace(SMALL, curl_encoder_steps=2), seed=1)
    restored.load_state_dict(agents[1].state_dict())
    exp_avg = next(iter(restored.curl_encoder_opt.state.values()))["exp_avg"]
    torch.testing.assert_close(exp_avg, next(iter(agents[1].curl_encoder_opt.state.values()))["exp_avg"])
    with pytest.raises(ValueError, match="curl_encoder_steps must be 1 or 2"):
        dataclasses.replace(SMALL, curl_encoder_steps=3)


def test_critic_trains_the_encoder_and_the_actor_does_not():
    frames, proprio = _door_frames(20)
    agent = FERMAgent(3, 24, 28, SMALL, seed=0)
    replay = FrameReplay(100, (3, 40, 40), 24, 28)
    rng = np.random.default_rng(0)
    replay.add_trajectory(frames, proprio, rng.uniform(-1, 1, (20, 28)).astype(np.float32), np.ones(20, np.float32))
    trunk0 = [p.detach().clone() for p in agent.trunk.parameters()]
    target0 = [p.detach().clone() for p in agent.target_trunk.parameters()]
    actor_proj0 = [p.detach().clone() for p in agent.actor.proj.parameters()]
    agent.update(replay.sample(16, rng))  # critic only (actor every 2nd update)
    trunk1 = [p.detach().clone() for p in agent.trunk.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(trunk0, trunk1))  # the critic loss trains the conv trunk
    assert all(torch.equal(a, b) for a, b in zip(actor_proj0, agent.actor.proj.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(target0, agent.target_trunk.parameters()))
    stats = agent.update(replay.sample(16, rng))  # critic, then actor, temperature and targets
    assert "actor_loss" in stats and np.isfinite(stats["actor_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(actor_proj0, agent.actor.proj.parameters()))
    assert agent.actor.trunk is agent.trunk  # acting uses the critic's conv weights
    for t0, t, s in zip(target0, agent.target_trunk.parameters(), agent.trunk.parameters()):  # Polyak, tau 0.05
        torch.testing.assert_close(t, 0.95 * t0 + 0.05 * s.detach())


def test_targets_step_every_update_as_the_rrl_authors_ferm_config():
    """``target_update_every=1`` (their critic_target_update_freq): the critic's and the encoder's targets move
    after the first update, before any actor step; the actor still steps every second update."""
    sac = dataclasses.replace(SMALL.sac, tau=0.05, target_update_every=1)
    frames, proprio = _door_frames(20)
    agent = FERMAgent(3, 24, 28, dataclasses.replace(SMALL, sac=sac), seed=0)
    replay = FrameReplay(100, (3, 40, 40), 24, 28)
    rng = np.random.default_rng(0)
    replay.add_trajectory(frames, proprio, rng.uniform(-1, 1, (20, 28)).astype(np.float32), np.ones(20, np.float32))
    target0 = [p.detach().clone() for p in agent.critic_target.parameters()]
    trunk0 = [p.detach().clone() for p in agent.target_trunk.parameters()]
    stats = agent.update(replay.sample(16, rng))
    assert "actor_loss" not in stats
    for t0, t, s in zip(target0, agent.critic_target.parameters(), agent.critic.parameters()):
        torch.testing.assert_close(t, 0.95 * t0 + 0.05 * s.detach())
    for t0, t, s in zip(trunk0, agent.target_trunk.parameters(), agent.trunk.parameters()):
        torch.testing.assert_close(t, 0.95 * t0 + 0.05 * s.detach())


def test_frame_replay_keeps_successors_within_trajectories_across_the_wrap():
    replay = FrameReplay(10, (1, 2, 2), 1, 1)
    for traj, n in enumerate((4, 4, 4)):  # 12 steps into 10: the third trajectory wraps around
        ids = np.full(n, traj * 10, np.float32) + np.arange(n, dtype=np.float32)
        replay.add_trajectory(np.zeros((n, 1, 2, 2), np.uint8), ids[:, None], ids[:, None], ids)
    assert replay.size == 10 and replay.pos == 2 and replay.written == 12
    batch = replay.sample(500, np.random.default_rng(0))
    # every transition's successor is the same trajectory's next step
    np.testing.assert_array_equal(batch["next_proprio"][:, 0], batch["proprio"][:, 0] + 1)
    assert {int(x) // 10 for x in batch["proprio"][:, 0]} == {0, 1, 2}
    assert FrameReplay.bytes_per_step((3, 84, 84), 24, 28) == 3 * 84 * 84 + 4 * 53 + 1


def test_first_needed_replay_file():
    from rrl.train_ferm import _first_needed

    assert _first_needed([400, 400, 400], 1000) == 0  # every file still has steps in the buffer
    assert _first_needed([400, 400, 400, 400], 800) == 2  # the last two files fill it; files 0 and 1 are gone
    assert _first_needed([400, 400, 400, 400], 801) == 1
    assert _first_needed([], 10) == 0


TINY_FERM = dict(task="door", algo="ferm", obs="rgb+proprio", demos="expert", n_demos=2, render_size=40,
                 image_size=32, policy_size=(32, 32), ferm_feature_dim=16, trajectories=2, horizon=100,
                 sac_batch_size=16, sac_updates_per_sample=0.1, sac_buffer=500, sac_demo_fraction=0.0,
                 ferm_curl_updates=3,
                 eval_episodes=2, n_envs=2, n_groups=1, seed=0)  # fmt: skip


def test_ferm_run_resumes_exactly_and_evaluates(tmp_path):
    """The demos (2 x 200 steps) fill a 500-step buffer first, then 200 steps per iteration: at the 4th checkpoint
    the first iteration's file is overwritten and deleted, and the resumed run reloads only the files still held."""
    from rrl.checkpoint import read_checkpoint
    from rrl.config import TrainConfig
    from rrl.evaluate import evaluate_run
    from rrl.train import read_log, resume, train

    full = train(TrainConfig(**TINY_FERM, iterations=5, out=str(tmp_path / "full")), progress=False)
    part = train(TrainConfig(**TINY_FERM, iterations=4, out=str(tmp_path / "part")), progress=False)
    (part / "replay" / "000004.npz").write_bytes(b"a killed iteration's file")
    assert sorted(p.name for p in (part / "replay").glob("*.npz")) == [f"00000{k}.npz" for k in (1, 2, 3, 4)]
    resume(part, progress=False, iterations=5)
    timing = ("t_", "wall_time", "rss_peak_mb")
    rows = [[{k: v for k, v in r.items() if not k.startswith(timing)} for r in read_log(d / "log.csv")]
            for d in (full, part)]  # fmt: skip
    assert rows[0] == rows[1] and len(rows[0]) == 5
    spread = [(float(r["log_std_mean"]), float(r["saturated"])) for r in rows[0]]  # the entropy estimate's parts
    assert all(-10 <= s <= 2 and 0 <= f <= 1 for s, f in spread)
    a, b = read_checkpoint(full / "checkpoint.pt"), read_checkpoint(part / "checkpoint.pt")
    assert a["replay_chunk_steps"] == b["replay_chunk_steps"] == [200] * 5
    for key in a["policy"]:
        torch.testing.assert_close(a["policy"][key], b["policy"][key], rtol=0, atol=0)
    for key in ("trunk", "critic", "target_trunk"):
        for name in a["baseline"][key]:
            torch.testing.assert_close(a["baseline"][key][name], b["baseline"][key][name], rtol=0, atol=0)
    assert sorted(p.name for p in (part / "replay").glob("*.npz")) == [f"00000{k}.npz" for k in (2, 3, 4)]
    bc = (full / "bc.json").read_text()
    assert '"curl_losses"' in bc and '"demo_transitions": 398' in bc  # the last step of each demo has no successor
    result = evaluate_run(full, episodes=2)
    assert result.episodes == 2 and 0.0 <= result.success_rate <= 1.0
    # scripts/diagnose_sac.py reads a FERM run back too: actor and critics on the demonstrations' frames
    import importlib.util
    import math
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("diagnose_sac", Path(__file__).parents[1] / "scripts/diagnose_sac.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    numbers = module.diagnose(str(full))
    assert len(numbers) == 6 and all(math.isfinite(v) for v in numbers.values())


def test_ferm_offline_sac_warm_up_after_curl(tmp_path):
    """``--sac-offline-updates`` (FERM's warmup_offline_sac) acts on FERM runs: that many SAC updates on the
    demo-filled buffer after the CURL warm-up, before the first episode."""
    import json

    from rrl.checkpoint import read_checkpoint
    from rrl.config import TrainConfig
    from rrl.train import train

    run = train(TrainConfig(**TINY_FERM, iterations=1, sac_offline_updates=5, out=str(tmp_path / "run")),
                progress=False)  # fmt: skip
    bc = json.loads((run / "bc.json").read_text())
    assert len(bc["curl_losses"]) == 3
    assert len(bc["offline_critic_losses"]) == 5 and all(math.isfinite(v) for v in bc["offline_critic_losses"])
    assert read_checkpoint(run / "checkpoint.pt")["baseline"]["updates"] == 5 + round(0.1 * 2 * 100)  # + iteration 0's


def test_ferm_config_errors_and_presets():
    from rrl.config import TrainConfig

    with pytest.raises(ValueError, match="--algo ferm learns from pixels"):
        TrainConfig(task="door", algo="ferm")
    with pytest.raises(ValueError, match="--sac-actor does not act on --algo ferm"):
        TrainConfig.from_preset("cpu", "door", algo="ferm", sac_actor="awac")
    paper = TrainConfig.from_preset("paper", "door", algo="ferm")
    assert (paper.render_size, paper.image_size, paper.policy_size) == (100, 84, (1024, 1024))
    assert paper.sac_batch_size == 128
    assert paper.ferm_curl_updates == 1600 and paper.sac_demo_fraction == 0 and not paper.sac_critic_layer_norm
    assert paper.iterations * paper.trajectories * 200 == 1_000_000
    # the RRL authors' FERM config: targets after every update at rate 0.05, a replay that overwrites nothing
    assert (paper.sac_tau, paper.sac_target_update_every, paper.sac_buffer) == (0.05, 1, 1_000_000)
    cpu = TrainConfig.from_preset("cpu", "pen", algo="ferm")
    assert cpu.iterations * cpu.trajectories * 100 == 100_000
    assert cpu.sac_buffer >= 100_000 + 25 * 100 and (cpu.sac_tau, cpu.sac_target_update_every) == (0.05, 1)
    assert cpu.command_line() == "rrl train --task pen --preset cpu --algo ferm"
    assert paper.expert_demo_actions == cpu.expert_demo_actions == "sampled"  # FERM's code's demonstrations
    assert TrainConfig.from_preset("cpu", "door").algo == "dapg"  # RRL's preset is untouched
    assert TrainConfig.from_preset("cpu", "door").expert_demo_actions == "mean"


def test_ferm_encoder_and_temperature_optimiser_as_the_ferm_code():
    """FERM's code builds its encoders with output_logits=True (the LayerNorm output, no tanh) and steps the
    temperature with Adam betas (0.5, 0.999); configs recorded before these settings existed keep what they ran."""
    from rrl.algos.ferm import FERMAgent
    from rrl.config import TrainConfig
    from rrl.train_ferm import ferm_config

    cfg = TrainConfig.from_preset("smoke", "door", algo="ferm")
    assert not cfg.ferm_encoder_tanh and cfg.sac_alpha_beta == 0.5
    agent = FERMAgent(3, 24, 28, ferm_config(cfg), seed=0)
    assert agent.alpha_opt.param_groups[0]["betas"] == (0.5, 0.999)
    assert not any(isinstance(m, torch.nn.Tanh) for m in (*agent.proj.modules(), *agent.actor.proj.modules()))
    features = agent.proj(torch.randn(64, agent.trunk.out_dim) * 10)
    assert features.abs().max() > 1  # not squashed
    torch.testing.assert_close(features.mean(-1), torch.zeros(64), atol=1e-5, rtol=0)  # LayerNorm's output
    recorded = {k: v for k, v in cfg.to_json().items() if k not in ("ferm_encoder_tanh", "sac_alpha_beta")}
    old = TrainConfig.from_json(recorded)
    assert old.ferm_encoder_tanh and old.sac_alpha_beta == 0.9
    assert "--sac-alpha-beta 0.9 --ferm-encoder-tanh" in old.command_line()
    tanh_agent = FERMAgent(3, 24, 28, ferm_config(old), seed=0)
    assert tanh_agent.proj(torch.randn(64, agent.trunk.out_dim) * 10).abs().max() <= 1
    assert tanh_agent.alpha_opt.param_groups[0]["betas"] == (0.9, 0.999)
    # evaluation rebuilds the policy from the recorded config: the tanh where the run had one (the weights alone
    # cannot tell, a Tanh has none)
    from rrl.train_ferm import FERMPolicy

    old_cfg = dataclasses.replace(old, obs="rgb+proprio")
    policy_state = FERMPolicy(tanh_agent.actor, 1, old_cfg.render_size, old_cfg.image_size).state_dict()
    rebuilt = FERMPolicy.from_state(policy_state, old_cfg)
    assert any(isinstance(m, torch.nn.Tanh) for m in rebuilt.actor.proj.modules())
    assert not any(isinstance(m, torch.nn.Tanh) for m in FERMPolicy.from_state(policy_state, cfg).actor.proj.modules())
    # a resumed agent steps the temperature with the config's betas, whatever the checkpoint's optimiser said
    agent.load_state_dict(tanh_agent.state_dict())
    assert agent.alpha_opt.param_groups[0]["betas"] == (0.5, 0.999)
    state = TrainConfig.from_json({k: v for k, v in TrainConfig(task="door").to_json().items()
                                   if k != "ferm_encoder_tanh"})  # fmt: skip
    assert not state.ferm_encoder_tanh  # only FERM runs ran with the tanh
    sac = TrainConfig(task="door", algo="sac").to_json()
    assert TrainConfig.from_json({k: v for k, v in sac.items() if k != "sac_alpha_beta"}).sac_alpha_beta == 0.9
    # an old run's exported command is the one that remakes it today, not its recorded argv
    from rrl.results import _run_command

    meta = {"config": recorded, "argv": ["/x/rrl", "train", "--task", "door", "--algo", "ferm", "--preset", "smoke"]}
    assert _run_command(meta).endswith("--preset smoke --algo ferm --sac-alpha-beta 0.9 --ferm-encoder-tanh")
    assert _run_command({**meta, "config": cfg.to_json()}) == "rrl train --task door --algo ferm --preset smoke"


def test_ferm_log_prob_bounds_saturated_dimensions_as_the_ferm_code():
    """FERM's actor computes log pi with log(relu(1 - tanh^2) + 1e-6): a saturated dimension adds at most 13.8."""
    from rrl.algos.sac import squash

    u = torch.tensor([[0.3, 40.0]])
    mu, log_std = u.clone(), torch.zeros(1, 2)
    _, exact = squash(u, mu, log_std)
    _, ferm = squash(u, mu, log_std, log_det_eps=1e-6)
    gauss = float(-0.5 * 2 * np.log(2 * np.pi))  # both dimensions at their mean
    assert float(exact) - gauss > 70  # the exact term grows like 2|u|
    assert float(ferm) - gauss == pytest.approx(-np.log(1 - np.tanh(0.3) ** 2 + 1e-6) - np.log(1e-6), rel=1e-4)
    agent = FERMAgent(3, 24, 28, SMALL, seed=0)
    assert agent.actor.pi.log_det_eps == 1e-6
