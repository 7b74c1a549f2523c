"""Sampling from pixels: environments render in worker processes, the learner encodes one batch per step.

On a CPU the renderer and the encoder are the whole cost of a sample (physics is ~2,500 steps/s per core).
:class:`PipelinedSampler` therefore

1. steps and renders the environments in worker processes (``gymnasium.vector.AsyncVectorEnv`` with
   ``spawn`` workers and shared-memory observations, or Ray actors with ``backend="ray"``);
2. encodes the frames of a whole group of environments in one batch in the learner
   (``[encoder(frames), proprioception]``, paper Eq. 10, Algorithm 1 line 6);
3. pipelines ``n_groups`` groups: while the learner encodes group g, the workers of the other groups render, so
   rendering of step t+1 overlaps encoding of step t.

The original RRL code, by contrast, renders, encodes one frame and steps one env at a time
(:func:`naive_rollout`, kept as the benchmark baseline).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rrl.envs import EnvConfig, make_env, worker_env_fn
from rrl.policy import gaussian_log_prob_numpy
from rrl.sampling.batch import TrajectoryBatch
from rrl.sampling.vector import ActingPolicy, Actor, async_vector_env, close_vector_env, explore, trajectory_seeds


class Featurizer(Protocol):
    """Maps a batch of env observations to policy inputs (float32 ``(N, obs_dim)``)."""

    def __call__(self, obs: Any) -> np.ndarray: ...


class VisualFeaturizer:
    """``[encoder(frames of every camera), proprioception]`` (paper Eq. 10) for a batch of observations."""

    def __init__(self, encoder: Any, n_cameras: int, proprio_dim: int) -> None:
        self.encoder = encoder
        self.n_cameras, self.proprio_dim = n_cameras, proprio_dim
        self.obs_dim = encoder.feature_dim * n_cameras + proprio_dim

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        feats = self.encoder.encode_views(obs["pixels"])
        if self.proprio_dim:
            feats = np.concatenate([feats, obs["proprio"].astype(np.float32)], axis=1)
        return feats


class StateFromObservation:
    """The env's full state vector, ``obs["state"]`` (``EnvConfig.include_state``), as a privileged critic input."""

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        if "state" not in obs:
            raise ValueError("the observation has no 'state'; build the env with EnvConfig(include_state=True)")
        return np.asarray(obs["state"], dtype=np.float32)


class _LocalGroup:
    """A group of envs in spawn worker processes, observations in shared memory (gymnasium AsyncVectorEnv)."""

    def __init__(self, cfg: EnvConfig, n_envs: int) -> None:
        self.vec = async_vector_env([worker_env_fn(cfg)] * n_envs, shared_memory=True)
        self.n = n_envs

    def reset(self, seeds: list[int]) -> dict[str, np.ndarray]:
        obs, _ = self.vec.reset(seed=seeds)
        return _copy(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self.vec.step_async(actions)

    def step_wait(self):
        obs, rew, term, trunc, info = self.vec.step_wait()
        return _copy(obs), rew, term, trunc, info.get("success", np.zeros(self.n, bool))

    def close(self, terminate: bool = False) -> None:
        close_vector_env(self.vec, terminate)


def _copy(obs):
    # AsyncVectorEnv(shared_memory=True) returns views of the shared buffer; the next step overwrites them.
    return {k: np.array(v) for k, v in obs.items()} if isinstance(obs, dict) else np.array(obs)


class _RayGroup:
    """The same group interface with each env in a Ray actor of its own (placed anywhere in the cluster), so that a
    group's envs step and render in parallel, as the local backend's worker processes do."""

    def __init__(self, cfg: EnvConfig, n_envs: int, num_cpus: float = 1.0) -> None:
        import ray

        self._ray = ray
        self.actors = [ray.remote(num_cpus=num_cpus)(_EnvActor).remote(cfg) for _ in range(n_envs)]
        self.n = n_envs
        self._pending: list[Any] = []

    def reset(self, seeds: list[int]) -> dict[str, np.ndarray]:
        return _stack(self._ray.get([a.reset.remote(s) for a, s in zip(self.actors, seeds)]))

    def step_async(self, actions: np.ndarray) -> None:
        self._pending = [a.step.remote(act) for a, act in zip(self.actors, actions)]

    def step_wait(self):
        out, self._pending = self._ray.get(self._pending), []
        obs, rew, term, trunc, success = zip(*out)
        return _stack(list(obs)), np.array(rew), np.array(term), np.array(trunc), np.array(success, dtype=bool)

    def close(self, terminate: bool = False) -> None:
        for actor in self.actors:
            self._ray.kill(actor)  # immediate either way


def _stack(obs: list[Any]) -> Any:
    """One observation per env -> the batched observation a vector env returns."""
    return {k: np.stack([o[k] for o in obs]) for k in obs[0]} if isinstance(obs[0], dict) else np.stack(obs)


class _EnvActor:
    """Body of a Ray actor: one env stepped in the actor's process (one CPU by default)."""

    def __init__(self, cfg: EnvConfig) -> None:
        import rrl  # noqa: F401  (sets MUJOCO_GL before mujoco loads in the actor process)

        self.env = worker_env_fn(cfg)()

    def reset(self, seed: int) -> Any:
        obs, _ = self.env.reset(seed=seed)
        return obs

    def step(self, action: np.ndarray):
        obs, rew, term, trunc, info = self.env.step(action)
        return obs, float(rew), bool(term), bool(trunc), bool(info.get("success", False))


@dataclass(frozen=True)
class PipelinedSamplerConfig:
    """How :class:`PipelinedSampler` lays out its workers.

    ``n_envs`` environments in ``n_groups`` pipelined groups, each env in a worker process of its own (local
    backend) or a Ray actor of its own with ``ray_cpus_per_env`` CPUs (Ray). ``n_groups=1`` turns the overlap off.
    """

    n_envs: int = 4
    n_groups: int = 2
    backend: str = "local"  # "local" or "ray"
    ray_address: str | None = None
    ray_cpus_per_env: float = 1.0

    def __post_init__(self) -> None:
        if self.backend not in ("local", "ray"):
            raise ValueError(f"backend must be 'local' or 'ray', got {self.backend!r}")
        if self.n_groups < 1 or self.n_envs < self.n_groups or self.n_envs % self.n_groups:
            raise ValueError(f"n_envs ({self.n_envs}) must be a positive multiple of n_groups ({self.n_groups})")


class PipelinedSampler:
    """Collects trajectories with pipelined env groups and batched featurizing (see module docstring).

    Implements the :class:`rrl.sampling.Sampler` protocol with the same seeding as
    :class:`rrl.sampling.VectorEnvSampler` (trajectory ``j`` resets with, and draws its action noise from,
    :func:`rrl.sampling.trajectory_seeds`), so for a given seed the batch does not depend on the number of
    envs, groups or the backend. Episodes run to the time limit (ADROIT tasks never terminate early).
    """

    def __init__(
        self,
        env_cfg: EnvConfig,
        featurizer: Featurizer,
        cfg: PipelinedSamplerConfig = PipelinedSamplerConfig(),
        critic_featurizer: Featurizer | None = None,
    ):
        self.env_cfg, self.featurizer, self.cfg = env_cfg, featurizer, cfg
        self.critic_featurizer = critic_featurizer
        self.horizon = env_cfg.horizon or env_cfg.spec.horizon
        per_group = cfg.n_envs // cfg.n_groups
        if cfg.backend == "ray":
            import ray

            if not ray.is_initialized():
                ray.init(address=cfg.ray_address, include_dashboard=False, log_to_driver=False)
            need, have = cfg.n_envs * cfg.ray_cpus_per_env, ray.cluster_resources().get("CPU", 0.0)
            if need > have:  # the actors that do not fit would wait for ever
                raise ValueError(
                    f"{cfg.n_envs} environments as Ray actors of {cfg.ray_cpus_per_env:g} CPU each need {need:g} "
                    f"CPUs; the Ray cluster has {have:g}: lower --n-envs or add nodes (`ray start --num-cpus N`)"
                )
        self.groups: list[_LocalGroup | _RayGroup] = []
        try:  # a failure after the first group started (a later group, the probe, the featurizer) stops them all
            for _ in range(cfg.n_groups):
                self.groups.append(
                    _RayGroup(env_cfg, per_group, cfg.ray_cpus_per_env)
                    if cfg.backend == "ray"
                    else _LocalGroup(env_cfg, per_group)
                )
            probe = make_env(EnvConfig(task=env_cfg.task, obs_mode="state"))
            self.act_dim = int(probe.action_space.shape[0])
            probe.close()
            first = self.groups[0].reset(list(range(per_group)))
            self.obs_dim = int(featurizer(first).shape[1])
            self.critic_dim = int(critic_featurizer(first).shape[1]) if critic_featurizer is not None else self.obs_dim
        except BaseException:
            self.close()
            raise

    def collect(
        self, policy: ActingPolicy, n_trajectories: int, seed: int, deterministic: bool = False
    ) -> TrajectoryBatch:
        """Roll out ``n_trajectories`` episodes (stochastic, or the mean action if ``deterministic``)."""
        if n_trajectories < 1:
            raise ValueError(f"n_trajectories must be >= 1, got {n_trajectories}")
        seeds = trajectory_seeds(seed, n_trajectories)
        actor = policy.numpy_actor()  # the same numpy snapshot as VectorEnvSampler: identical actions
        parts = []
        for start in range(0, n_trajectories, self.cfg.n_envs):
            parts.append(self._round(actor, seeds[start : start + self.cfg.n_envs], deterministic))
        batch = TrajectoryBatch.concatenate(parts)
        return dataclasses.replace(batch, seeds=np.array([s for s, _ in seeds], dtype=np.int64))

    def _round(self, actor: Actor, chunk, deterministic: bool) -> TrajectoryBatch:
        groups, horizon, n = self.groups, self.horizon, self.cfg.n_envs
        k = len(chunk)  # envs beyond k run with throw-away seeds and are not recorded
        reset_seeds = [s for s, _ in chunk] + [0] * (n - k)
        gens = [g for _, g in chunk]
        log_std = np.asarray(actor.log_std, dtype=np.float64)
        offsets = np.cumsum([0] + [g.n for g in groups])
        obs = [g.reset(reset_seeds[offsets[i] : offsets[i + 1]]) for i, g in enumerate(groups)]
        x = np.zeros((n, horizon, self.obs_dim), np.float32)
        xc = np.zeros((n, horizon, self.critic_dim), np.float32) if self.critic_featurizer is not None else None
        acts = np.zeros((n, horizon, self.act_dim), np.float32)
        logp = np.zeros((n, horizon))
        rew = np.zeros((n, horizon))
        succ = np.zeros((n, horizon), bool)

        def finish(gi: int, t: int) -> None:  # collect group gi's step t (issued earlier) from its workers
            o, r, _, trunc, s = groups[gi].step_wait()
            lo, hi = offsets[gi], offsets[gi + 1]
            rew[lo:hi, t], succ[lo:hi, t] = r, s
            obs[gi] = o
            if t == horizon - 1 and not np.all(trunc):
                raise RuntimeError("environments did not reach their time limit together; check the horizon setting")

        for t in range(horizon):
            for gi, g in enumerate(groups):
                if t > 0:
                    finish(gi, t - 1)
                lo, hi = offsets[gi], offsets[gi + 1]
                xg = self.featurizer(obs[gi])
                mean = actor.mean(xg).astype(np.float64)
                if deterministic:
                    a, logp[lo:hi, t] = mean, gaussian_log_prob_numpy(mean, log_std, mean)
                else:
                    noise = np.stack([
                        gens[i].standard_normal(self.act_dim) if i < k else np.zeros(self.act_dim)
                        for i in range(lo, hi)
                    ])
                    a, logp[lo:hi, t] = explore(actor, xg, mean, log_std, noise)
                x[lo:hi, t], acts[lo:hi, t] = xg, a
                if xc is not None:
                    xc[lo:hi, t] = self.critic_featurizer(obs[gi])
                g.step_async(a.astype(np.float32))
        for gi in range(len(groups)):
            finish(gi, horizon - 1)
        T = horizon
        return TrajectoryBatch(
            observations=x[:k].reshape(k * T, -1),
            actions=acts[:k].reshape(k * T, -1),
            rewards=rew[:k].ravel(),
            log_probs=logp[:k].ravel(),
            successes=succ[:k].ravel(),
            timesteps=np.tile(np.arange(T, dtype=np.int64), k),
            lengths=np.full(k, T, dtype=np.int64),
            terminated=np.zeros(k, bool),
            seeds=np.zeros(k, np.int64),
            critic_observations=None if xc is None else xc[:k].reshape(k * T, -1),
        )

    def close(self, terminate: bool = False) -> None:
        """Stop the workers; ``terminate``: at once, without waiting for a step in flight (after an interrupt)."""
        for g in self.groups:
            g.close(terminate)
        self.groups = []

    def __enter__(self) -> PipelinedSampler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def naive_rollout(env_cfg: EnvConfig, featurizer: Featurizer, policy: ActingPolicy, n_steps: int, seed: int = 0) -> int:
    """The original code's sampling style, for benchmarks: one env; render, encode one frame, act, step."""
    env = make_env(env_cfg)
    rng = np.random.default_rng(seed)
    actor = policy.numpy_actor()
    std = np.exp(actor.log_std)
    obs, _ = env.reset(seed=seed)
    for _ in range(n_steps):
        mean = actor.mean(featurizer({k: v[None] for k, v in obs.items()}))[0]
        obs, _, term, trunc, _ = env.step((mean + std * rng.standard_normal(mean.shape)).astype(np.float32))
        if term or trunc:
            obs, _ = env.reset()
    env.close()
    return n_steps
