"""Behaviour cloning (paper Eq. 5): warm-start the policy mean on the demonstrations.

``L_BC(theta) = 1/2 sum_{minibatch} || mu_theta(s) - a^H ||^2``. We average over the minibatch instead of
summing (Adam is invariant to that constant). Only the mean network is trained; the log-std keeps the value set
from the demonstrations' action spread. Paper settings: batch 32, 5 epochs, lr 1e-3.
"""

from __future__ import annotations

import numpy as np
import torch

from rrl.policy import GaussianMLP


def bc_loss(policy: GaussianMLP, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Eq. 5, averaged over the batch: ``mean_i 1/2 ||mu(s_i) - a_i||^2``."""
    return 0.5 * ((policy(observations) - actions) ** 2).sum(-1).mean()


def behavior_clone(
    policy: GaussianMLP,
    observations: np.ndarray,
    actions: np.ndarray,
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
) -> list[float]:
    """Train ``policy``'s mean on (observations, actions) with Adam; returns the mean loss of each epoch.

    Minibatch order is drawn from a generator seeded by ``seed``, so the result is reproducible.
    """
    obs = torch.as_tensor(np.asarray(observations, dtype=np.float32))
    act = torch.as_tensor(np.asarray(actions, dtype=np.float32))
    if len(obs) != len(act) or len(obs) == 0:
        raise ValueError(f"need matching, non-empty demo arrays; got {len(obs)} observations, {len(act)} actions")
    optimizer = torch.optim.Adam(policy.mean_params(), lr=lr)
    gen = torch.Generator().manual_seed(int(seed))
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(obs), generator=gen)
        total, count = 0.0, 0
        for start in range(0, len(obs), batch_size):
            idx = perm[start : start + batch_size]
            loss = bc_loss(policy, obs[idx], act[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            count += len(idx)
        losses.append(total / count)
    return losses
