"""Data containers: a batch of sampled trajectories and demonstration pairs, both in policy-input space."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rrl.tasks import TaskSpec


@dataclass(frozen=True)
class TrajectoryBatch:
    """Trajectories flattened sample by sample; the samples of one trajectory are contiguous and in time order.

    ``observations`` are policy inputs (what the featurizer produced, float32), so the learner never needs the
    environment. ``lengths[i]`` is the number of steps of trajectory ``i``; ``terminated[i]`` says whether it
    ended in a terminal state (as opposed to the time limit); ``seeds[i]`` is its environment reset seed.
    ``critic_observations`` (optional, row by row with ``observations``): what a privileged value baseline
    sees instead of the policy input, e.g. the environment's state in a pixel run.
    """

    observations: np.ndarray  # (N, obs_dim) float32
    actions: np.ndarray  # (N, act_dim) float32, the sampled (unclipped) actions
    rewards: np.ndarray  # (N,) float64
    log_probs: np.ndarray  # (N,) float64, log pi(a_t | s_t) under the sampling policy
    successes: np.ndarray  # (N,) bool, the env's per-step info["success"]
    timesteps: np.ndarray  # (N,) int64, t within the trajectory
    lengths: np.ndarray  # (n_trajectories,) int64
    terminated: np.ndarray  # (n_trajectories,) bool
    seeds: np.ndarray  # (n_trajectories,) int64
    critic_observations: np.ndarray | None = None  # (N, critic_dim) float32

    def __post_init__(self) -> None:
        n = len(self.observations)
        for name in ("actions", "rewards", "log_probs", "successes", "timesteps", "critic_observations"):
            if getattr(self, name) is not None and len(getattr(self, name)) != n:
                raise ValueError(f"TrajectoryBatch.{name} has {len(getattr(self, name))} rows, observations {n}")
        if int(np.sum(self.lengths)) != n:
            raise ValueError(f"trajectory lengths sum to {int(np.sum(self.lengths))}, expected {n} samples")

    @property
    def n_samples(self) -> int:
        return len(self.observations)

    @property
    def n_trajectories(self) -> int:
        return len(self.lengths)

    def _per_trajectory(self, values: np.ndarray) -> list[np.ndarray]:
        return np.split(values, np.cumsum(self.lengths)[:-1])

    def trajectory_returns(self) -> np.ndarray:
        """Undiscounted return of each trajectory: (n_trajectories,)."""
        return np.add.reduceat(self.rewards, self._starts()) if self.n_samples else np.zeros(0)

    def trajectory_successes(self, task: TaskSpec) -> np.ndarray:
        """The task's success rule applied to each trajectory's per-step success flags: (n_trajectories,) bool."""
        return np.array([task.is_success(s) for s in self._per_trajectory(self.successes)], dtype=bool)

    def success_rate(self, task: TaskSpec) -> float:
        return float(np.mean(self.trajectory_successes(task))) if self.n_trajectories else 0.0

    def _starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    @staticmethod
    def concatenate(batches: Sequence[TrajectoryBatch]) -> TrajectoryBatch:
        """One batch of the trajectories of ``batches``, in order (all with or all without critic observations)."""
        if len({b.critic_observations is None for b in batches}) > 1:
            raise ValueError("cannot concatenate batches with and without critic_observations")
        fields = [f for f in TrajectoryBatch.__dataclass_fields__ if f != "critic_observations"]
        parts = {f: np.concatenate([getattr(b, f) for b in batches]) for f in fields}
        if batches and batches[0].critic_observations is not None:
            parts["critic_observations"] = np.concatenate([b.critic_observations for b in batches])
        return TrajectoryBatch(**parts)


@dataclass(frozen=True)
class DemoData:
    """Demonstration (observation, action) pairs in policy-input space, as BC (Eq. 5) and DAPG (Eq. 8) use them."""

    observations: np.ndarray  # (N, obs_dim) float32
    actions: np.ndarray  # (N, act_dim) float32
    n_trajectories: int
    source_fingerprint: str | None = None  # DemoSet.fingerprint() of the demonstrations these rows come from

    def __post_init__(self) -> None:
        if self.observations.ndim != 2 or self.actions.ndim != 2 or len(self.observations) != len(self.actions):
            raise ValueError(
                "demo observations/actions must be 2-D with the same number of rows, got "
                f"{self.observations.shape} and {self.actions.shape}"
            )

    @staticmethod
    def from_trajectories(trajectories: Sequence[dict], source_fingerprint: str | None = None) -> DemoData:
        """Stack the ``observations`` and ``actions`` of a list of demo trajectory dicts."""
        if len(trajectories) == 0:
            raise ValueError("no demonstration trajectories given")
        obs = np.concatenate([np.asarray(t["observations"], dtype=np.float32) for t in trajectories])
        act = np.concatenate([np.asarray(t["actions"], dtype=np.float32) for t in trajectories])
        return DemoData(
            observations=obs, actions=act, n_trajectories=len(trajectories), source_fingerprint=source_fingerprint
        )

    def fingerprint(self) -> str:
        """SHA-256 of the arrays (policy inputs: for pixel runs they depend on the encoder's device and backend by
        rounding; ``source_fingerprint`` identifies the demonstrations themselves)."""
        h = hashlib.sha256()
        for a in (self.observations, self.actions):
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()
