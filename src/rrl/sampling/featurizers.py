"""Observation featurizers: turn a batch of raw vector-env observations into policy inputs.

A featurizer is any callable ``(batched env observation) -> float32 array (n_envs, dim)``. The state path uses
:class:`StateFeaturizer`; RRL plugs in ``[encoder(frames), proprioception]`` here, and the sampler and the
training loop stay the same.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from rrl.policy import CONSTANT_STD


class ObservationFeaturizer(Protocol):
    def __call__(self, observations: Any) -> np.ndarray:
        """Batched env observations -> (n_envs, dim) float32 policy inputs."""
        ...


class RandomStateFeatures:
    """A fixed random ReLU layer on a state vector, ``relu(W (s - mean) / std + b)`` with ``W ~ N(0, 1 / in_dim)``
    and ``b ~ N(0, 1)``: the state's information in the form of a frozen encoder's pooled features (many
    non-negative dimensions, each a mix of every state entry). ``mean``/``std``: the demonstrations' (a constant
    entry gets std 1); ``seed`` fixes ``W`` and ``b``."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, out_dim: int, seed: int) -> None:
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        if mean.ndim != 1 or mean.shape != std.shape or out_dim < 1:
            raise ValueError(
                f"need 1-D mean and std of one shape, out_dim >= 1; got {mean.shape}, {std.shape}, {out_dim}"
            )
        rng = np.random.default_rng([int(seed), 0x5EED])
        self.shift = mean.astype(np.float32)
        self.scale = np.where(std < CONSTANT_STD, 1.0, std).astype(np.float32)
        self.weight = (rng.standard_normal((mean.size, out_dim)) / np.sqrt(mean.size)).astype(np.float32)
        self.bias = rng.standard_normal(out_dim).astype(np.float32)

    def __call__(self, states: np.ndarray) -> np.ndarray:
        z = (np.asarray(states, dtype=np.float32) - self.shift) / self.scale
        return np.maximum(z @ self.weight + self.bias, 0.0)


class StateFeaturizer:
    """The environment's state vector (cast to float32); with ``columns``, only those entries of it.

    With ``embedding`` (e.g. :class:`RandomStateFeatures`), the policy sees ``embedding(state[columns])``
    followed by the raw entries ``keep`` (e.g. the hand joints, as a pixel policy sees them beside its features).
    """

    def __init__(
        self, columns: np.ndarray | None = None, embedding: Any = None, keep: np.ndarray | None = None
    ) -> None:
        self.columns = None if columns is None else np.asarray(columns, dtype=np.int64)
        self.embedding = embedding
        self.keep = np.zeros(0, dtype=np.int64) if keep is None else np.asarray(keep, dtype=np.int64)
        if embedding is None and self.keep.size:
            raise ValueError("keep lists raw state entries beside an embedding; without one the state is raw anyway")

    @classmethod
    def for_task(cls, task: str, hide: tuple[str, ...] = ()) -> StateFeaturizer:
        """The state of ``task`` without the parts named in ``hide`` (:meth:`rrl.tasks.TaskSpec.state_columns`)."""
        from rrl.tasks import get_task

        return cls(get_task(task).state_columns(hide) if hide else None)

    def __call__(self, observations: Any) -> np.ndarray:
        obs = np.asarray(observations, dtype=np.float32)
        if obs.ndim != 2:
            raise ValueError(f"state observations must be (n_envs, dim), got shape {obs.shape}")
        visible = obs if self.columns is None else obs[:, self.columns]
        if self.embedding is None:
            return visible
        return np.concatenate([self.embedding(visible), obs[:, self.keep]], axis=1)  # float32 throughout
