"""Observation featurizers: turn a batch of raw vector-env observations into policy inputs.

A featurizer is any callable ``(batched env observation) -> float32 array (n_envs, dim)``. The state path uses
:class:`StateFeaturizer`; RRL plugs in ``[encoder(frames), proprioception]`` here, and the sampler and the
training loop stay the same.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class ObservationFeaturizer(Protocol):
    def __call__(self, observations: Any) -> np.ndarray:
        """Batched env observations -> (n_envs, dim) float32 policy inputs."""
        ...


class StateFeaturizer:
    """The environment's state vector (cast to float32); with ``columns``, only those entries of it."""

    def __init__(self, columns: np.ndarray | None = None) -> None:
        self.columns = None if columns is None else np.asarray(columns, dtype=np.int64)

    @classmethod
    def for_task(cls, task: str, hide: tuple[str, ...] = ()) -> StateFeaturizer:
        """The state of ``task`` without the parts named in ``hide`` (:meth:`rrl.tasks.TaskSpec.state_columns`)."""
        from rrl.tasks import get_task

        return cls(get_task(task).state_columns(hide) if hide else None)

    def __call__(self, observations: Any) -> np.ndarray:
        obs = np.asarray(observations, dtype=np.float32)
        if obs.ndim != 2:
            raise ValueError(f"state observations must be (n_envs, dim), got shape {obs.shape}")
        return obs if self.columns is None else obs[:, self.columns]
