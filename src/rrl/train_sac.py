"""``--algo sac``: soft actor-critic on the policy input of any rrl run (frozen encoder features + hand joints,
or the state), with the demonstrations in the replay buffer. Not in the RRL paper: it uses each sample many
times where DAPG uses it once.

Stages, in the order :func:`rrl.train._run` calls them:

1. Warm-up on the demonstrations (:meth:`SACTrainer.behavior_clone`): the actor's mean ``tanh(mu(s))`` is fitted
   to the demonstrated actions by behaviour cloning, the same BC as DAPG's first stage (Rajeswaran et al. 2018;
   RRL paper Eq. 5), and the demonstrations' transitions, with their rewards under the run's reward
   recomputed in the simulator (:func:`demo_transitions`), go into a demo buffer kept for the whole run
   (as in DDPG from demonstrations, Vecerik et al. 2017; VRL3, Wang et al. 2022, keeps them too).
2. Each iteration: ``trajectories`` episodes with the stochastic actor, their transitions into the replay buffer,
   then ``sac_updates_per_sample`` SAC updates per new sample (:class:`rrl.algos.sac.SACAgent`), each on a batch
   of which ``sac_demo_fraction`` comes from the demo buffer.

The replay buffer stores the policy inputs (never frames; float16 for inputs wider than 256), and every
transition is also appended to ``replay.bin`` in the run folder; the checkpoint records how many, so a resumed
run rebuilds exactly the buffer it had (rows written after the last checkpoint by a killed iteration are
dropped). Observations are normalised by the demonstrations' mean and std, fixed at the warm-up.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rrl.algos.gae import discounted_returns
from rrl.algos.sac import (
    LOG_STD_MAX,
    LOG_STD_MIN,
    ReplayBuffer,
    SACAgent,
    SACConfig,
    SquashedGaussianActor,
    bound_actor_step,
    n_step_returns,
)
from rrl.checkpoint import CHECKPOINT, parse_rng, raise_diverged, set_rng, training_state, write_checkpoint
from rrl.config import TrainConfig
from rrl.run.bc_selection import select_bc_fit
from rrl.sampling import DemoData, Sampler, TrajectoryBatch, evaluate_policy
from rrl.seeding import STREAM_BC, STREAM_BC_SELECT, STREAM_EVAL, STREAM_REPLAY, STREAM_TRAIN, stream_seed

REPLAY_FILE = "replay.bin"  # raw records of _row_dtype, appended per iteration
SAC_DIVERGED_ADVICE = "Try a smaller --sac-lr, then `rrl train --resume {run_dir} --sac-lr ...`."


class SACPolicy(nn.Module):
    """The SAC actor with its fixed input normalisation; acts for the samplers and ``rrl eval``."""

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], log_std_max: float = LOG_STD_MAX,
        log_std_min: float = LOG_STD_MIN, trunk_dim: int = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.actor = SquashedGaussianActor(obs_dim, act_dim, hidden, log_std_max, log_std_min=log_std_min,
                                           trunk_dim=trunk_dim)  # fmt: skip
        self.register_buffer("in_shift", torch.zeros(obs_dim))
        self.register_buffer("in_scale", torch.ones(obs_dim))

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.in_shift) / self.in_scale

    def numpy_actor(self) -> _SACSnapshot:
        return _SACSnapshot(copy.deepcopy(self).eval())

    @staticmethod
    def from_state(
        state: dict[str, torch.Tensor], hidden: tuple[int, ...], log_std_max: float = LOG_STD_MAX,
        log_std_min: float = LOG_STD_MIN,
    ) -> SACPolicy:
        obs_dim, act_dim = len(state["in_shift"]), state["actor.net." + str(2 * len(hidden)) + ".bias"].numel() // 2
        trunk_dim = len(state["actor.trunk.0.bias"]) if "actor.trunk.0.bias" in state else 0  # the checkpoint's
        policy = SACPolicy(obs_dim, act_dim, hidden, log_std_max, log_std_min, trunk_dim)
        policy.load_state_dict(state)
        return policy


class _SACSnapshot:
    """A frozen copy of the policy for one collection: ``mean`` is the deterministic action ``tanh(mu)``,
    ``sample`` the squashed Gaussian action for given standard-normal noise (the samplers' noise streams)."""

    def __init__(self, policy: SACPolicy) -> None:
        self.policy = policy
        self.log_std = np.zeros(policy.actor.act_dim)  # unused by samplers that call ``sample``

    @torch.no_grad()
    def mean(self, obs: np.ndarray) -> np.ndarray:
        x = self.policy.normalize(torch.as_tensor(obs, dtype=torch.float32))
        return self.policy.actor.deterministic(x).numpy()

    @torch.no_grad()
    def sample(self, obs: np.ndarray, noise: np.ndarray) -> np.ndarray:
        mu, log_std = self.policy.actor.distribution(self.policy.normalize(torch.as_tensor(obs, dtype=torch.float32)))
        return torch.tanh(mu + log_std.exp() * torch.as_tensor(noise, dtype=torch.float32)).numpy()

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        shift, scale = self.policy.in_shift.numpy(), self.policy.in_scale.numpy()
        return (obs - shift) / scale


def sac_config(cfg: TrainConfig) -> SACConfig:
    """The SAC settings of a run config (``--algo sac``, and the RL part of ``--algo ferm``)."""
    return SACConfig(hidden=cfg.policy_size, gamma=cfg.sac_gamma, lr=cfg.sac_lr, tau=cfg.sac_tau,
                     target_update_every=cfg.sac_target_update_every,
                     init_temperature=cfg.sac_init_temperature, alpha_beta=cfg.sac_alpha_beta,
                     batch_size=cfg.sac_batch_size,
                     critic_layer_norm=cfg.sac_critic_layer_norm, bc_weight=cfg.sac_bc_weight,
                     target_entropy_per_dim=cfg.sac_target_entropy, log_std_max=cfg.sac_max_log_std,
                     log_std_min=cfg.sac_min_log_std, learn_temperature=cfg.sac_learn_temperature,
                     actor=cfg.sac_actor, awac_beta=cfg.sac_awac_beta,
                     awac_normalize=cfg.sac_awac_normalize, awac_space=cfg.sac_awac_space,
                     awac_demo_rows=cfg.sac_awac_demo_rows,
                     trunk_dim=cfg.sac_trunk_dim,
                     n_step=cfg.sac_n_step)  # fmt: skip


def demo_rewards(cfg: TrainConfig, demo_set: Any) -> list[np.ndarray]:
    """The run's reward of each demonstrated step ``t < T - 1`` (per trajectory), recomputed in a state environment
    with ``cfg.reward`` from the recorded simulator state ``t`` and the recorded action."""
    from rrl.envs import EnvConfig, make_env, set_sim_state

    env = make_env(EnvConfig(task=cfg.task, obs_mode="state", reward=cfg.reward, horizon=10**9))
    env.reset(seed=0)
    out = []
    try:
        for traj in demo_set.trajectories:
            states, rew = traj["sim_states"], []
            for t in range(len(traj["actions"]) - 1):
                set_sim_state(env, {k: np.asarray(v[t]) for k, v in states.items()})
                _, r, *_ = env.step(np.asarray(traj["actions"][t], dtype=np.float32))
                rew.append(r)
            out.append(np.asarray(rew, dtype=np.float32))
    finally:
        env.close()
    return out


def demo_transitions(cfg: TrainConfig, demo_set: Any, demos: DemoData) -> dict[str, np.ndarray]:
    """The demonstrations as transitions (:func:`trajectory_transitions` of each): ``s`` are the run's policy inputs
    (``demos``), the rewards from :func:`demo_rewards`."""
    lengths = [len(traj["actions"]) for traj in demo_set.trajectories]
    if sum(lengths) != len(demos.observations):
        raise ValueError(f"the demo set has {sum(lengths)} steps but the demo inputs {len(demos.observations)}")
    return _transitions(demos.observations, demos.actions, lengths, demo_rewards(cfg, demo_set), cfg.sac_n_step,
                        cfg.sac_gamma)  # fmt: skip


def trajectory_transitions(
    obs: np.ndarray, act: np.ndarray, rew: np.ndarray, n: int, gamma: float, terminated: bool = False
) -> dict[str, np.ndarray]:
    """One trajectory of ``T`` steps as transitions ``(s_t, a_t, R_t, s_{t+n}, done)`` with ``R_t`` the ``n``-step
    return (:func:`rrl.algos.sac.n_step_returns`; ``n = 1``: ``(s_t, a_t, r_t, s_{t+1})``).

    Ended by the time limit (ADROIT's episodes always are): ``rew`` holds the ``T - 1`` rewards of the steps with a
    recorded successor; ``T - n`` transitions, ``done`` 0 (every target bootstraps), and the last ``n - 1`` steps
    with a successor start none (their windows would cross the time limit). ``terminated``: the step after the
    last one is terminal and ``rew`` holds all ``T`` rewards; every step starts a transition, those whose window
    reaches the end sum the rewards left and do not bootstrap (``done`` 1, ``next_obs`` the last observation,
    unused).

    ``n = 0``: Monte-Carlo returns: every step with a reward starts a transition whose ``R_t`` is the discounted
    return to the end of the recorded trajectory (:func:`rrl.algos.gae.discounted_returns`), ``done`` 1: the
    critics regress on what the behaviour that collected it got, with no bootstrap."""
    steps = len(obs)
    n_rew = steps if terminated else steps - 1
    if len(rew) != n_rew or len(act) != steps:
        raise ValueError(f"a trajectory of {steps} observations needs {steps} actions and {n_rew} rewards, "
                         f"got {len(act)} and {len(rew)}")  # fmt: skip
    if n == 0:
        returns = discounted_returns(np.asarray(rew), np.array([n_rew]), gamma).astype(np.float32)
        successor = obs[np.minimum(np.arange(n_rew) + 1, steps - 1)]  # unused: done
        return {"obs": obs[:n_rew], "act": np.clip(act[:n_rew], -1, 1), "rew": returns, "next_obs": successor,
                "done": np.ones(n_rew, np.float32)}  # fmt: skip
    if terminated:
        returns = n_step_returns(np.concatenate([rew, np.zeros(n - 1)]), n, gamma)
        later = np.arange(steps) + n
        return {"obs": obs, "act": np.clip(act, -1, 1), "rew": returns, "next_obs": obs[np.minimum(later, steps - 1)],
                "done": (later >= steps).astype(np.float32)}  # fmt: skip
    m = max(steps - n, 0)
    return {"obs": obs[:m], "act": np.clip(act[:m], -1, 1), "rew": n_step_returns(rew, n, gamma)[:m],
            "next_obs": obs[n : n + m], "done": np.zeros(m, np.float32)}  # fmt: skip


def _transitions(
    obs: np.ndarray, act: np.ndarray, lengths: list[int], rewards: list[np.ndarray], n: int, gamma: float,
    terminated: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """:func:`trajectory_transitions` of consecutive trajectories of ``lengths`` steps (rows of ``obs``, ``act``;
    ``rewards``: one array per trajectory; ``terminated``: per trajectory, default none), concatenated."""
    starts = np.cumsum([0, *lengths[:-1]])
    ends = np.zeros(len(lengths), bool) if terminated is None else terminated
    parts = [trajectory_transitions(obs[a : a + k], act[a : a + k], rew, n, gamma, bool(end))
             for a, k, rew, end in zip(starts, lengths, rewards, ends)]  # fmt: skip
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _batch_transitions(batch: TrajectoryBatch, n: int, gamma: float) -> dict[str, np.ndarray]:
    """The transitions of a sampled batch (a trajectory ended by the time limit: its rewards but its last step's,
    which has no recorded successor; a terminated one: all of them)."""
    per_trajectory = np.split(batch.rewards, np.cumsum(batch.lengths)[:-1])
    rewards = [r if end else r[:-1] for r, end in zip(per_trajectory, batch.terminated)]
    return _transitions(batch.observations, batch.actions, list(batch.lengths), rewards, n, gamma, batch.terminated)


class SACTrainer:
    """State of one SAC run (agent, buffers, counters); the interface :func:`rrl.train._run` drives."""

    def __init__(
        self, cfg: TrainConfig, sampler: Sampler, demos: DemoData | None, run_dir: Path, demo_set: Any = None
    ) -> None:
        self.cfg, self.sampler, self.demos, self.run_dir = cfg, sampler, demos, Path(run_dir)
        self.task = cfg.task_spec
        obs_dim, act_dim = sampler.obs_dim, sampler.act_dim
        if demos is not None and demos.observations.shape[1] != obs_dim:
            raise ValueError(f"demo observations have {demos.observations.shape[1]} features, the sampler {obs_dim}")
        with torch.random.fork_rng(devices=[]):
            self.agent = SACAgent(obs_dim, act_dim, sac_config(cfg), seed=cfg.seed)
        self.policy = SACPolicy(obs_dim, act_dim, cfg.policy_size, cfg.sac_max_log_std, cfg.sac_min_log_std,
                                cfg.sac_trunk_dim)  # fmt: skip
        self.policy.actor = self.agent.actor  # one actor: the policy acts with what the agent learns
        dtype = np.float16 if obs_dim > 256 else np.float32
        self.buffer = ReplayBuffer(obs_dim, act_dim, cfg.sac_buffer, dtype)
        self.demo_buffer: ReplayBuffer | None = None
        if demos is not None and demo_set is not None:
            t = demo_transitions(cfg, demo_set, demos)
            self.demo_buffer = ReplayBuffer(obs_dim, act_dim, len(t["rew"]), dtype)
            self.demo_buffer.add(t["obs"], t["act"], t["rew"], t["next_obs"], t["done"])
        self.next_iteration = 0
        self.samples = 0
        self.replay_rows = 0  # transitions appended to replay.bin (the checkpoint's count)
        self.baseline = None  # no value baseline: the critics are in the agent

    # ---------------------------------------------------------------------------------------- warm-up
    def behavior_clone(self) -> dict[str, Any]:
        """Normalise inputs by the demos, start ``mu`` at the mean demonstrated action and fit ``tanh(mu(s))`` to the
        demonstrated actions (Eq. 5's BC; the best of ``cfg.bc_candidates`` fits, :func:`select_bc_fit`), then the
        offline updates."""
        (self.run_dir / REPLAY_FILE).unlink(missing_ok=True)  # a fresh start: rows of a start killed before its
        # first checkpoint are not this run's
        if self.demos is None:
            return {"bc_losses": [], "demo_transitions": 0}
        info, samples = select_bc_fit(self._bc_fit, self.policy, self.sampler, self.task, self.cfg)
        self.samples += samples
        offline = self._offline_updates()
        return {**info, "demo_transitions": 0 if self.demo_buffer is None else self.demo_buffer.size,
                "offline_critic_losses": offline}  # fmt: skip

    def _bc_fit(self, candidate: int) -> dict[str, Any]:
        """One BC fit of the actor; ``candidate`` picks its minibatch order's seed."""
        obs = torch.as_tensor(self.demos.observations)
        act = torch.as_tensor(np.clip(self.demos.actions, -1, 1))
        std = obs.std(0)
        floor = max(float(std[std > 0].median()) * self.cfg.feature_scale_floor, 1e-6) if (std > 0).any() else 1.0
        self.policy.in_shift.copy_(obs.mean(0))
        self.policy.in_scale.copy_(torch.where(std > 0, std.clamp(min=floor), torch.ones_like(std)))
        actor = self.agent.actor
        actor.mu_shift.copy_(torch.atanh(act.mean(0).clamp(-0.95, 0.95)))
        opt = torch.optim.Adam(actor.parameters(), lr=self.cfg.bc_lr)
        seed = stream_seed(self.cfg.seed, *((0, STREAM_BC) if candidate == 0 else (candidate, STREAM_BC_SELECT)))
        gen = torch.Generator().manual_seed(seed)
        x = self.policy.normalize(obs)
        losses = []
        for _ in range(self.cfg.bc_epochs):
            perm = torch.randperm(len(x), generator=gen)
            total = 0.0
            for lo in range(0, len(x), self.cfg.bc_batch_size):
                idx = perm[lo : lo + self.cfg.bc_batch_size]
                loss = ((actor.deterministic(x[idx]) - act[idx]) ** 2).sum(-1).mean() / 2
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(x))
        return {"bc_losses": losses}

    def _offline_updates(self) -> list[float]:
        """``sac_offline_updates`` SAC updates on the demonstrations alone before any interaction (the critic learns
        the demonstrations' values while the BC term, if any, holds the actor at them; VRL3's offline stage, Wang
        et al. 2022, without its conservative term)."""
        source = self.demo_source()
        if source is None or source.size == 0 or self.cfg.sac_offline_updates == 0:
            return []
        rng = np.random.default_rng(stream_seed(self.cfg.seed, 1, STREAM_BC))
        losses = []
        for _ in range(self.cfg.sac_offline_updates):
            batch = source.sample(self.cfg.sac_batch_size, rng)
            batch["is_demo"] = torch.ones(self.cfg.sac_batch_size, dtype=torch.bool)
            losses.append(self.agent.update(self.prepare(batch))["critic_loss"])
        if not all(math.isfinite(v) for v in losses):
            raise_diverged(0, "offline SAC losses", self.run_dir, SAC_DIVERGED_ADVICE.format(run_dir=self.run_dir))
        return losses

    # -------------------------------------------------------------------------------------- iteration
    def store(self, batch: TrajectoryBatch, k: int) -> None:
        """The iteration's transitions into the replay buffer and appended to ``replay.bin``."""
        t = _batch_transitions(batch, self.cfg.sac_n_step, self.cfg.sac_gamma)
        self.buffer.add(t["obs"], t["act"], t["rew"], t["next_obs"], t["done"])
        rows = _rows(t, self.buffer)
        with open(self.run_dir / REPLAY_FILE, "ab") as f:
            rows.tofile(f)
        self.replay_rows += len(rows)

    def mixed_batch(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """A minibatch of ``sac_batch_size`` rows: ``sac_demo_fraction`` of them from the demo buffer (if there is
        one), last, marked by ``is_demo``; the rest from the replay buffer."""
        size = self.cfg.sac_batch_size
        n_demo = round(self.cfg.sac_demo_fraction * size) if self.demo_buffer is not None else 0
        parts = [self.buffer.sample(size - n_demo, rng)] + ([self.demo_buffer.sample(n_demo, rng)] if n_demo else [])
        batch = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        batch["is_demo"] = torch.arange(size) >= size - n_demo
        return batch

    def replay_batch(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """The agent's minibatch: :meth:`mixed_batch` as :meth:`prepare` gives it to the agent."""
        return self.prepare(self.mixed_batch(rng))

    def demo_source(self) -> ReplayBuffer | None:
        """The buffer that holds the demonstrations' transitions (None without demonstrations)."""
        return self.demo_buffer

    def prepare(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A sampled minibatch as the agent takes it: the inputs normalised."""
        for key in ("obs", "next_obs"):
            batch[key] = self.policy.normalize(batch[key])
        return batch

    def iteration(self, k: int) -> dict[str, float]:
        cfg = self.cfg
        row: dict[str, float] = {"iteration": k}
        t0 = time.perf_counter()
        batch = self.sampler.collect(self.policy, cfg.trajectories, stream_seed(cfg.seed, k, STREAM_TRAIN))
        self.samples += batch.n_samples
        row.update(samples=self.samples, success_train=batch.success_rate(self.task),
                   return_train=float(batch.trajectory_returns().mean()))  # fmt: skip
        self.store(batch, k)
        t1 = time.perf_counter()
        rng = np.random.default_rng(stream_seed(cfg.seed, k, STREAM_REPLAY))
        n_updates = max(1, round(cfg.sac_updates_per_sample * batch.n_samples))
        stats: dict[str, list[float]] = {}
        train_actor = self.samples > cfg.sac_actor_delay  # until then the actor holds its warm-up policy
        bounded = train_actor and cfg.sac_actor_max_kl > 0
        before = {key: v.clone() for key, v in self.agent.actor.state_dict().items()} if bounded else None
        for _ in range(n_updates):
            for key, value in self.agent.update(self.replay_batch(rng), train_actor).items():
                stats.setdefault(key, []).append(value)
        if not all(math.isfinite(v) for vs in stats.values() for v in vs):
            raise_diverged(k, f"{cfg.algo} losses", self.run_dir, SAC_DIVERGED_ADVICE.format(run_dir=self.run_dir))
        if bounded:  # the trust region on the iteration's actor change, on the states it collected
            states = self.policy.normalize(torch.as_tensor(batch.observations, dtype=torch.float32))
            kl, halvings = bound_actor_step(self.agent.actor, before, states, cfg.sac_actor_max_kl)
            row.update(kl=kl, step_backtracks=float(halvings))
        t2 = time.perf_counter()
        if cfg.eval_episodes > 0 and (k % cfg.eval_every == 0 or k == cfg.iterations - 1):
            seed = stream_seed(cfg.seed, 0, STREAM_EVAL)
            ev = evaluate_policy(self.sampler, self.policy, self.task, cfg.eval_episodes, seed)
            row.update(success_eval=ev.success_rate, return_eval=ev.mean_return)
        else:
            row.update(success_eval=math.nan, return_eval=math.nan)
        mean = {key: float(np.mean(v)) for key, v in stats.items()}
        row.update(critic_loss=mean.get("critic_loss", math.nan), alpha=float(self.agent.alpha.detach()),
                   entropy=mean.get("entropy", math.nan), log_std_mean=mean.get("log_std_mean", math.nan),
                   saturated=mean.get("saturated", math.nan), updates=float(self.agent.updates),
                   **{key: mean.get(key, math.nan) for key in ("q_target", "adv_std", "weights_ess")},
                   t_sample=t1 - t0, t_update=t2 - t1, t_eval=time.perf_counter() - t2,
                   t_iteration=time.perf_counter() - t0)  # fmt: skip
        return row

    # ------------------------------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        # "baseline": the critics, their targets, the temperature and the optimisers
        return training_state(self, baseline=self.agent.state_dict(), replay_rows=self.replay_rows)

    def load_state_dict(self, state: dict[str, Any], adopt_demos: bool = False) -> None:
        if state.get("demo_fingerprint") != (self.demos.fingerprint() if self.demos is not None else None):
            raise ValueError("the demonstrations differ from those the SAC run was trained with; start a new run")
        self.policy.load_state_dict(state["policy"])
        self.agent.load_state_dict(state["baseline"])
        self.policy.actor = self.agent.actor
        rows = int(state.get("replay_rows", 0))
        path = self.run_dir / REPLAY_FILE
        need = rows * _row_dtype(self.buffer).itemsize
        if rows and (not path.is_file() or path.stat().st_size < need):
            raise ValueError(f"{path} holds fewer than the checkpoint's {rows} transitions; restore the run folder")
        if rows:
            data = np.fromfile(path, dtype=_row_dtype(self.buffer), count=rows)
            self.buffer.add(data["obs"], data["act"], data["rew"], data["next_obs"], data["done"])
        with open(path, "ab") as f:  # drop rows a killed iteration appended after this checkpoint
            f.truncate(need)
        self.replay_rows = rows
        self.next_iteration = int(state["next_iteration"])
        self.samples = int(state["samples"])
        set_rng(parse_rng(state["rng"]))

    def save_checkpoint(self) -> Path:
        return write_checkpoint(self.run_dir / CHECKPOINT, self.state_dict())


def _row_dtype(buffer: ReplayBuffer) -> np.dtype:
    """One transition of ``buffer`` as a record of ``replay.bin``."""
    obs_dim, act_dim, o = buffer.obs.shape[1], buffer.act.shape[1], buffer.obs.dtype
    return np.dtype([("obs", o, obs_dim), ("act", np.float32, act_dim), ("rew", np.float32),
                     ("next_obs", o, obs_dim), ("done", np.float32)])  # fmt: skip


def _rows(t: dict[str, np.ndarray], buffer: ReplayBuffer) -> np.ndarray:
    rows = np.zeros(len(t["rew"]), _row_dtype(buffer))
    for key in ("obs", "act", "rew", "next_obs", "done"):
        rows[key] = t[key]
    return rows
