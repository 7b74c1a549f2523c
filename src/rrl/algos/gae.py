"""Advantages and returns (paper Eq. 2; GAE of Schulman et al. 2016 with gamma 0.995, lambda 0.97).

Inputs are flat per-sample arrays of a batch of trajectories plus the trajectory ``lengths`` (samples of one
trajectory are contiguous, in time order). The recursions run backwards over time on a padded
(n_trajectories, T_max) array, vectorised over trajectories.

The ADROIT tasks have a fixed horizon and the value baseline sees the time step, so the value after the last
step is 0 (finite-horizon objective): no bootstrapping at the time limit. (mjrl bootstraps there with the
baseline's last prediction: docs/algorithms.md, "Advantages and the baseline".)
"""

from __future__ import annotations

import numpy as np


def _pad(flat: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat (N,) -> zero-padded (n_traj, T_max) and its boolean validity mask."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.sum() != len(flat):
        raise ValueError(f"lengths sum to {lengths.sum()} but the batch has {len(flat)} samples")
    t_max = int(lengths.max()) if len(lengths) else 0
    mask = np.arange(t_max)[None, :] < lengths[:, None]
    out = np.zeros(mask.shape, dtype=np.float64)
    out[mask] = flat
    return out, mask


def discounted_returns(rewards: np.ndarray, lengths: np.ndarray, gamma: float) -> np.ndarray:
    """Returns-to-go ``R_t = sum_{t' >= t} gamma^(t'-t) r_t'`` per trajectory (Algorithm 1, line 14): (N,)."""
    r, mask = _pad(np.asarray(rewards, dtype=np.float64), lengths)
    out = np.zeros_like(r)
    running = np.zeros(r.shape[0])
    for t in range(r.shape[1] - 1, -1, -1):
        running = r[:, t] + gamma * running
        out[:, t] = running
    return out[mask]


def compute_gae(
    rewards: np.ndarray, values: np.ndarray, lengths: np.ndarray, gamma: float = 0.995, lam: float = 0.97
) -> np.ndarray:
    """Generalised advantage estimates ``A_t = sum_l (gamma lam)^l delta_{t+l}`` with
    ``delta_t = r_t + gamma V(s_{t+1}) - V(s_t)`` and ``V(s_T) = 0`` after the last step: (N,)."""
    r, mask = _pad(np.asarray(rewards, dtype=np.float64), lengths)
    v, _ = _pad(np.asarray(values, dtype=np.float64), lengths)
    v_next = np.zeros_like(v)
    v_next[:, :-1] = v[:, 1:]  # padding is 0, so the step after the last valid one has value 0
    delta = r + gamma * v_next - v
    adv = np.zeros_like(r)
    running = np.zeros(r.shape[0])
    for t in range(r.shape[1] - 1, -1, -1):
        running = delta[:, t] + gamma * lam * running
        adv[:, t] = running
    return adv[mask]
