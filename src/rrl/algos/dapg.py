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

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from rrl.algos.npg import mean_kl, npg_step
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


# ------------------------------------------------------------------------------- one DAPG update
class NonFiniteError(FloatingPointError):
    """A NaN or inf appeared in an update; ``what`` names the quantity. The policy is left as it was."""

    def __init__(self, what: str) -> None:
        super().__init__(f"non-finite {what}")
        self.what = what


@dataclass(frozen=True)
class DAPGSettings:
    """The settings of :func:`dapg_update` (paper appendix 7.1 defaults; ``rrl.config.TrainConfig`` documents
    each). ``use_demos=False`` is NPG (Eq. 4, 6-7); ``max_kl_ratio`` and ``frozen_layers`` are rrl additions."""

    use_demos: bool = True
    lam_0: float = 0.01
    lam_1: float = 0.95
    demo_weight: str = "paper"
    step_size: float = 0.05
    cg_iters: int = 10
    cg_damping: float = 1e-4
    fvp_sample_frac: float = 1.0
    fvp_precision: str = "float32"
    step_norm: str = "gradient"
    max_kl_ratio: float = 2.0
    frozen_layers: int = 0


def dapg_update(
    policy: GaussianMLP,
    observations: torch.Tensor,
    actions: torch.Tensor,
    advantages: np.ndarray,
    demo_observations: torch.Tensor | None,
    demo_actions: torch.Tensor | None,
    iteration: int,
    settings: DAPGSettings,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One policy update of DAPG (Algorithm 1 lines 10-13), in place, for a batch with its advantages ``A``:

    1. Eq. 9: the demo weight ``w = lam_0 lam_1^k max A`` (:func:`demo_weight`);
    2. Eq. 8: ``g = grad [sum_pi log pi(a|s) A + sum_D log pi(a|s) w]`` (:func:`dapg_gradient`);
    3. Eq. 6-7: ``d = F^-1 g`` by conjugate gradient, ``theta <- theta + sqrt(delta / g^T d) d``
       (:func:`rrl.algos.npg.npg_step`);
    4. rrl's safety net (not in the paper): while the measured KL exceeds ``max_kl_ratio * delta`` the step is
       halved (at most 15 times). Where the quadratic model of Eq. 6 fails (few samples for many parameters make
       ``F`` rank-deficient and the demo term points into its null space) the KL can exceed the trust region by
       orders of magnitude.

    Returns the statistics and the seconds of each phase (``t_gradient``, ``t_cg``, ``t_step``); raises
    :class:`NonFiniteError` (the policy restored) when a NaN or inf appears.
    """
    s = settings
    t0 = time.perf_counter()
    use_demos = s.use_demos and demo_observations is not None
    w = demo_weight(advantages, iteration, s.lam_0, s.lam_1, s.demo_weight) if use_demos else 0.0
    adv_pi = policy_advantages(advantages, s.demo_weight) if use_demos else advantages
    mean_pi = policy(observations)  # one forward pass shared by the gradient, the Fisher and the KL
    grad = dapg_gradient(policy, observations, actions, torch.as_tensor(adv_pi, dtype=torch.float32),
                         demo_observations if use_demos else None, demo_actions, w, policy_mean=mean_pi)  # fmt: skip
    _require_finite(grad, "policy gradient")
    t1 = time.perf_counter()

    old_mean, old_log_std = mean_pi.detach(), policy.log_std.detach().clone()
    step = npg_step(
        policy, observations, grad, s.step_size, s.cg_iters, s.cg_damping, s.fvp_sample_frac, generator,
        policy_mean=mean_pi, precision=s.fvp_precision, step_norm=s.step_norm,
        trainable=policy.trainable_mask(s.frozen_layers) if s.frozen_layers else None,
    )  # fmt: skip
    del mean_pi
    _require_finite(step.direction, "natural gradient direction")
    _require_finite(torch.tensor([step.step_size]), "step size")
    t2 = time.perf_counter()

    old_params = policy.flat_params()
    policy.set_flat_params(step.new_params)
    kl = mean_kl(policy, observations, old_mean, old_log_std)
    backtracks = 0
    while s.max_kl_ratio > 0 and not kl <= s.max_kl_ratio * s.step_size and backtracks < 15:
        backtracks += 1
        policy.set_flat_params(old_params + 0.5**backtracks * (step.new_params - old_params))
        kl = mean_kl(policy, observations, old_mean, old_log_std)
    if not math.isfinite(kl) or not all(bool(torch.isfinite(p).all()) for p in policy.parameters()):
        policy.set_flat_params(old_params)
        raise NonFiniteError("policy parameters or KL after the step")
    return {
        "demo_weight": w, "grad_norm": float(grad.norm()), "step_size": step.step_size * 0.5**backtracks, "kl": kl,
        "step_backtracks": backtracks, "t_gradient": t1 - t0, "t_cg": t2 - t1, "t_step": time.perf_counter() - t2,
    }  # fmt: skip


def _require_finite(values: torch.Tensor, what: str) -> None:
    if not bool(torch.isfinite(values).all()):
        raise NonFiniteError(what)
