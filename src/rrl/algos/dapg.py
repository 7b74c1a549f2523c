"""Demo-augmented policy gradient, DAPG (paper Eq. 8-9; Rajeswaran et al. 2018).

Eq. 8 adds to the policy gradient of Eq. 4 a behaviour-cloning-like term on the demonstrations, each
demonstration pair weighted by a heuristic "advantage" ``w``:

    g_aug = sum_{(s,a) in rho_pi} grad log pi(a|s) A(s,a)  +  sum_{(s,a) in rho_D} grad log pi(a|s) w

Two weightings are offered (``variant``):

``"paper"`` (Eq. 9)
    ``w = lam_0 * lam_1^k * max_{rho_pi} A``: the demo weight is tied to the largest on-policy advantage of
    the current batch and decays geometrically with the iteration ``k``.
``"mjrl"`` (the public DAPG code)
    the on-policy advantages are whitened (centred, divided by their standard deviation) and every
    demonstration pair gets the constant ``w = lam_0 * lam_1^k`` (no ``max A`` factor). With whitened
    advantages ``max A`` is typically 3-10, so at the same ``lam_0`` the paper weighting puts several times
    more weight on the demonstrations.

Both terms are averaged over the union of the two sample sets (the sum of Eq. 8 divided by ``N_pi + N_D``);
because the NPG step (Eq. 6) is normalised, only the relative weights matter.
"""

from __future__ import annotations

import numpy as np
import torch

from rrl.config import DEMO_WEIGHT_VARIANTS
from rrl.policy import GaussianMLP, gaussian_log_prob


def demo_weight(
    advantages: np.ndarray, iteration: int, lam_0: float = 0.01, lam_1: float = 0.95, variant: str = "paper"
) -> float:
    """Eq. 9 weight ``w`` of every demonstration pair at DAPG iteration ``k = iteration``.

    ``variant="paper"``: ``lam_0 * lam_1^k * max(max(advantages), 0)`` (a batch whose advantages are all
    negative, possible only without advantage normalisation, gives 0, not a weight that pushes the policy away
    from the demonstrations); ``variant="mjrl"``: ``lam_0 * lam_1^k``.
    """
    if variant not in DEMO_WEIGHT_VARIANTS:
        raise ValueError(f"unknown demo weight variant {variant!r}; valid: {', '.join(DEMO_WEIGHT_VARIANTS)}")
    if iteration < 0:
        raise ValueError(f"iteration must be >= 0, got {iteration}")
    decay = lam_0 * lam_1**iteration
    if variant == "mjrl":
        return float(decay)
    return float(decay * max(float(np.max(advantages)), 0.0))


def policy_advantages(advantages: np.ndarray, variant: str = "paper") -> np.ndarray:
    """The on-policy weights of Eq. 8: unchanged for ``"paper"``, whitened (centred, divided by their std) for
    ``"mjrl"``, as the public code does whether or not the advantages were normalised before."""
    if variant == "mjrl":
        return (advantages - np.mean(advantages)) / (np.std(advantages) + 1e-8)
    return advantages


def weighted_log_likelihood_gradient(
    policy: GaussianMLP,
    observations: torch.Tensor,
    actions: torch.Tensor,
    weights: torch.Tensor,
    policy_mean: torch.Tensor | None = None,
) -> torch.Tensor:
    """``1/N sum_n w_n grad log pi(a_n | s_n)`` as a flat vector (Eq. 4 when ``w`` are advantages).

    Flat order: ``policy.flat_param_list()`` (mean network, then log-std), as everywhere in rrl.algos.
    ``policy_mean``: ``policy(observations)`` already computed with its graph; the graph is then kept
    (``retain_graph``) so that the caller can reuse it, e.g. for Fisher-vector products.
    """
    mean = policy(observations) if policy_mean is None else policy_mean
    objective = torch.mean(gaussian_log_prob(mean, policy.log_std, actions) * weights)
    grads = torch.autograd.grad(objective, policy.flat_param_list(), retain_graph=policy_mean is not None)
    return torch.cat([g.reshape(-1) for g in grads])


def dapg_gradient(
    policy: GaussianMLP,
    observations: torch.Tensor,
    actions: torch.Tensor,
    advantages: torch.Tensor,
    demo_observations: torch.Tensor | None,
    demo_actions: torch.Tensor | None,
    weight: float,
    policy_mean: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 8: the policy gradient on ``rho_pi`` plus the ``weight``-weighted log-likelihood gradient on ``rho_D``.

    Vectorised over each sample set (no loop over samples). The sum of Eq. 8 is divided by ``N_pi + N_D``.
    Without demonstrations (or ``weight == 0``) this is the plain policy gradient of Eq. 4.
    ``policy_mean``: optional precomputed ``policy(observations)`` whose graph is kept for reuse.
    """
    if demo_observations is None or demo_actions is None or len(demo_observations) == 0 or weight == 0.0:
        return weighted_log_likelihood_gradient(policy, observations, actions, advantages, policy_mean)
    mean_pi = policy(observations) if policy_mean is None else policy_mean
    logp_pi = gaussian_log_prob(mean_pi, policy.log_std, actions)
    logp_d = policy.log_prob(demo_observations, demo_actions)
    n_total = len(observations) + len(demo_observations)
    objective = (torch.sum(logp_pi * advantages) + float(weight) * torch.sum(logp_d)) / n_total
    grads = torch.autograd.grad(objective, policy.flat_param_list(), retain_graph=policy_mean is not None)
    return torch.cat([g.reshape(-1) for g in grads])
