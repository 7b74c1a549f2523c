"""Sampling trajectories: vector-env samplers, observation featurizers, trajectory batches, evaluation.

>>> from rrl.sampling import make_state_sampler, evaluate_policy
>>> sampler = make_state_sampler("door", workers=2)            # policy input = the 39-dim state vector
>>> batch = sampler.collect(policy, n_trajectories=4, seed=0)   # TrajectoryBatch, float32 observations
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rrl.sampling.batch import DemoData, TrajectoryBatch
from rrl.sampling.featurizers import ObservationFeaturizer, RandomStateFeatures, StateFeaturizer
from rrl.sampling.vector import ActingPolicy, Sampler, VectorEnvSampler, trajectory_seeds
from rrl.tasks import TaskSpec


def make_state_sampler(
    task: str,
    workers: int = 1,
    reward: str = "sparse",
    horizon: int | None = None,
    hide: tuple[str, ...] = (),
    noise: tuple[str, ...] = (),
    featurizer: StateFeaturizer | None = None,
    critic_featurizer: StateFeaturizer | None = None,
) -> VectorEnvSampler:
    """Sampler whose policy input is the task's state vector (without the parts named in ``hide``, see
    :meth:`rrl.tasks.TaskSpec.state_columns`; with a per-episode offset on the parts of ``noise``, see
    :class:`rrl.envs.wrappers.StateNoise`). ``featurizer`` replaces the ``hide`` one (e.g. with an embedding);
    ``critic_featurizer`` records a privileged value-baseline input (``VectorEnvSampler``)."""
    from rrl.envs import EnvConfig, env_fn

    cfg = EnvConfig(task=task, obs_mode="state", reward=reward, horizon=horizon, state_noise=noise)
    featurizer = featurizer or StateFeaturizer.for_task(task, hide)
    return VectorEnvSampler(env_fn(cfg), workers=workers, featurizer=featurizer, critic_featurizer=critic_featurizer)


@dataclass(frozen=True)
class EvalResult:
    """Deterministic evaluation: success rate by the task's rule, mean undiscounted return, episode count.

    ``input_shift``: mean |z| of the policy's normalised inputs ``z = (obs - in_shift) / in_scale`` over every
    step. The shift and scale are the demonstrations' mean and (floored) std, so on the demonstrations
    themselves it is at most 1. It measures how far the observations (e.g. frozen features under a visual
    distractor) sit from the demonstrations the policy was fitted to; NaN for an actor without ``normalize``.
    ``input_max``: the largest |z| of any entry at any step: a feature that barely moved on the demonstrations and
    moves on-policy shows here (hundreds saturate the policy's first layer), however small its share of the mean.
    """

    success_rate: float
    mean_return: float
    episodes: int
    successes: np.ndarray  # (episodes,) bool
    input_shift: float = math.nan
    input_max: float = math.nan


def evaluate_policy(
    sampler: Sampler, policy: ActingPolicy, task: TaskSpec, episodes: int, seed: int
) -> EvalResult:
    """Roll out the mean action (no exploration noise) for ``episodes`` episodes and apply the success rule."""
    batch = sampler.collect(policy, episodes, seed, deterministic=True)
    flags = batch.trajectory_successes(task)
    normalize = getattr(policy.numpy_actor(), "normalize", None)  # the actor's own input normalisation
    z = None if normalize is None else np.abs(normalize(batch.observations))
    input_shift = math.nan if z is None else float(z.mean(dtype=np.float64))
    return EvalResult(
        success_rate=float(flags.mean()),
        mean_return=float(batch.trajectory_returns().mean()),
        episodes=episodes,
        successes=flags,
        input_shift=input_shift,
        input_max=math.nan if z is None else float(z.max()),
    )


__all__ = [
    "ActingPolicy",
    "DemoData",
    "EvalResult",
    "ObservationFeaturizer",
    "RandomStateFeatures",
    "Sampler",
    "StateFeaturizer",
    "TrajectoryBatch",
    "VectorEnvSampler",
    "evaluate_policy",
    "make_state_sampler",
    "trajectory_seeds",
]
