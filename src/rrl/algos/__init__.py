"""Policy-optimisation algorithms of the paper, one concept per module.

``bc`` (Eq. 5), ``npg`` (Eq. 4, 6, 7: Fisher-vector products, conjugate gradient), ``dapg`` (Eq. 8-9),
``gae`` (advantages and returns).
"""

from rrl.algos.bc import bc_loss, behavior_clone
from rrl.algos.dapg import dapg_gradient, demo_weight, policy_advantages
from rrl.algos.gae import compute_gae, discounted_returns
from rrl.algos.npg import (
    conjugate_gradient,
    fisher_vector_product,
    make_fisher_vector_product,
    mean_kl,
    normalized_step_size,
    npg_step,
)

__all__ = [
    "bc_loss",
    "behavior_clone",
    "compute_gae",
    "conjugate_gradient",
    "dapg_gradient",
    "demo_weight",
    "discounted_returns",
    "fisher_vector_product",
    "make_fisher_vector_product",
    "mean_kl",
    "normalized_step_size",
    "npg_step",
    "policy_advantages",
]
