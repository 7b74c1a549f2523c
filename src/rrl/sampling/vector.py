"""Trajectory sampler over Gymnasium vector environments (one worker process per environment).

The environments step in worker processes (``AsyncVectorEnv`` with the ``spawn`` start method; a
``SyncVectorEnv`` in-process when ``workers == 1``); the learner process featurizes the batched observations
and runs the policy once per step for all environments.

Seeding: trajectory ``j`` of ``collect(..., seed)`` resets its environment with a seed and draws its action
noise from a generator, both derived from ``(seed, j)`` only. The batch is therefore the same for any number
of workers, and a training run can be replayed from its seeds.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Protocol

import gymnasium as gym
import numpy as np

from rrl.policy import gaussian_log_prob_numpy
from rrl.sampling.batch import TrajectoryBatch
from rrl.sampling.featurizers import ObservationFeaturizer, StateFeaturizer


class Actor(Protocol):
    """A frozen policy as numpy: mean action and log-std."""

    log_std: np.ndarray

    def mean(self, obs: np.ndarray) -> np.ndarray: ...


def explore(actor: Actor, x: np.ndarray, mean: np.ndarray, log_std: np.ndarray, noise: np.ndarray):
    """The stochastic action for standard-normal ``noise`` and its log-probability: an actor with its own
    ``sample(x, noise)`` (SAC's squashed Gaussian, ``rrl.train_sac``) acts with it and records NaN log-probs
    (nothing uses them); the Gaussian policies act with ``mean + exp(log_std) * noise``."""
    sample = getattr(actor, "sample", None)
    if sample is not None:
        return np.asarray(sample(x, noise), dtype=np.float64), np.full(len(mean), np.nan)
    act = mean + np.exp(log_std) * noise
    return act, gaussian_log_prob_numpy(mean, log_std, act)


class ActingPolicy(Protocol):
    """What a sampler needs from a policy: a numpy snapshot to act with (see ``GaussianMLP.numpy_actor``)."""

    def numpy_actor(self) -> Actor: ...


class Sampler(Protocol):
    """Collects trajectories whose observations are already policy-input vectors (float32).

    ``critic_dim``: width of the batches' ``critic_observations`` when the sampler records them, else ``obs_dim``.
    """

    obs_dim: int
    act_dim: int
    critic_dim: int

    def collect(
        self, policy: ActingPolicy, n_trajectories: int, seed: int, deterministic: bool = False
    ) -> TrajectoryBatch: ...

    def close(self, terminate: bool = False) -> None:
        """Stop the workers; ``terminate``: at once, without waiting for a step in flight (after an interrupt)."""


def trajectory_seeds(seed: int, n: int) -> list[tuple[int, np.random.Generator]]:
    """(env reset seed, action-noise generator) of trajectories ``0..n-1`` of a collection seeded by ``seed``."""
    out = []
    for j in range(n):
        ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(j,))
        env_seed = int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)
        out.append((env_seed, np.random.default_rng(ss.spawn(1)[0])))
    return out


def async_vector_env(
    fns: list[Callable[[], gym.Env]], context: str = "spawn", **kwargs
) -> gym.vector.AsyncVectorEnv:
    """``AsyncVectorEnv`` with ``context`` workers; with ``spawn``, after checking they can start: a spawned process
    re-imports the parent's main module from its file, which code piped to ``python -`` does not have (it would die
    with a FileNotFoundError for '<stdin>' in every worker)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if context == "spawn" and path is not None and not os.path.isfile(path):
        raise RuntimeError(
            f"rrl's samplers start worker processes with 'spawn', which re-imports the main module from its file, "
            f"and {path!r} is not a file (code piped to python's stdin?): put the code in a .py file under "
            "`if __name__ == '__main__':` (or use `python -c`)"
        )
    return gym.vector.AsyncVectorEnv(fns, context=context, **kwargs)


def close_vector_env(envs: gym.vector.VectorEnv, terminate: bool = False) -> None:
    """Close ``envs``; ``terminate`` ends the workers at once: after an interrupt a step may be half received, and
    waiting for it could hang (gymnasium's note that it closes during a pending call is expected then)."""
    if not terminate:
        envs.close()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        envs.close(terminate=True)


class VectorEnvSampler:
    """Sampler over ``workers`` copies of the environment built by ``env_fn``.

    Args:
        env_fn: picklable zero-argument factory of one environment (e.g. ``rrl.envs.env_fn(cfg)``).
        workers: number of environments, each in its own process (1: in-process ``SyncVectorEnv``).
        featurizer: maps batched env observations to policy inputs (default: the state vector).
        context: multiprocessing start method for the workers (``spawn``: safe with torch/EGL threads).
        critic_featurizer: when given, also records its output as the batch's ``critic_observations`` (what a
            privileged value baseline sees, e.g. the full state beside an embedding).
    """

    def __init__(
        self,
        env_fn: Callable[[], gym.Env],
        workers: int = 1,
        featurizer: ObservationFeaturizer | None = None,
        context: str = "spawn",
        critic_featurizer: ObservationFeaturizer | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self.featurizer = featurizer if featurizer is not None else StateFeaturizer()
        self.critic_featurizer = critic_featurizer
        fns = [env_fn] * self.workers
        if self.workers == 1:
            self.envs: gym.vector.VectorEnv = gym.vector.SyncVectorEnv(fns)
        else:
            self.envs = async_vector_env(fns, context=context)
        self.act_dim = int(np.prod(self.envs.single_action_space.shape))
        obs, _ = self.envs.reset(seed=list(range(self.workers)))
        self.obs_dim = int(self.featurizer(obs).shape[1])
        self.critic_dim = int(critic_featurizer(obs).shape[1]) if critic_featurizer is not None else self.obs_dim

    def collect(
        self, policy: ActingPolicy, n_trajectories: int, seed: int, deterministic: bool = False
    ) -> TrajectoryBatch:
        """Run ``n_trajectories`` episodes (stochastic, or the mean action if ``deterministic``)."""
        if n_trajectories < 1:
            raise ValueError(f"n_trajectories must be >= 1, got {n_trajectories}")
        w = self.workers
        seeds = trajectory_seeds(seed, n_trajectories)
        actor = policy.numpy_actor()
        log_std = np.asarray(actor.log_std, dtype=np.float64)
        per_traj: list[dict[str, np.ndarray]] = []
        for start in range(0, n_trajectories, w):
            chunk = seeds[start : start + w]
            k = len(chunk)
            # envs beyond k (last round only) run with throw-away seeds and are not recorded
            reset_seeds = [s for s, _ in chunk] + [0] * (w - k)
            obs, _ = self.envs.reset(seed=reset_seeds)
            active = np.arange(w) < k
            buf: list[dict[str, list]] = [
                {"obs": [], "act": [], "rew": [], "logp": [], "succ": [], "critic": []} for _ in range(w)
            ]
            terminated = np.zeros(w, dtype=bool)
            while active.any():
                x = self.featurizer(obs)
                xc = self.critic_featurizer(obs) if self.critic_featurizer is not None else None
                mean = actor.mean(x).astype(np.float64)
                if deterministic:
                    act, logp = mean, gaussian_log_prob_numpy(mean, log_std, mean)
                else:
                    noise = np.zeros_like(mean)
                    for i in np.flatnonzero(active):
                        noise[i] = chunk[i][1].standard_normal(self.act_dim)
                    act, logp = explore(actor, x, mean, log_std, noise)
                act32 = act.astype(np.float32)
                obs, rew, term, trunc, info = self.envs.step(act32)
                success = _info_flags(info, "success", w)
                for i in np.flatnonzero(active):
                    b = buf[i]
                    b["obs"].append(x[i])
                    b["act"].append(act32[i])
                    b["rew"].append(rew[i])
                    b["logp"].append(logp[i])
                    b["succ"].append(success[i])
                    if xc is not None:
                        b["critic"].append(xc[i])
                done = (term | trunc) & active
                terminated |= term & active
                active &= ~done
            for i in range(k):
                b = buf[i]
                per_traj.append(
                    {
                        "observations": np.stack(b["obs"]).astype(np.float32),
                        "actions": np.stack(b["act"]),
                        "rewards": np.asarray(b["rew"], dtype=np.float64),
                        "log_probs": np.asarray(b["logp"], dtype=np.float64),
                        "successes": np.asarray(b["succ"], dtype=bool),
                        "terminated": bool(terminated[i]),
                        "critic": np.stack(b["critic"]).astype(np.float32) if b["critic"] else None,
                    }
                )
        lengths = np.array([len(t["rewards"]) for t in per_traj], dtype=np.int64)
        return TrajectoryBatch(
            observations=np.concatenate([t["observations"] for t in per_traj]),
            actions=np.concatenate([t["actions"] for t in per_traj]),
            rewards=np.concatenate([t["rewards"] for t in per_traj]),
            log_probs=np.concatenate([t["log_probs"] for t in per_traj]),
            successes=np.concatenate([t["successes"] for t in per_traj]),
            timesteps=np.concatenate([np.arange(n, dtype=np.int64) for n in lengths]),
            lengths=lengths,
            terminated=np.array([t["terminated"] for t in per_traj], dtype=bool),
            seeds=np.array([s for s, _ in seeds], dtype=np.int64),
            critic_observations=(
                np.concatenate([t["critic"] for t in per_traj]) if self.critic_featurizer is not None else None
            ),
        )

    def close(self, terminate: bool = False) -> None:
        close_vector_env(self.envs, terminate)

    def __enter__(self) -> VectorEnvSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _info_flags(info: dict, key: str, n: int) -> np.ndarray:
    """Per-env boolean ``info[key]`` from a vector env's info dict (False where an env did not report it)."""
    if key not in info:
        return np.zeros(n, dtype=bool)
    values = np.asarray(info[key]).astype(bool)
    mask = np.asarray(info.get("_" + key, np.ones(n, dtype=bool)), dtype=bool)
    return values & mask
