"""Soft actor-critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications"), written to be read
beside that paper's equations; the off-policy learner of ``--algo sac`` (frozen features + demonstrations in the
replay buffer) and the RL part of FERM.

Notation: ``Q_1, Q_2`` twin critics with Polyak-averaged targets ``Q'_1, Q'_2``; ``pi`` a tanh-squashed
Gaussian; ``alpha`` the temperature, learned towards the target entropy ``-|A|``.

- Critic (Eq. 5 there): ``y = r + gamma (1 - done) (min_i Q'_i(s', a') - alpha log pi(a'|s'))``, ``a' ~ pi(s')``;
  loss ``sum_i mean (Q_i(s, a) - y)^2``.
- Actor (Eq. 7): ``mean (alpha log pi(a|s) - min_i Q_i(s, a))``, ``a ~ pi(s)`` reparameterised.
- Temperature (Eq. 18): ``mean -log(alpha) (log pi(a|s) + target_entropy)`` (the gradient acts on
  ``log alpha``, as in the public implementations); ``target_entropy = target_entropy_per_dim * |A|``, SAC's
  ``-|A|`` by default. A Gaussian of std ``sigma`` has entropy ``1.42 + log sigma`` per dimension (before the
  tanh), so -1 aims at about ``sigma = 0.09``, -2 at 0.03.
- Targets: ``theta' <- tau theta + (1 - tau) theta'``.
- AWAC's actor (Nair et al. 2020, "AWAC: Accelerating Online Reinforcement Learning with Offline Datasets",
  Eq. 13), ``actor="awac"``: instead of following the critic's action gradient, maximise the log-likelihood of the
  buffer's own actions weighted by ``exp(A(s, a) / beta)``, ``A(s, a) = min_i Q_i(s, a) - min_i Q_i(s, tanh mu(s))``
  (the value at the policy's mean action, as the AWAC code's hand experiments), the weights normalised over the
  batch (a softmax times the batch size). The actor only moves towards actions that were taken.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from rrl.policy import gaussian_kl

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0  # the squashed Gaussian's log-std range (as in the FERM and DrQ code)
ACTOR_OBJECTIVES = ("sac", "awac")
AWAC_SPACES = ("pretanh", "action")  # where awac_actor_loss takes its Gaussian likelihood


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, layer_norm: bool = False) -> nn.Sequential:
    """ReLU MLP; ``layer_norm`` puts a LayerNorm after every hidden linear layer."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h), *([nn.LayerNorm(h)] if layer_norm else []), nn.ReLU()]
        in_dim = h
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


def trunk(obs_dim: int, trunk_dim: int) -> nn.Module:
    """``tanh(LayerNorm(W s + b))`` to ``trunk_dim`` features, DrQ-v2's trunk (Yarats et al. 2021) between a wide
    representation and the actor's or the critics' MLP; the identity for ``trunk_dim = 0``. With 1,280 frozen
    features beside 28 action dimensions, a critic that concatenates them directly hardly depends on the action;
    the trunk puts the action beside ``trunk_dim`` inputs instead."""
    if trunk_dim == 0:
        return nn.Identity()
    return nn.Sequential(nn.Linear(obs_dim, trunk_dim), nn.LayerNorm(trunk_dim), nn.Tanh())


class SquashedGaussianActor(nn.Module):
    """``a = tanh(mu(s) + sigma(s) eps)``; ``log pi`` with the tanh change of variables (SAC appendix C).
    ``trunk_dim``: the input first through the actor's own :func:`trunk`."""

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], log_std_max: float = LOG_STD_MAX,
        log_det_eps: float = 0.0, log_std_min: float = LOG_STD_MIN, trunk_dim: int = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.log_det_eps = log_det_eps  # see squash
        if not LOG_STD_MIN <= log_std_min <= log_std_max <= LOG_STD_MAX:
            raise ValueError(f"need {LOG_STD_MIN} <= log_std_min <= log_std_max <= {LOG_STD_MAX}, got {log_std_min}, "
                             f"{log_std_max}")  # fmt: skip
        self.trunk = trunk(obs_dim, trunk_dim)
        self.net = mlp(trunk_dim or obs_dim, hidden, 2 * act_dim)
        self.act_dim, self.log_std_min, self.log_std_max = act_dim, log_std_min, log_std_max
        # added to mu before the tanh: set to atanh of the demonstrations' mean action before BC, as the DAPG
        # policy's output shift (rrl.policy.GaussianMLP), so BC starts from the mean demonstrated action
        self.register_buffer("mu_shift", torch.zeros(act_dim))

    def distribution(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = self.net(self.trunk(obs)).chunk(2, dim=-1)
        mu = mu + self.mu_shift
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (torch.tanh(log_std) + 1)
        return mu, log_std

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised action in (-1, 1) and its log-probability (noise from ``generator``)."""
        mu, log_std = self.distribution(obs)
        u = mu + log_std.exp() * torch.randn(mu.shape, generator=generator)
        return squash(u, mu, log_std, self.log_det_eps)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.distribution(obs)[0])


def squash(
    u: torch.Tensor, mu: torch.Tensor, log_std: torch.Tensor, log_det_eps: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``tanh(u)`` and ``log pi = log N(u; mu, sigma) - sum log(1 - tanh(u)^2)``: exact (the stable form of the last
    term, ``2 (log 2 - u - softplus(-2u))``) with ``log_det_eps = 0``, else ``log(relu(1 - tanh(u)^2) + eps)`` as the
    SAC-AE/CURL/RAD/FERM code computes it (``eps = 1e-6``), which bounds each dimension's term at ``-log eps``
    (13.8) where the action saturates."""
    gauss = -0.5 * (((u - mu) / log_std.exp()) ** 2 + 2 * log_std + math.log(2 * math.pi))
    a = torch.tanh(u)
    if log_det_eps > 0:
        log_det = torch.log(nn.functional.relu(1 - a**2) + log_det_eps)
    else:
        log_det = 2 * (math.log(2) - u - nn.functional.softplus(-2 * u))
    return a, (gauss - log_det).sum(-1)


class TwinQ(nn.Module):
    """Two independent critics ``Q_1, Q_2(s, a)`` (clipped double-Q). ``layer_norm``: LayerNorm in the hidden
    layers, which keeps Q from diverging when a large share of the data (here the demonstrations) is off-policy
    (Ball et al. 2023, "Efficient Online Reinforcement Learning with Offline Data"). ``trunk_dim``: the
    observation first through one :func:`trunk` that both heads share (DrQ-v2's critic)."""

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], layer_norm: bool = False, trunk_dim: int = 0
    ) -> None:
        super().__init__()
        self.trunk = trunk(obs_dim, trunk_dim)
        in_dim = (trunk_dim or obs_dim) + act_dim
        self.q1, self.q2 = mlp(in_dim, hidden, 1, layer_norm), mlp(in_dim, hidden, 1, layer_norm)

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.trunk(obs), act], dim=-1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


@dataclass(frozen=True)
class SACConfig:
    """SAC settings (defaults: FERM's, i.e. the RAD/CURL code's, except the hidden sizes and the critics'
    LayerNorm)."""

    hidden: tuple[int, ...] = (256, 256)
    gamma: float = 0.99
    lr: float = 1e-3  # actor and critic
    alpha_lr: float = 1e-4
    alpha_beta: float = 0.5  # the temperature's Adam beta_1 (the CURL/RAD/FERM code's)
    init_temperature: float = 0.1
    tau: float = 0.01  # critic target
    actor_update_every: int = 2  # actor and temperature updates every this many critic updates
    target_update_every: int = 2  # target steps every this many critic updates (FERM's critic_target_update_freq)
    batch_size: int = 128
    critic_layer_norm: bool = True  # not in FERM; see TwinQ
    bc_weight: float = 0.0  # see actor_loss: the demonstrations' BC term, relative to the critic's scale
    target_entropy_per_dim: float = -1.0  # the temperature aims at this times |A| (SAC's default: -|A|)
    log_std_max: float = LOG_STD_MAX  # a lower cap bounds the exploration noise before the tanh
    log_std_min: float = LOG_STD_MIN  # equal to log_std_max: a fixed exploration std (TD3, DrQ-v2)
    learn_temperature: bool = True  # False: alpha stays init_temperature (no Eq. 18 step)
    actor: str = "sac"  # the actor's objective: "sac" (Eq. 7) or "awac" (see awac_actor_loss)
    awac_beta: float = 0.5  # AWAC's temperature lambda of the advantage weights (its hand experiments: 0.5)
    awac_normalize: bool = False  # the advantages divided by their batch std before the weights (see awac_actor_loss)
    awac_space: str = "pretanh"  # where AWAC's Gaussian likelihood is taken: "pretanh" or "action" (awac_actor_loss)
    awac_demo_rows: bool = True  # False: AWAC's actor skips the rows ``is_demo`` marks (the critics still use them)
    trunk_dim: int = 0  # > 0: actor and critics see the observation through a trunk to this many features (trunk)
    n_step: int = 1  # the buffer's rewards are n-step returns (n_step_returns): the targets bootstrap with gamma^n;
    # 0: Monte-Carlo returns to the episode's end, every transition done (rrl.train_sac.trajectory_transitions)

    def __post_init__(self) -> None:
        checks = (("gamma", 0 <= self.gamma <= 1), ("lr", self.lr > 0), ("alpha_lr", self.alpha_lr > 0),
                  ("init_temperature", self.init_temperature > 0), ("tau", 0 < self.tau <= 1),
                  ("actor_update_every", self.actor_update_every >= 1),
                  ("target_update_every", self.target_update_every >= 1),
                  ("batch_size", self.batch_size >= 1), ("bc_weight", self.bc_weight >= 0),
                  ("awac_beta", self.awac_beta > 0), ("trunk_dim", self.trunk_dim >= 0),
                  ("n_step", self.n_step >= 0))  # fmt: skip
        for name, ok in checks:
            if not ok or not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"SAC setting {name} out of range: {getattr(self, name)}")
        if self.awac_space not in AWAC_SPACES:
            raise ValueError(f"SAC awac_space must be one of {', '.join(AWAC_SPACES)}, got {self.awac_space!r}")
        if self.actor not in ACTOR_OBJECTIVES:
            raise ValueError(f"SAC actor must be one of {', '.join(ACTOR_OBJECTIVES)}, got {self.actor!r}")
        if self.actor == "awac" and self.learn_temperature:
            raise ValueError(
                "AWAC's actor loss has no entropy term, so a learned temperature would drift without bound while it "
                "enters the critic's targets; fix it (learn_temperature=False, --no-sac-learn-temperature, with "
                "--sac-init-temperature the value to hold)"
            )


def critic_target(
    batch: dict[str, torch.Tensor], actor: SquashedGaussianActor, target: TwinQ, alpha: torch.Tensor, gamma: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``y = r + gamma (1 - done) (min_i Q'_i(s', a') - alpha log pi(a'|s'))`` (no gradient)."""
    with torch.no_grad():
        next_act, next_logp = actor.sample(batch["next_obs"], generator)
        q1, q2 = target(batch["next_obs"], next_act)
        return batch["rew"] + gamma * (1 - batch["done"]) * (torch.min(q1, q2) - alpha * next_logp)


def n_step_returns(rew: np.ndarray, n: int, gamma: float) -> np.ndarray:
    """``R_t = sum_{i<n} gamma^i r_{t+i}`` for each of the ``len(rew) - n + 1`` windows of ``n`` consecutive rewards
    (the n-step return, Sutton & Barto Eq. 7.1, before its bootstrap ``gamma^n Q(s_{t+n}, a')``, which
    :func:`critic_target` adds with ``gamma^n`` for its ``gamma``). DrQ-v2 and VRL3 learn with ``n = 3``."""
    rew = np.asarray(rew, dtype=np.float64)
    if n < 1:
        raise ValueError(f"n-step returns need n >= 1, got {n}")
    if len(rew) < n:
        return np.zeros(0, np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(rew, n)
    return (windows @ gamma ** np.arange(n)).astype(np.float32)


def critic_loss(batch: dict[str, torch.Tensor], critic: TwinQ, y: torch.Tensor) -> torch.Tensor:
    q1, q2 = critic(batch["obs"], batch["act"])
    return ((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean()


def actor_loss(
    obs: torch.Tensor, actor: SquashedGaussianActor, critic: TwinQ, alpha: torch.Tensor,
    generator: torch.Generator | None = None, bc: tuple[torch.Tensor, torch.Tensor, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``mean (alpha log pi(a|s) - min_i Q_i(s, a))`` and the log-probabilities (for the temperature).

    ``bc = (mask, actions, weight)``: plus ``weight * mean|Q| * mean_{mask} ||tanh(mu(s)) - a||^2``, a behaviour-
    cloning term on the rows ``mask`` marks (the demonstrations'), scaled by the batch's mean ``|Q|`` (detached)
    so that its weight does not depend on the reward's scale: TD3+BC's normalisation (Fujimoto & Gu 2021, whose
    ``alpha = 2.5`` is ``weight = 0.4`` here)."""
    act, logp = actor.sample(obs, generator)
    q1, q2 = critic(obs, act)
    q = torch.min(q1, q2)
    loss = (alpha * logp - q).mean()
    if bc is not None and bc[2] > 0 and bool(bc[0].any()):
        mask, demo_act, weight = bc
        err = ((actor.deterministic(obs[mask]) - demo_act[mask]) ** 2).sum(-1).mean()
        loss = loss + weight * q.detach().abs().mean() * err
    return loss, logp


def effective_share(weights: torch.Tensor) -> float:
    """Kish's effective sample size of non-negative ``weights`` as a share of their number, ``(sum w)^2 / (n sum
    w^2)``: 1 for equal weights, ``1 / n`` for one non-zero weight."""
    return float(weights.sum() ** 2 / (len(weights) * (weights**2).sum()))


def awac_actor_loss(
    batch: dict[str, torch.Tensor], actor: SquashedGaussianActor, critic: TwinQ, beta: float,
    generator: torch.Generator | None = None, normalize: bool = False, space: str = "pretanh",
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """AWAC's actor loss (Nair et al. 2020, Eq. 13), ``-sum_j w_j log N(atanh a_j; mu(s_j), sigma(s_j))`` over the
    batch's own ``(s_j, a_j)``, ``w = batch_size * softmax(A / beta)`` (detached), ``A`` the advantage of the
    module docstring; the log-probabilities of fresh actions of the policy (for the temperature); and how much the
    weights select: the advantages' std (``adv_std``) and the weights' effective sample size as a share of the
    batch, ``(sum w)^2 / (n sum w^2)`` (``weights_ess``: 1 for equal weights, 1/n for one row). ``normalize``:
    ``A / std(A)`` over the batch in place of ``A`` (the weights' selectivity then does not follow the scale of the
    critic's values; for normal advantages the effective share is ``exp(-1 / beta^2)``). The tanh's
    log-determinant of ``a_j`` does not depend on the actor and is left out; actions at the bounds are moved
    1e-6 inside them. ``space="action"``: ``log N(a_j; tanh mu(s_j), sigma(s_j))`` instead, the Gaussian around the
    squashed mean in the action space, where behaviour cloning fitted ``tanh mu`` (with a fixed std: BC's squared
    error weighted by ``w``); an action at a bound is then a target 1 - tanh(mu) away, not 7.25 - mu before the
    tanh."""
    obs = batch["obs"]
    mu, log_std = actor.distribution(obs)  # one forward serves the weights, the likelihood and the fresh actions
    with torch.no_grad():
        q_data = torch.min(*critic(obs, batch["act"]))
        q_mean = torch.min(*critic(obs, torch.tanh(mu)))
        adv = q_data - q_mean
        adv_std = adv.std() if len(adv) > 1 else torch.zeros(())
        scaled = adv / (adv_std + 1e-8) if normalize else adv
        weights = len(obs) * torch.softmax(scaled / beta, dim=0)
        info = {"adv_std": float(adv_std), "weights_ess": effective_share(weights)}
    if space == "action":
        log_lik = (-0.5 * ((batch["act"] - torch.tanh(mu)) / log_std.exp()) ** 2 - log_std).sum(-1)
    else:
        u = torch.atanh(batch["act"].clamp(-1 + 1e-6, 1 - 1e-6))
        log_lik = (-0.5 * ((u - mu) / log_std.exp()) ** 2 - log_std).sum(-1)  # up to a constant
    fresh = mu + log_std.exp() * torch.randn(mu.shape, generator=generator)  # as actor.sample draws them
    _, logp = squash(fresh, mu, log_std, actor.log_det_eps)
    return -(weights * log_lik).mean(), logp, info


@torch.no_grad()
def policy_spread(actor: SquashedGaussianActor, obs: torch.Tensor) -> dict[str, float]:
    """Where the entropy estimate comes from: the mean log std before the tanh (``log_std_mean``) and the share of
    action dimensions whose mean sits past the tanh's knee, ``|mu| > 2`` (``saturated``)."""
    mu, log_std = actor.distribution(obs)
    return {"log_std_mean": float(log_std.mean()), "saturated": float((mu.abs() > 2).float().mean())}


def temperature_loss(log_alpha: torch.Tensor, logp: torch.Tensor, target_entropy: float) -> torch.Tensor:
    return -(log_alpha * (logp + target_entropy).detach()).mean()


def policy_step(
    loss_fn: Callable[[], tuple[torch.Tensor, torch.Tensor]], critic: nn.Module, actor_opt: torch.optim.Optimizer,
    log_alpha: torch.Tensor, alpha_opt: torch.optim.Optimizer, target_entropy: float, learn_temperature: bool = True,
) -> dict[str, float]:
    """The actor step on ``loss_fn()`` (the actor's loss and log-probabilities, Eq. 7) with the critic's parameters
    frozen, so that the actor's gradient does not reach it, then the temperature step (Eq. 18; none where
    ``learn_temperature`` is off: a fixed temperature)."""
    for p in critic.parameters():
        p.requires_grad_(False)
    try:
        loss_pi, logp = loss_fn()
        actor_opt.zero_grad()
        loss_pi.backward()
        actor_opt.step()
    finally:
        for p in critic.parameters():
            p.requires_grad_(True)
    if learn_temperature:
        loss_alpha = temperature_loss(log_alpha, logp, target_entropy)
        alpha_opt.zero_grad()
        loss_alpha.backward()
        alpha_opt.step()
    return {"actor_loss": float(loss_pi.detach()), "entropy": float(-logp.detach().mean())}


@torch.no_grad()
def bound_actor_step(
    actor: SquashedGaussianActor, before: dict[str, torch.Tensor], obs: torch.Tensor, max_kl: float,
    max_backtracks: int = 10,
) -> tuple[float, int]:
    """A trust region on the actor's change over an iteration's updates, as DAPG bounds its step in KL (Eq. 7; the
    backtracking of TRPO's line search, Schulman et al. 2015): while the mean ``KL(pi_before || pi)`` over
    ``obs`` (of the Gaussians before the tanh, :func:`rrl.policy.gaussian_kl`) exceeds ``max_kl``, halve the
    parameter change ``theta - theta_before``; after ``max_backtracks``
    halvings the actor returns to ``before``. Returns the KL kept and the number of halvings."""
    after = {k: v.clone() for k, v in actor.state_dict().items()}
    actor.load_state_dict(before)
    mu_0, log_std_0 = actor.distribution(obs)
    for halvings in range(max_backtracks + 1):
        frac = 0.5**halvings
        actor.load_state_dict({k: before[k] + frac * (v - before[k]) if v.is_floating_point() else v
                               for k, v in after.items()})  # fmt: skip
        kl = float(gaussian_kl(mu_0, log_std_0, *actor.distribution(obs)).mean())
        if kl <= max_kl:
            return kl, halvings
    actor.load_state_dict(before)
    return 0.0, max_backtracks + 1


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    for t, s in zip(target.parameters(), source.parameters()):
        t.lerp_(s, tau)


class SACAgent:
    """Actor, twin critics and their targets, the temperature, and their Adam optimisers."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.cfg = cfg
        self.actor = SquashedGaussianActor(obs_dim, act_dim, cfg.hidden, cfg.log_std_max, log_std_min=cfg.log_std_min,
                                           trunk_dim=cfg.trunk_dim)  # fmt: skip
        self.critic = TwinQ(obs_dim, act_dim, cfg.hidden, cfg.critic_layer_norm, cfg.trunk_dim)
        self.critic_target = TwinQ(obs_dim, act_dim, cfg.hidden, cfg.critic_layer_norm, cfg.trunk_dim)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.log_alpha = torch.tensor(math.log(cfg.init_temperature), requires_grad=True)
        self.target_entropy = cfg.target_entropy_per_dim * act_dim
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr, betas=(cfg.alpha_beta, 0.999))
        self.updates = 0
        self.generator = torch.Generator().manual_seed(seed)  # the policy's sampling noise in updates

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    def update(self, batch: dict[str, torch.Tensor], train_actor: bool = True) -> dict[str, float]:
        """One critic step; every ``actor_update_every``-th call also an actor and temperature step (none while
        ``train_actor`` is False), every ``target_update_every``-th a target step (after the actor's)."""
        alpha = self.alpha.detach()
        gamma = self.cfg.gamma**self.cfg.n_step  # the bootstrap of an n-step transition (n_step_returns)
        y = critic_target(batch, self.actor, self.critic_target, alpha, gamma, self.generator)
        loss_q = critic_loss(batch, self.critic, y)
        self.critic_opt.zero_grad()
        loss_q.backward()
        self.critic_opt.step()
        out = {"critic_loss": float(loss_q.detach()), "alpha": float(alpha), "q_target": float(y.mean())}
        self.updates += 1
        actor_rows = batch
        if self.cfg.actor == "awac" and not self.cfg.awac_demo_rows and "is_demo" in batch:
            actor_rows = {k: v[~batch["is_demo"]] for k, v in batch.items()}  # an all-demo batch: no actor step
        if train_actor and self.updates % self.cfg.actor_update_every == 0 and len(actor_rows["obs"]):
            bc = (batch["is_demo"], batch["act"], self.cfg.bc_weight) if "is_demo" in batch else None

            def loss_fn() -> tuple[torch.Tensor, torch.Tensor]:
                if self.cfg.actor == "awac":
                    loss, logp, info = awac_actor_loss(actor_rows, self.actor, self.critic, self.cfg.awac_beta,
                                                       self.generator, self.cfg.awac_normalize,
                                                       self.cfg.awac_space)  # fmt: skip
                    out.update(info)
                    return loss, logp
                return actor_loss(batch["obs"], self.actor, self.critic, alpha, self.generator, bc)

            out.update(policy_step(
                loss_fn, self.critic, self.actor_opt, self.log_alpha, self.alpha_opt, self.target_entropy,
                self.cfg.learn_temperature,
            ))  # fmt: skip
            out.update(policy_spread(self.actor, batch["obs"]))
        if self.updates % self.cfg.target_update_every == 0:
            soft_update(self.critic_target, self.critic, self.cfg.tau)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(), "updates": self.updates,
            "generator": self.generator.get_state(),
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        self.alpha_opt.param_groups[0]["betas"] = (self.cfg.alpha_beta, 0.999)  # the config's, not the saved
        self.updates = int(state["updates"])
        self.generator.set_state(state["generator"])


class ReplayBuffer:
    """Transitions ``(s, a, r, s', done)`` in preallocated arrays (observations as ``dtype``, float16 for wide
    frozen features: 1M transitions of 1,304 features take 2 x 2.6 GB), first in first out."""

    def __init__(self, obs_dim: int, act_dim: int, capacity: int, dtype: Any = np.float32) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity, self.size, self.pos = capacity, 0, 0
        self.obs = np.zeros((capacity, obs_dim), dtype)
        self.next_obs = np.zeros((capacity, obs_dim), dtype)
        self.act = np.zeros((capacity, act_dim), np.float32)
        self.rew = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.obs, self.next_obs, self.act, self.rew, self.done))

    def add(self, obs: np.ndarray, act: np.ndarray, rew: np.ndarray, next_obs: np.ndarray, done: np.ndarray) -> None:
        """Append a batch of transitions (rows), overwriting the oldest when full."""
        n = len(obs)
        if n > self.capacity:  # only the last ``capacity`` rows survive
            obs, act, rew, next_obs, done = (a[n - self.capacity :] for a in (obs, act, rew, next_obs, done))
            n = self.capacity
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx], self.act[idx], self.rew[idx], self.next_obs[idx], self.done[idx] = obs, act, rew, next_obs, done
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        idx = rng.integers(0, self.size, size=batch_size)
        return {
            "obs": torch.from_numpy(self.obs[idx].astype(np.float32)),
            "act": torch.from_numpy(self.act[idx]),
            "rew": torch.from_numpy(self.rew[idx]),
            "next_obs": torch.from_numpy(self.next_obs[idx].astype(np.float32)),
            "done": torch.from_numpy(self.done[idx]),
        }
