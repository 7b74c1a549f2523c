"""Soft actor-critic (rrl.algos.sac): hand-computed updates and an honest learner on a tiny task."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rrl.algos.sac import (
    ReplayBuffer,
    SACAgent,
    SACConfig,
    TwinQ,
    critic_loss,
    critic_target,
    n_step_returns,
    soft_update,
    squash,
    temperature_loss,
)


class _FixedActor:
    """An actor whose next actions and log-probabilities are given."""

    def __init__(self, act: torch.Tensor, logp: torch.Tensor) -> None:
        self.act, self.logp = act, logp

    def sample(self, obs: torch.Tensor, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.act, self.logp


def _linear_twin_q(w1: list[float], w2: list[float]) -> TwinQ:
    """Q_i(s, a) = w_i . [s, a] (no hidden layer, no bias)."""
    q = TwinQ(obs_dim=1, act_dim=1, hidden=())
    with torch.no_grad():
        for head, w in ((q.q1, w1), (q.q2, w2)):
            head[0].weight.copy_(torch.tensor([w]))
            head[0].bias.zero_()
    return q


def test_critic_target_and_loss_by_hand():
    batch = {
        "obs": torch.tensor([[1.0], [2.0]]),
        "act": torch.tensor([[0.5], [-0.5]]),
        "rew": torch.tensor([1.0, -2.0]),
        "next_obs": torch.tensor([[3.0], [4.0]]),
        "done": torch.tensor([0.0, 1.0]),
    }
    actor = _FixedActor(act=torch.tensor([[1.0], [0.0]]), logp=torch.tensor([-1.0, 2.0]))
    target = _linear_twin_q([1.0, 2.0], [2.0, -1.0])  # at (3, 1): Q'_1 = 5, Q'_2 = 5; at (4, 0): 4 and 8
    y = critic_target(batch, actor, target, alpha=torch.tensor(0.5), gamma=0.9)
    # y_0 = 1 + 0.9 (min(5, 5) - 0.5 * -1) = 1 + 0.9 * 5.5 = 5.95; y_1 = -2 (done)
    torch.testing.assert_close(y, torch.tensor([5.95, -2.0]))
    critic = _linear_twin_q([1.0, 0.0], [0.0, 2.0])  # Q_1 = s: 1, 2; Q_2 = 2a: 1, -1
    loss = critic_loss(batch, critic, y)
    expected = ((1 - 5.95) ** 2 + (2 + 2) ** 2) / 2 + ((1 - 5.95) ** 2 + (-1 + 2) ** 2) / 2
    assert float(loss.detach()) == pytest.approx(expected)


def test_temperature_update_by_hand():
    log_alpha = torch.tensor(math.log(0.1), requires_grad=True)
    logp, target_entropy = torch.tensor([-1.0, 3.0]), -2.0
    loss = temperature_loss(log_alpha, logp, target_entropy)
    # -log(0.1) * mean(-3, 1) = -2.302585...
    assert float(loss.detach()) == pytest.approx(math.log(0.1))
    loss.backward()
    assert float(log_alpha.grad) == pytest.approx(1.0)  # -mean(logp + target_entropy)
    opt = torch.optim.Adam([log_alpha], lr=1e-4)
    opt.step()  # Adam's first step moves by lr against the gradient's sign
    assert float(log_alpha) == pytest.approx(math.log(0.1) - 1e-4, abs=1e-6)
    # entropy above the target (log pi low) lowers the temperature; below it raises it
    assert float(log_alpha.exp()) < 0.1


def test_squashed_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    mu, log_std = torch.randn(5, 3), torch.randn(5, 3).clamp(-2, 1)
    u = mu + log_std.exp() * torch.randn(5, 3)
    a, logp = squash(u, mu, log_std)
    ref = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mu, log_std.exp()), [torch.distributions.TanhTransform()]
    )
    torch.testing.assert_close(a, torch.tanh(u))
    torch.testing.assert_close(logp, ref.log_prob(a).sum(-1), rtol=1e-4, atol=1e-4)


def test_soft_update_is_polyak_averaging():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    before = [p.clone() for p in a.parameters()]
    soft_update(a, b, 0.25)
    for p, p0, q in zip(a.parameters(), before, b.parameters()):
        torch.testing.assert_close(p, 0.75 * p0 + 0.25 * q)


def test_target_update_period_is_its_own():
    """Targets step every ``target_update_every``-th critic update, whatever the actor's period."""
    cfg = SACConfig(hidden=(8,), tau=0.5, actor_update_every=2, target_update_every=3)
    agent = SACAgent(obs_dim=3, act_dim=2, cfg=cfg, seed=0)
    gen = torch.Generator().manual_seed(0)
    batch = {"obs": torch.randn(8, 3, generator=gen), "act": torch.rand(8, 2, generator=gen) * 2 - 1,
             "rew": torch.randn(8, generator=gen), "next_obs": torch.randn(8, 3, generator=gen),
             "done": torch.zeros(8)}  # fmt: skip
    target0 = [p.detach().clone() for p in agent.critic_target.parameters()]
    agent.update(batch)
    agent.update(batch)  # an actor step, no target step
    assert all(torch.equal(a, b) for a, b in zip(target0, agent.critic_target.parameters()))
    agent.update(batch)
    for t0, t, s in zip(target0, agent.critic_target.parameters(), agent.critic.parameters()):
        torch.testing.assert_close(t, 0.5 * t0 + 0.5 * s.detach())


def test_replay_buffer_wraps_and_samples():
    buf = ReplayBuffer(obs_dim=2, act_dim=1, capacity=3, dtype=np.float16)
    for k in range(5):
        buf.add(np.full((1, 2), k), np.full((1, 1), k), np.array([k]), np.full((1, 2), k + 1), np.array([0.0]))
    assert buf.size == 3 and sorted(buf.rew.tolist()) == [2.0, 3.0, 4.0]
    batch = buf.sample(8, np.random.default_rng(0))
    assert batch["obs"].dtype == torch.float32 and batch["obs"].shape == (8, 2)
    torch.testing.assert_close(batch["next_obs"][:, 0], batch["obs"][:, 0] + 1)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(2, 1, 0)


class _Reach:
    """A 2-D point that must reach a random target in 5 steps; reward -distance (a tiny honest task)."""

    horizon = 5

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self) -> np.ndarray:
        self.pos, self.target, self.t = np.zeros(2), self.rng.uniform(-1, 1, 2), 0
        return self._obs()

    def _obs(self) -> np.ndarray:
        return np.concatenate([self.pos, self.target]).astype(np.float32)

    def step(self, act: np.ndarray) -> tuple[np.ndarray, float, bool]:
        self.pos = self.pos + 0.3 * np.clip(act, -1, 1)
        self.t += 1
        return self._obs(), -float(np.linalg.norm(self.pos - self.target)), self.t >= self.horizon


def _episode_return(env: _Reach, act_fn) -> float:
    obs, total, done = env.reset(), 0.0, False
    while not done:
        obs, r, done = env.step(act_fn(obs))
        total += r
    return total


def test_sac_learns_a_tiny_task(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks: one thread is fastest
    try:
        _learn_tiny_task()
    finally:
        torch.set_num_threads(threads)


def _learn_tiny_task() -> None:
    torch.manual_seed(0)
    env, rng = _Reach(seed=0), np.random.default_rng(0)
    agent = SACAgent(4, 2, SACConfig(hidden=(64, 64), batch_size=64, lr=3e-3, init_temperature=0.1), seed=0)
    buf = ReplayBuffer(4, 2, capacity=10_000)
    evaluate = lambda: np.mean([_episode_return(_Reach(seed=100 + i), lambda o: agent.actor.deterministic(  # noqa: E731
        torch.from_numpy(o)).detach().numpy()) for i in range(20)])  # fmt: skip
    before = evaluate()
    obs = env.reset()
    for step in range(2500):
        if step < 250:
            act = rng.uniform(-1, 1, 2).astype(np.float32)
        else:
            with torch.no_grad():
                act = agent.actor.sample(torch.from_numpy(obs)[None])[0][0].numpy()
        nxt, r, done = env.step(act)
        # the time limit is not a terminal state: bootstrap through it
        buf.add(obs[None], act[None], np.array([r]), nxt[None], np.array([0.0]))
        obs = env.reset() if done else nxt
        if step >= 250:
            agent.update(buf.sample(64, rng))
    after = evaluate()
    greedy = np.mean([_episode_return(_Reach(seed=100 + i), lambda o: np.clip((o[2:] - o[:2]) / 0.3, -1, 1))
                      for i in range(20)])  # fmt: skip
    # from no better than standing still to most of the way to the greedy controller
    assert after > before + 1.0 and after > 0.7 * greedy + 0.3 * before, (before, after, greedy)


# ---------------------------------------------------------------------------------- rrl train --algo sac
TINY_SAC = dict(task="door", algo="sac", reward="rrl_code", trajectories=2, horizon=30, eval_episodes=1,
                policy_size=(32, 32), n_demos=2, sac_updates_per_sample=0.5, sac_batch_size=32, threads=1)  # fmt: skip


def test_demo_transitions_reproduce_the_recorded_rewards():
    from rrl.config import TrainConfig
    from rrl.demos import make_expert_demos
    from rrl.sampling import DemoData
    from rrl.train_sac import demo_transitions

    demo_set = make_expert_demos("door", n=2, seed=0)  # recorded with the sparse reward
    demos = DemoData.from_trajectories(demo_set.trajectories)
    t = demo_transitions(TrainConfig(task="door", reward="sparse"), demo_set, demos)
    recorded = np.concatenate([tr["rewards"][:-1] for tr in demo_set.trajectories])
    np.testing.assert_array_equal(t["rew"], recorded.astype(np.float32))
    n = len(demo_set.trajectories[0]["actions"])
    np.testing.assert_array_equal(t["next_obs"][: n - 1], demos.observations[1:n])
    assert len(t["rew"]) == len(demos.observations) - 2
    dense = demo_transitions(TrainConfig(task="door", reward="rrl_code"), demo_set, demos)["rew"]
    assert dense.max() > 10 and dense.min() < -0.2  # the RRL-code reward grades progress; sparse does not


def test_n_step_returns_and_transitions_by_hand():
    from rrl.train_sac import trajectory_transitions

    # windows of 2, gamma 0.5: 1 + 0.5 * 2, 2 + 0.5 * 3, 3 + 0.5 * 4
    np.testing.assert_allclose(n_step_returns(np.array([1.0, 2.0, 3.0, 4.0]), 2, 0.5), [2.0, 3.5, 5.0])
    np.testing.assert_array_equal(n_step_returns(np.array([1.0, -2.0]), 1, 0.9), [1.0, -2.0])
    assert n_step_returns(np.array([1.0, 2.0]), 3, 0.9).shape == (0,)
    obs, act = np.arange(6.0)[:, None], np.full((6, 1), 2.0)  # 6 steps, 5 rewards of steps with a successor
    t = trajectory_transitions(obs, act, np.array([1.0, 0.0, 0.0, 10.0, 0.0]), n=3, gamma=0.5)
    np.testing.assert_array_equal(t["obs"][:, 0], [0, 1, 2])
    np.testing.assert_array_equal(t["next_obs"][:, 0], [3, 4, 5])  # s_{t+3}
    np.testing.assert_allclose(t["rew"], [1.0, 2.5, 5.0])  # 1 + 0 + 0; 0 + 0 + 0.25 * 10; 0 + 0.5 * 10 + 0
    assert np.all(t["act"] == 1.0) and np.all(t["done"] == 0)  # actions clipped to the action box
    with pytest.raises(ValueError, match="needs 6 actions and 5 rewards"):
        trajectory_transitions(obs, act, np.zeros(6), n=1, gamma=0.5)
    # a terminal state after the last step: its reward counts, every step starts a transition, windows that reach
    # the end stop there and do not bootstrap
    end = trajectory_transitions(obs[:3], act[:3], np.array([1.0, 2.0, 4.0]), n=2, gamma=0.5, terminated=True)
    np.testing.assert_allclose(end["rew"], [2.0, 4.0, 4.0])  # 1 + 0.5 * 2; 2 + 0.5 * 4; 4
    np.testing.assert_array_equal(end["done"], [0, 1, 1])
    assert end["next_obs"][0, 0] == 2  # s_2 bootstraps the first; the others' next_obs is unused
    one = trajectory_transitions(obs[:3], act[:3], np.array([1.0, 2.0, 4.0]), n=1, gamma=0.5, terminated=True)
    np.testing.assert_array_equal(one["done"], [0, 0, 1])
    np.testing.assert_array_equal(one["next_obs"][:2, 0], [1, 2])
    # a sampled batch: the terminated trajectory keeps its last reward, the time-limited one drops it
    from rrl.sampling.batch import TrajectoryBatch
    from rrl.train_sac import _batch_transitions

    batch = TrajectoryBatch(observations=obs.astype(np.float32), actions=np.zeros((6, 1), np.float32),
                            rewards=np.array([1.0, 2.0, 4.0, 10.0, 20.0, 40.0]), log_probs=np.zeros(6),
                            successes=np.zeros(6, bool), timesteps=np.array([0, 1, 2, 0, 1, 2]),
                            lengths=np.array([3, 3]), terminated=np.array([True, False]),
                            seeds=np.array([0, 1]))  # fmt: skip
    both = _batch_transitions(batch, n=1, gamma=0.5)
    np.testing.assert_allclose(both["rew"], [1.0, 2.0, 4.0, 10.0, 20.0])
    np.testing.assert_array_equal(both["done"], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(both["next_obs"][[0, 1, 3, 4], 0], [1, 2, 4, 5])


def test_monte_carlo_transitions_and_targets():
    """``n = 0``: each step's discounted return to the end of its recorded trajectory, done, so the critics'
    target is that return whatever the target critics say."""
    from rrl.train_sac import trajectory_transitions

    obs, act = np.arange(4.0)[:, None], np.full((4, 1), -3.0)  # 4 steps, 3 rewards with a successor
    t = trajectory_transitions(obs, act, np.array([1.0, 0.0, 10.0]), n=0, gamma=0.5)
    np.testing.assert_allclose(t["rew"], [1.0 + 0.25 * 10, 5.0, 10.0])
    np.testing.assert_array_equal(t["obs"][:, 0], [0, 1, 2])
    assert np.all(t["done"] == 1) and np.all(t["act"] == -1.0)
    end = trajectory_transitions(obs[:2], act[:2], np.array([2.0, 4.0]), n=0, gamma=0.5, terminated=True)
    np.testing.assert_allclose(end["rew"], [4.0, 4.0])  # 2 + 0.5 * 4; 4
    agent = SACAgent(obs_dim=1, act_dim=1, cfg=SACConfig(hidden=(8,), gamma=0.9, n_step=0, init_temperature=0.5))
    agent.critic_target = _linear_twin_q([1.0, 2.0], [2.0, -1.0])  # ignored: no bootstrap
    batch = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in t.items()}
    assert agent.update(batch)["q_target"] == pytest.approx(float(t["rew"].mean()), rel=1e-6)
    from rrl.config import TrainConfig

    with pytest.raises(ValueError, match="--sac-n-step"):
        TrainConfig(task="door", algo="sac", sac_n_step=-1)


def test_n_step_demo_transitions_and_bootstrap():
    from rrl.config import TrainConfig
    from rrl.demos import make_expert_demos
    from rrl.sampling import DemoData
    from rrl.train_sac import demo_rewards, demo_transitions

    demo_set = make_expert_demos("door", n=2, seed=0)
    demos = DemoData.from_trajectories(demo_set.trajectories)
    cfg = TrainConfig(task="door", algo="sac", reward="rrl_code", sac_n_step=3, sac_gamma=0.9)
    t = demo_transitions(cfg, demo_set, demos)
    one_step = demo_rewards(cfg, demo_set)
    n = len(demo_set.trajectories[0]["actions"])
    assert len(t["rew"]) == len(demos.observations) - 2 * 3
    np.testing.assert_allclose(t["rew"][: n - 3], one_step[0][:-2] + 0.9 * one_step[0][1:-1] + 0.81 * one_step[0][2:],
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(t["next_obs"][: n - 3], demos.observations[3:n])
    # the agent bootstraps an n-step transition with gamma^n
    agent = SACAgent(obs_dim=1, act_dim=1, cfg=SACConfig(hidden=(8,), gamma=0.9, n_step=3, init_temperature=0.5))
    agent.actor = _FixedActor(act=torch.tensor([[1.0], [0.0]]), logp=torch.tensor([-1.0, 2.0]))
    agent.critic_target = _linear_twin_q([1.0, 2.0], [2.0, -1.0])
    batch = {"obs": torch.tensor([[1.0], [2.0]]), "act": torch.tensor([[0.5], [-0.5]]),
             "rew": torch.tensor([1.0, -2.0]), "next_obs": torch.tensor([[3.0], [4.0]]),
             "done": torch.tensor([0.0, 0.0])}  # fmt: skip
    # y = r + 0.729 (min Q' - 0.5 logp): 1 + 0.729 * 5.5 and -2 + 0.729 * (4 - 1)
    assert agent.update(batch)["q_target"] == pytest.approx(((1 + 0.729 * 5.5) + (-2 + 0.729 * 3)) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="--sac-n-step does not act on --algo ferm"):
        TrainConfig(task="door", algo="ferm", obs="rgb+proprio", sac_n_step=3)


def test_sac_run_resumes_exactly_and_evaluates(tmp_path):
    from rrl.checkpoint import read_checkpoint
    from rrl.config import TrainConfig
    from rrl.evaluate import evaluate_run
    from rrl.train import read_log, resume, train

    full = train(TrainConfig(**TINY_SAC, iterations=3, out=str(tmp_path / "full")), progress=False)
    part = train(TrainConfig(**TINY_SAC, iterations=2, out=str(tmp_path / "part")), progress=False)
    with open(part / "replay.bin", "ab") as f:  # a killed third iteration appended rows after the checkpoint
        f.write(b"\0" * 1000)
    resume(part, progress=False, iterations=3)
    timing = ("t_", "wall_time", "rss_peak_mb")
    rows = [[{k: v for k, v in r.items() if not k.startswith(timing)} for r in read_log(d / "log.csv")]
            for d in (full, part)]  # fmt: skip
    assert rows[0] == rows[1] and len(rows[0]) == 3
    assert all(math.isfinite(float(r["q_target"])) and r["weights_ess"] == "" for r in rows[0])  # SAC actor: no weights
    a, b = read_checkpoint(full / "checkpoint.pt"), read_checkpoint(part / "checkpoint.pt")
    assert a["replay_rows"] == b["replay_rows"] == 3 * 2 * 29
    for key in a["policy"]:
        torch.testing.assert_close(a["policy"][key], b["policy"][key], rtol=0, atol=0)
    assert (full / "replay.bin").read_bytes() == (part / "replay.bin").read_bytes()
    before = (part / "config.json").read_bytes()
    for change in ({"sac_n_step": 3}, {"sac_gamma": 0.9}):  # the stored returns were summed with the run's n, gamma
        with pytest.raises(ValueError, match=f"cannot change \\['{next(iter(change))}'\\] when resuming"):
            resume(part, progress=False, iterations=4, **change)
    assert (part / "config.json").read_bytes() == before
    result = evaluate_run(full, episodes=2)
    assert result.episodes == 2 and 0.0 <= result.success_rate <= 1.0


def test_trunk_maps_wide_inputs_before_the_action_joins(tmp_path):
    """``trunk_dim``: tanh(LayerNorm(linear)) to that many features, one trunk shared by both critics, one of the
    actor's own; a run with it trains, saves and is evaluated from its checkpoint alone."""
    from rrl.algos.sac import TwinQ
    from rrl.config import TrainConfig
    from rrl.evaluate import evaluate_run
    from rrl.train import train

    q = TwinQ(obs_dim=50, act_dim=3, hidden=(16,), layer_norm=True, trunk_dim=4)
    h = q.trunk(torch.randn(7, 50) * 100)
    assert h.shape == (7, 4) and bool((h.abs() <= 1).all())
    assert q.q1[0].in_features == q.q2[0].in_features == 4 + 3
    agent = SACAgent(50, 3, SACConfig(hidden=(16,), trunk_dim=4))
    assert agent.actor.trunk[0].out_features == 4 and agent.actor.trunk is not agent.critic.trunk
    assert torch.equal(agent.critic_target.trunk[0].weight, agent.critic.trunk[0].weight)
    assert isinstance(SACAgent(50, 3, SACConfig(hidden=(16,))).critic.trunk, torch.nn.Identity)  # 0: none
    run = train(TrainConfig(**TINY_SAC, iterations=1, sac_trunk_dim=8, out=str(tmp_path / "run")), progress=False)
    assert evaluate_run(run, episodes=1).episodes == 1  # the policy rebuilt with its trunk from the checkpoint
    with pytest.raises(ValueError, match="--sac-trunk-dim does not act on --algo ferm"):
        TrainConfig(task="door", obs="rgb+proprio", algo="ferm", sac_trunk_dim=50)


def test_bc_term_pulls_the_actor_to_the_demo_actions_by_hand():
    """actor_loss's BC term: weight * mean|Q| * mean over the marked rows of ||tanh(mu(s)) - a||^2."""
    from rrl.algos.sac import SquashedGaussianActor, actor_loss

    torch.manual_seed(0)
    actor = SquashedGaussianActor(obs_dim=1, act_dim=1, hidden=(4,))
    critic = _linear_twin_q([1.0, 0.0], [2.0, 0.0])  # Q_i = w_i . [s, a]: Q1 = s, Q2 = 2 s
    obs = torch.tensor([[1.0], [2.0]])
    demo_act = torch.tensor([[0.5], [-0.5]])
    mask = torch.tensor([False, True])
    gen = torch.Generator().manual_seed(1)
    plain, _ = actor_loss(obs, actor, critic, torch.tensor(0.1), torch.Generator().manual_seed(1))
    with_bc, _ = actor_loss(obs, actor, critic, torch.tensor(0.1), gen, bc=(mask, demo_act, 0.4))
    mean_abs_q = (1.0 + 2.0) / 2  # min(Q1, Q2) = s for s > 0
    err = float(((actor.deterministic(obs[1:]) - demo_act[1:]) ** 2).sum())
    assert float(with_bc - plain) == pytest.approx(0.4 * mean_abs_q * err, rel=1e-5)


def test_offline_updates_on_the_demos_before_interaction(tmp_path):
    import json

    from rrl.checkpoint import read_checkpoint
    from rrl.config import TrainConfig
    from rrl.train import train

    run = train(TrainConfig(**TINY_SAC, iterations=1, sac_offline_updates=6, sac_bc_weight=0.4,
                            out=str(tmp_path / "run")), progress=False)  # fmt: skip
    bc = json.loads((run / "bc.json").read_text())
    assert len(bc["offline_critic_losses"]) == 6 and all(math.isfinite(v) for v in bc["offline_critic_losses"])
    online = max(1, round(0.5 * 2 * 29))  # updates per sample x the iteration's stored transitions' samples
    assert read_checkpoint(run / "checkpoint.pt")["baseline"]["updates"] in (6 + online, 6 + round(0.5 * 60))
    # scripts/diagnose_sac.py reads the run back: the BC'd actor is near the demonstrated actions on their states
    import importlib.util

    spec = importlib.util.spec_from_file_location("diagnose_sac", Path(__file__).parents[1] / "scripts/diagnose_sac.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    numbers = module.diagnose(str(run))
    assert all(math.isfinite(v) for v in numbers.values()) and numbers["mean |tanh(mu) - a_demo|"] < 0.5
    assert "demos' discounted return from s_0 (rrl_code reward)" in numbers  # the run's reward, not the recorded


def test_log_std_cap_bounds_the_exploration_noise():
    from rrl.algos.sac import SquashedGaussianActor

    torch.manual_seed(0)
    capped = SquashedGaussianActor(obs_dim=3, act_dim=2, hidden=(8,), log_std_max=-2.3)
    with torch.no_grad():
        capped.net[-1].bias.fill_(50.0)  # the raw log-std output far above any cap
        _, log_std = capped.distribution(torch.randn(5, 3))
    assert float(log_std.max()) == pytest.approx(-2.3, abs=1e-4)
    with pytest.raises(ValueError, match="log_std_max"):
        SquashedGaussianActor(obs_dim=3, act_dim=2, hidden=(8,), log_std_max=3.0)


def test_fixed_exploration_std_and_fixed_temperature():
    from rrl.algos.sac import SquashedGaussianActor
    from rrl.config import TrainConfig

    torch.manual_seed(0)
    fixed = SquashedGaussianActor(obs_dim=3, act_dim=2, hidden=(8,), log_std_max=-2.3, log_std_min=-2.3)
    with torch.no_grad():
        _, log_std = fixed.distribution(torch.randn(50, 3) * 10)
    assert torch.allclose(log_std, torch.full_like(log_std, -2.3))  # whatever the input: TD3-style noise
    with pytest.raises(ValueError, match="log_std_min <= log_std_max"):
        SquashedGaussianActor(obs_dim=3, act_dim=2, hidden=(8,), log_std_max=-3.0, log_std_min=-2.0)
    with pytest.raises(ValueError, match="smaller --sac-min-log-std"):
        TrainConfig(task="door", obs="state", algo="sac", sac_max_log_std=-3.0, sac_min_log_std=-2.0)
    # learn_temperature off: alpha stays put through actor steps while the actor still learns
    rng = np.random.default_rng(0)
    batch = {"obs": torch.randn(32, 3), "act": torch.rand(32, 2) * 2 - 1, "rew": torch.randn(32),
             "next_obs": torch.randn(32, 3), "done": torch.zeros(32)}  # fmt: skip
    for learn in (True, False):
        agent = SACAgent(3, 2, SACConfig(hidden=(16,), learn_temperature=learn, init_temperature=0.05), seed=0)
        before = [p.detach().clone() for p in agent.actor.parameters()]
        alpha0 = float(agent.alpha)
        for _ in range(4):
            agent.update({k: v[rng.integers(0, 32, 32)] for k, v in batch.items()})
        moved = any(not torch.equal(a, b) for a, b in zip(before, agent.actor.parameters()))
        assert moved and (float(agent.alpha) != alpha0) == learn


def test_actor_delay_holds_the_warm_up_policy(tmp_path):
    from rrl.checkpoint import read_checkpoint
    from rrl.config import TrainConfig
    from rrl.train import train

    agent = SACAgent(3, 2, SACConfig(hidden=(16,)), seed=0)
    batch = {"obs": torch.randn(32, 3), "act": torch.rand(32, 2) * 2 - 1, "rew": torch.randn(32),
             "next_obs": torch.randn(32, 3), "done": torch.zeros(32)}  # fmt: skip
    actor0, critic0 = copy_params(agent.actor), copy_params(agent.critic)
    for _ in range(4):
        out = agent.update(batch, train_actor=False)
    assert "entropy" not in out and all(torch.equal(a, b) for a, b in zip(actor0, agent.actor.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(critic0, agent.critic.parameters()))
    # in a run: the policy after two iterations within the delay is the BC policy
    cfg = TrainConfig(**TINY_SAC, iterations=2, sac_actor_delay=10**6, out=str(tmp_path / "held"))
    run = train(cfg, progress=False)
    bc = torch.load(run / "bc_policy.pt", weights_only=True)
    held = read_checkpoint(run / "checkpoint.pt")["policy"]
    assert all(torch.equal(bc[k], held[k]) for k in bc)
    with pytest.raises(ValueError, match="--sac-actor-delay does not act on --algo ferm"):
        TrainConfig(task="door", algo="ferm", obs="rgb+proprio", sac_actor_delay=10)


def copy_params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_policy_spread_splits_the_entropy_estimate():
    from rrl.algos.sac import SquashedGaussianActor, policy_spread

    actor = SquashedGaussianActor(obs_dim=3, act_dim=4, hidden=(), log_std_max=-1.0, log_std_min=-1.0)
    with torch.no_grad():
        actor.net[0].weight.zero_()
        actor.net[0].bias.copy_(torch.tensor([3.0, -3.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]))  # mu; then raw log std
    spread = policy_spread(actor, torch.zeros(5, 3))
    assert spread == {"log_std_mean": pytest.approx(-1.0), "saturated": pytest.approx(0.5)}  # 2 of 4 past |mu| = 2


def test_awac_actor_loss_by_hand():
    """AWAC (Nair et al. 2020, Eq. 13): weights batch_size * softmax(A / beta), A = min Q(s, a) - min Q(s, tanh mu),
    times the Gaussian log-likelihood of atanh(a) (no constant, no tanh log-determinant)."""
    from rrl.algos.sac import SquashedGaussianActor, awac_actor_loss

    torch.manual_seed(0)
    actor = SquashedGaussianActor(obs_dim=1, act_dim=1, hidden=(4,))
    critic = _linear_twin_q([0.0, 1.0], [0.0, 2.0])  # Q_i = w_i a: min(Q1, Q2) = a for a > 0, 2a for a < 0
    batch = {"obs": torch.tensor([[1.0], [-1.0]]), "act": torch.tensor([[0.5], [-0.25]])}
    loss, logp, info = awac_actor_loss(batch, actor, critic, beta=0.5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mu, log_std = actor.distribution(batch["obs"])
        q = lambda a: torch.where(a > 0, a, 2 * a)[:, 0]  # noqa: E731
        adv = q(batch["act"]) - q(torch.tanh(mu))
        w = 2 * torch.exp(adv / 0.5) / torch.exp(adv / 0.5).sum()
        u = torch.atanh(batch["act"])
        log_lik = (-0.5 * ((u - mu) / log_std.exp()) ** 2 - log_std)[:, 0]
    assert float(loss) == pytest.approx(float(-(w * log_lik).mean()), rel=1e-5)
    assert logp.shape == (2,)
    assert info["adv_std"] == pytest.approx(float(adv.std()), rel=1e-5)
    assert info["weights_ess"] == pytest.approx(float(w.sum() ** 2 / (2 * (w**2).sum())), rel=1e-5)
    assert 0.5 <= info["weights_ess"] < 1  # unequal weights of two rows
    # in the action space: the Gaussian around tanh(mu); a bound action is a near target there, not 7.25 away
    loss_a, _, _ = awac_actor_loss(batch, actor, critic, beta=0.5, space="action")
    with torch.no_grad():
        log_lik_a = (-0.5 * ((batch["act"] - torch.tanh(mu)) / log_std.exp()) ** 2 - log_std)[:, 0]
    assert float(loss_a) == pytest.approx(float(-(w * log_lik_a).mean()), rel=1e-5)
    at_bound = {"obs": batch["obs"], "act": torch.tensor([[1.0], [-0.25]])}
    far, near = (float(awac_actor_loss(at_bound, actor, critic, beta=0.5, space=sp)[0]) for sp in ("pretanh", "action"))
    assert far > 10 * abs(near)
    with pytest.raises(ValueError, match="SAC actor must be one of"):
        SACConfig(actor="td3")
    with pytest.raises(ValueError, match="awac_space must be one of"):
        SACConfig(awac_space="tanh")
    with pytest.raises(ValueError, match="no entropy term"):  # the temperature would drift with nothing to act on
        SACConfig(actor="awac")
    from rrl.config import TrainConfig

    with pytest.raises(ValueError, match="--no-sac-learn-temperature"):
        TrainConfig(task="door", algo="sac", sac_actor="awac")


def test_awac_normalised_advantages_ignore_the_critics_scale():
    """``normalize``: the weights come from A / std(A), so a critic whose values are 100x larger gives the same loss;
    without it the weights sharpen with the scale."""
    from rrl.algos.sac import SquashedGaussianActor, awac_actor_loss

    torch.manual_seed(0)
    actor = SquashedGaussianActor(obs_dim=1, act_dim=1, hidden=(4,))
    batch = {"obs": torch.randn(16, 1), "act": torch.rand(16, 1) * 1.6 - 0.8}
    out = {}
    for scale in (1.0, 100.0):
        critic = _linear_twin_q([0.0, scale], [0.0, scale])
        for normalize in (False, True):
            out[scale, normalize] = awac_actor_loss(batch, actor, critic, beta=1.0, normalize=normalize,
                                                    generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert float(out[1.0, True][0]) == pytest.approx(float(out[100.0, True][0]), rel=1e-5)
    assert out[1.0, True][2]["weights_ess"] == pytest.approx(out[100.0, True][2]["weights_ess"], rel=1e-5)
    assert out[100.0, True][2]["adv_std"] == pytest.approx(100 * out[1.0, True][2]["adv_std"], rel=1e-4)
    assert out[100.0, False][2]["weights_ess"] < out[1.0, False][2]["weights_ess"]  # unnormalised: sharper
    from rrl.config import TrainConfig
    from rrl.train_sac import sac_config

    assert sac_config(TrainConfig(task="door", algo="sac", sac_actor="awac", sac_awac_normalize=True,
                                  sac_learn_temperature=False)).awac_normalize  # fmt: skip


def test_awac_actor_can_leave_the_demonstrations_rows_to_the_critics():
    """``awac_demo_rows=False``: with equal advantages the actor clones the online rows alone (-0.6), not the mean
    of online and demonstrated actions; a batch of demonstrations only leaves the actor as it was."""
    means = {}
    for demo_rows in (True, False):
        torch.manual_seed(0)
        agent = SACAgent(1, 1, SACConfig(hidden=(16,), lr=1e-2, actor="awac", actor_update_every=1,
                                         learn_temperature=False, log_std_min=-1.0, log_std_max=-1.0,
                                         awac_demo_rows=demo_rows), seed=0)  # fmt: skip
        agent.critic, agent.critic_target = _linear_twin_q([0.0, 0.0], [0.0, 0.0]), _linear_twin_q([0, 0], [0, 0])
        obs = torch.zeros(64, 1)
        batch = {"obs": obs, "act": torch.tensor([[-0.6]] * 32 + [[0.6]] * 32), "rew": torch.zeros(64),
                 "next_obs": obs, "done": torch.ones(64), "is_demo": torch.arange(64) >= 32}  # fmt: skip
        for _ in range(300):
            agent.update(batch)
        means[demo_rows] = float(agent.actor.deterministic(obs[:1]))
        if not demo_rows:
            before = {k: v.clone() for k, v in agent.actor.state_dict().items()}
            out = agent.update({k: v[32:] for k, v in batch.items()})
            after = agent.actor.state_dict()
            assert "weights_ess" not in out and all(torch.equal(before[k], after[k]) for k in before)
    assert abs(means[True]) < 0.1 and means[False] == pytest.approx(-0.6, abs=0.05), means
    from rrl.config import TrainConfig

    with pytest.raises(ValueError, match="acts on AWAC's actor only"):
        TrainConfig(task="door", algo="sac", sac_awac_demo_rows=False)


def test_awac_actor_moves_to_the_better_of_two_taken_actions():
    """Two actions taken in the same state, the critic prefers +0.6 to -0.6: AWAC's updates move the actor's mean
    action towards +0.6 and not past it (SAC's actor, following the critic's gradient, goes to the bound)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is fastest
    try:
        results = _two_actions(updates=200)
    finally:
        torch.set_num_threads(threads)
    assert 0.3 < results["awac"] < 0.7, results
    assert 0.5 < results["awac_ess"] < 1, results
    assert results["sac"] > 0.95, results


def _two_actions(updates: int) -> dict[str, float]:
    torch.manual_seed(0)
    obs = torch.zeros(64, 1)
    act = torch.tensor([[0.6], [-0.6]]).repeat(32, 1)
    results = {}
    for objective in ("awac", "sac"):
        agent = SACAgent(1, 1, SACConfig(hidden=(16,), lr=3e-3, actor=objective, actor_update_every=1,
                                         learn_temperature=False, init_temperature=1e-3), seed=0)  # fmt: skip
        agent.critic, agent.critic_target = _linear_twin_q([0.0, 1.0], [0.0, 1.0]), _linear_twin_q([0, 1], [0, 1])
        agent.critic_opt = torch.optim.SGD(agent.critic.parameters(), lr=0.0)  # the critic stays put
        batch = {"obs": obs, "act": act, "rew": torch.zeros(64), "next_obs": obs, "done": torch.ones(64)}
        for _ in range(updates):
            out = agent.update(batch)
        assert out["q_target"] == 0.0  # terminal transitions of reward 0
        assert ("weights_ess" in out) == (objective == "awac")  # the AWAC weights' numbers in its updates only
        results[objective] = float(agent.actor.deterministic(obs[:1]))
        if objective == "awac":  # the two actions' advantages differ: the weights select, but not one action
            results["awac_ess"] = out["weights_ess"]
    return results


def test_bound_actor_step_halves_the_change_to_the_trust_region():
    """``bound_actor_step``: a KL within the bound keeps the change; a larger one is halved until the mean
    ``KL(pi_before || pi)`` fits (each halving cuts a mean shift's KL about 4x); one that never fits reverts."""
    from rrl.algos.sac import SquashedGaussianActor, bound_actor_step
    from rrl.policy import gaussian_kl

    # by hand: N(0, 1) against N(1, e^1): 1 - 0 + (1 + 1) / (2 e^2) - 1/2 = 0.5 + e^-2
    one = torch.ones(1, 1)
    assert float(gaussian_kl(0 * one, 0 * one, one, one)) == pytest.approx(0.5 + math.exp(-2))
    torch.manual_seed(0)
    actor = SquashedGaussianActor(obs_dim=3, act_dim=2, hidden=(8,))
    obs = torch.randn(50, 3)
    before = {k: v.clone() for k, v in actor.state_dict().items()}

    def moved() -> dict[str, torch.Tensor]:
        with torch.no_grad():
            for p in actor.parameters():
                p.add_(0.1 * torch.randn_like(p))
        return {k: v.clone() for k, v in actor.state_dict().items()}

    after = moved()
    kl, halvings = bound_actor_step(actor, before, obs, max_kl=math.inf)
    assert halvings == 0 and all(torch.equal(actor.state_dict()[k], after[k]) for k in after)
    actor.load_state_dict(after)
    kl, halvings = bound_actor_step(actor, before, obs, max_kl=1e-3)
    assert 0 < kl <= 1e-3 and halvings >= 1
    delta = {k: actor.state_dict()[k] - before[k] for k in before}
    torch.testing.assert_close(delta["net.0.weight"], 0.5**halvings * (after["net.0.weight"] - before["net.0.weight"]))
    actor.load_state_dict(after)
    assert bound_actor_step(actor, before, obs, max_kl=1e-30, max_backtracks=3) == (0.0, 4)
    assert all(torch.equal(actor.state_dict()[k], before[k]) for k in before)


def test_sac_run_bounds_its_actor_step(tmp_path):
    """``--sac-actor-max-kl``: each iteration's actor change ends within the bound, logged as kl and
    step_backtracks; FERM refuses the setting."""
    from rrl.config import TrainConfig
    from rrl.train import read_log, train

    run = train(TrainConfig(**TINY_SAC, iterations=2, sac_actor_max_kl=1e-4, out=str(tmp_path / "run")),
                progress=False)  # fmt: skip
    rows = read_log(run / "log.csv")
    assert all(0 <= float(r["kl"]) <= 1e-4 and float(r["step_backtracks"]) >= 0 for r in rows)
    with pytest.raises(ValueError, match="--sac-actor-max-kl does not act on --algo ferm"):
        TrainConfig(task="door", obs="rgb+proprio", algo="ferm", sac_actor_max_kl=0.01)
