"""FERM (Zhan et al. 2020, "A Framework for Efficient Robotic Manipulation"): soft actor-critic on an encoder
trained end to end from pixels, with random-crop augmentation (RAD, Laskin et al. 2020) and a contrastive warm-up
(CURL, Srinivas et al. 2020) on a replay buffer that the demonstrations fill first. The RRL paper's strongest
baseline (its Fig. 3).

Notation: ``o`` a stack of frames (the cameras' RGB channels, uint8), ``p`` the proprioception, ``f`` the critic's
encoder (conv trunk + projection), ``f'`` its Polyak-averaged target (the CURL key encoder), ``g`` the actor's own
projection on the critic's conv trunk.

- Encoder: 4 conv layers (3x3, 32 filters, the first with stride 2, ReLU), a linear layer to 50 features,
  LayerNorm, tanh. The policy and critics see ``[f(o), p]``.
- CURL (Srinivas et al. Eq. 1, InfoNCE with a bilinear score): ``z_a = f(crop_1(o))``, ``z_+ = f'(crop_2(o))``
  (no gradient), ``logits = z_a W z_+^T`` over a batch, cross-entropy with the matching pairs (the diagonal) as
  labels; trains ``f`` and ``W``.
- Critic: SAC's (``rrl.algos.sac``) on independently cropped ``o`` and ``o'``; the critic loss trains ``f``.
- Actor: ``pi([g(trunk(o)), p])`` with the trunk's output detached: the conv weights are the critic's, the
  actor trains only ``g`` and its MLP (as in the CURL and RAD code).
- Targets: Q heads with ``tau``, the encoder with ``encoder_tau``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from rrl.algos.sac import (
    LOG_STD_MAX,
    LOG_STD_MIN,
    SACConfig,
    SquashedGaussianActor,
    TwinQ,
    critic_loss,
    policy_spread,
    policy_step,
    soft_update,
)


# ------------------------------------------------------------------------------------------ encoder
class ConvTrunk(nn.Module):
    """``layers`` 3x3 convolutions with ``filters`` channels (the first with stride 2), ReLU, flattened; input
    uint8 or float frames ``(N, C, S, S)`` in [0, 255]."""

    def __init__(self, in_channels: int, image_size: int, filters: int = 32, layers: int = 4) -> None:
        super().__init__()
        convs: list[nn.Module] = []
        for i in range(layers):
            convs += [nn.Conv2d(in_channels if i == 0 else filters, filters, 3, stride=2 if i == 0 else 1), nn.ReLU()]
        self.net = nn.Sequential(*convs, nn.Flatten())
        side = (image_size - 3) // 2 + 1 - 2 * (layers - 1)
        if side < 1:
            raise ValueError(f"image_size {image_size} is too small for {layers} conv layers")
        self.out_dim = filters * side * side

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames.float() / 255.0)


def delta_orthogonal_init(module: nn.Module) -> None:
    """The SAC-AE/CURL/RAD initialisation: linear layers orthogonal with zero bias; a convolution zero but for
    its centre tap, orthogonal with the ReLU gain (delta-orthogonal, Xiao et al. 2018), so activations keep their
    scale through the trunk (PyTorch's default shrinks them about 5x over 4 layers and CURL then collapses)."""
    if isinstance(module, nn.Linear):
        nn.init.orthogonal_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        with torch.no_grad():
            module.weight.zero_()
            module.bias.zero_()
            mid = module.weight.shape[2] // 2
            nn.init.orthogonal_(module.weight[:, :, mid, mid], nn.init.calculate_gain("relu"))


class Projection(nn.Module):
    """Linear layer and LayerNorm: the encoder's ``feature_dim`` output, as FERM's code builds its actor's and
    critic's encoders (``output_logits=True``); ``tanh`` adds SAC-AE's tanh after the LayerNorm."""

    def __init__(self, in_dim: int, feature_dim: int, tanh: bool = False) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, feature_dim), nn.LayerNorm(feature_dim), *([nn.Tanh()] * tanh))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def random_crop(frames: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """An independent random ``size`` x ``size`` window of every frame stack ``(N, C, H, W)`` (RAD's crop)."""
    n, c, h, w = frames.shape
    top = torch.randint(0, h - size + 1, (n,), generator=generator)
    left = torch.randint(0, w - size + 1, (n,), generator=generator)
    ar = torch.arange(size)
    rows = (top[:, None] + ar)[:, None, :, None]
    cols = (left[:, None] + ar)[:, None, None, :]
    return frames[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]


def center_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` x ``size`` window of ``(N, C, H, W)`` frames (acting and evaluation)."""
    h, w = frames.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return frames[..., top : top + size, left : left + size]


def curl_loss(z_anchor: torch.Tensor, z_positive: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """InfoNCE with the bilinear score ``z_a W z_+^T``: each anchor's positive is the same row of ``z_positive``,
    every other row a negative (CURL Eq. 1). The row maximum is subtracted before the softmax for stability."""
    logits = z_anchor @ w @ z_positive.T
    logits = logits - logits.max(dim=1, keepdim=True).values
    return nn.functional.cross_entropy(logits, torch.arange(len(logits)))


class FrameFlattener:
    """The "encoder" of a FERM run for rrl's pixel sampler and demo rendering: frames pass unchanged, flattened to
    float32 (exact for uint8), so the policy input is ``[frames, proprioception]`` (see :func:`split_observation`).
    ``cacheable``: False (the demos' frames are not worth a feature cache)."""

    fingerprint = "raw-frames-v1"
    backend = None
    cacheable = False

    def __init__(self, render_size: int) -> None:
        self.feature_dim = 3 * render_size * render_size  # per camera

    def encode_views(self, pixels: np.ndarray) -> np.ndarray:
        """``(N, n_cams, H, W, 3)`` uint8 -> ``(N, n_cams H W 3)`` float32."""
        return np.asarray(pixels, dtype=np.float32).reshape(len(pixels), -1)


def split_observation(obs: np.ndarray, n_cameras: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Policy-input rows ``[frames, proprio]`` (:class:`FrameFlattener`) -> uint8 frame stacks
    ``(N, 3 n_cameras, size, size)`` (each camera's RGB channels in turn) and float32 proprioception."""
    n, f = len(obs), n_cameras * size * size * 3
    frames = obs[:, :f].reshape(n, n_cameras, size, size, 3).transpose(0, 1, 4, 2, 3)
    return np.ascontiguousarray(frames.reshape(n, 3 * n_cameras, size, size)).astype(np.uint8), np.asarray(
        obs[:, f:], dtype=np.float32
    )


# ------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class FERMConfig:
    """FERM's settings (defaults: the public FERM code's; ``sac``: hidden (1024, 1024), no critic LayerNorm)."""

    sac: SACConfig = field(default_factory=lambda: SACConfig(hidden=(1024, 1024), critic_layer_norm=False))
    image_size: int = 84  # the crop the encoder sees (frames are rendered larger: 100 in FERM)
    feature_dim: int = 50
    filters: int = 32
    conv_layers: int = 4
    encoder_tau: float = 0.05
    curl_lr: float = 1e-3
    encoder_tanh: bool = False  # FERM: LayerNorm output as is (a tanh after it: SAC-AE's encoder)
    #: Adam steps the encoder takes per CURL update. 2 is FERM's code: its encoder sits in two optimisers (the
    #: encoder's own and CURL's, both at ``curl_lr``), each with its own moments, and both step on every CURL loss.
    curl_encoder_steps: int = 1

    def __post_init__(self) -> None:
        for name in ("image_size", "feature_dim", "filters", "conv_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"FERM setting {name} must be >= 1, got {getattr(self, name)}")
        if self.curl_encoder_steps not in (1, 2):
            raise ValueError(f"FERM curl_encoder_steps must be 1 or 2, got {self.curl_encoder_steps}")
        if not 0 < self.encoder_tau <= 1 or not self.curl_lr > 0 or not math.isfinite(self.curl_lr):
            raise ValueError(f"FERM encoder_tau must be in (0, 1] and curl_lr > 0, got {self.encoder_tau}, "
                             f"{self.curl_lr}")  # fmt: skip


# -------------------------------------------------------------------------------------------- agent
class FERMActor(nn.Module):
    """What acts: the conv trunk (the critic's weights), the actor's projection and its squashed Gaussian, with
    the proprioception normalised by the demonstrations (``p_shift``, ``p_scale``). Input: frame stacks cropped to
    ``image_size`` and proprioception."""

    def __init__(
        self, trunk: ConvTrunk, feature_dim: int, proprio_dim: int, act_dim: int, hidden: tuple[int, ...],
        log_std_max: float = LOG_STD_MAX, log_std_min: float = LOG_STD_MIN, encoder_tanh: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.trunk = trunk
        self.proj = Projection(trunk.out_dim, feature_dim, encoder_tanh)
        # the FERM code's log pi (squash's log_det_eps): each saturated dimension's term is bounded
        self.pi = SquashedGaussianActor(feature_dim + proprio_dim, act_dim, hidden, log_std_max, 1e-6, log_std_min)
        self.register_buffer("p_shift", torch.zeros(proprio_dim))
        self.register_buffer("p_scale", torch.ones(proprio_dim))

    def normalize_proprio(self, proprio: torch.Tensor) -> torch.Tensor:
        return (proprio - self.p_shift) / self.p_scale

    def features(self, frames: torch.Tensor, proprio: torch.Tensor, detach_trunk: bool = True) -> torch.Tensor:
        h = self.trunk(frames)
        return torch.cat([self.proj(h.detach() if detach_trunk else h), self.normalize_proprio(proprio)], -1)


class FERMAgent:
    """The FERM learner: critic encoder + twin Q, their targets, the actor (sharing the critic's conv trunk), CURL's
    ``W``, the temperature, their optimisers and the generator of crops and policy noise in updates."""

    def __init__(self, channels: int, proprio_dim: int, act_dim: int, cfg: FERMConfig, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.cfg, sac = cfg, cfg.sac
        self.trunk = ConvTrunk(channels, cfg.image_size, cfg.filters, cfg.conv_layers)
        self.proj = Projection(self.trunk.out_dim, cfg.feature_dim, cfg.encoder_tanh)
        self.critic = TwinQ(cfg.feature_dim + proprio_dim, act_dim, sac.hidden, sac.critic_layer_norm)
        self.target_trunk, self.target_proj = copy.deepcopy(self.trunk), copy.deepcopy(self.proj)
        self.critic_target = copy.deepcopy(self.critic)
        self.actor = FERMActor(self.trunk, cfg.feature_dim, proprio_dim, act_dim, sac.hidden, sac.log_std_max,
                               sac.log_std_min, cfg.encoder_tanh)
        for module in (self.trunk, self.proj, self.critic, self.actor.proj, self.actor.pi):
            module.apply(delta_orthogonal_init)
        self.target_trunk.load_state_dict(self.trunk.state_dict())
        self.target_proj.load_state_dict(self.proj.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.w = nn.Parameter(torch.rand(cfg.feature_dim, cfg.feature_dim))
        self.log_alpha = torch.tensor(math.log(sac.init_temperature), requires_grad=True)
        self.target_entropy = sac.target_entropy_per_dim * act_dim
        encoder = [*self.trunk.parameters(), *self.proj.parameters()]
        self.critic_opt = torch.optim.Adam([*self.critic.parameters(), *encoder], lr=sac.lr)
        self.actor_opt = torch.optim.Adam([*self.actor.proj.parameters(), *self.actor.pi.parameters()], lr=sac.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=sac.alpha_lr, betas=(sac.alpha_beta, 0.999))
        self.curl_opt = torch.optim.Adam([*encoder, self.w], lr=cfg.curl_lr)
        # FERM's code's second optimiser of the encoder alone, stepped on the same CURL gradient (curl_encoder_steps)
        self.curl_encoder_opt = torch.optim.Adam(encoder, lr=cfg.curl_lr) if cfg.curl_encoder_steps == 2 else None
        self.updates = 0
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    def _critic_in(self, frames: torch.Tensor, proprio: torch.Tensor, target: bool = False) -> torch.Tensor:
        trunk, proj = (self.target_trunk, self.target_proj) if target else (self.trunk, self.proj)
        return torch.cat([proj(trunk(frames)), self.actor.normalize_proprio(proprio)], -1)

    def _update_key_encoder(self) -> None:
        """The target (CURL key) encoder's Polyak step towards the critic's encoder."""
        soft_update(self.target_trunk, self.trunk, self.cfg.encoder_tau)
        soft_update(self.target_proj, self.proj, self.cfg.encoder_tau)

    def _crop(self, frames: torch.Tensor) -> torch.Tensor:
        return random_crop(frames, self.cfg.image_size, self.generator)

    def update_curl(self, frames: torch.Tensor) -> float:
        """One CURL step on a batch of (uncropped) frame stacks; then the key encoder's momentum update."""
        z_a = self.proj(self.trunk(self._crop(frames)))
        with torch.no_grad():
            z_pos = self.target_proj(self.target_trunk(self._crop(frames)))
        loss = curl_loss(z_a, z_pos, self.w)
        self.curl_opt.zero_grad()
        loss.backward()
        if self.curl_encoder_opt is not None:
            self.curl_encoder_opt.step()
        self.curl_opt.step()
        self._update_key_encoder()
        return float(loss.detach())

    def update(self, batch: dict[str, torch.Tensor], train_actor: bool = True) -> dict[str, float]:
        """One SAC step on randomly cropped frames (``batch``: frames, proprio, act, rew, next_frames,
        next_proprio, done); every ``actor_update_every``-th also an actor and temperature step (none while
        ``train_actor`` is False, as :meth:`rrl.algos.sac.SACAgent.update`), every
        ``target_update_every``-th the critic's and the encoder's target steps (after the actor's)."""
        sac = self.cfg.sac
        obs, nxt = self._crop(batch["frames"]), self._crop(batch["next_frames"])
        alpha = self.alpha.detach()
        with torch.no_grad():  # y = r + gamma (1 - d) (min_i Q'_i(s', a') - alpha log pi(a'|s')), a' ~ pi(s')
            next_act, next_logp = self.actor.pi.sample(self.actor.features(nxt, batch["next_proprio"]), self.generator)
            q1_t, q2_t = self.critic_target(self._critic_in(nxt, batch["next_proprio"], target=True), next_act)
            y = batch["rew"] + sac.gamma * (1 - batch["done"]) * (torch.min(q1_t, q2_t) - alpha * next_logp)
        loss_q = critic_loss({"obs": self._critic_in(obs, batch["proprio"]), "act": batch["act"]}, self.critic, y)
        self.critic_opt.zero_grad()
        loss_q.backward()
        self.critic_opt.step()
        out = {"critic_loss": float(loss_q.detach()), "alpha": float(alpha), "q_target": float(y.mean())}
        self.updates += 1
        if train_actor and self.updates % sac.actor_update_every == 0:
            p = self.actor.normalize_proprio(batch["proprio"])
            with torch.no_grad():
                h = self.trunk(obs)  # the actor and the critic see the same conv output; no gradient into it
                critic_feat = torch.cat([self.proj(h), p], -1)
            feat = torch.cat([self.actor.proj(h), p], -1)

            def loss_fn() -> tuple[torch.Tensor, torch.Tensor]:
                act, logp = self.actor.pi.sample(feat, self.generator)
                q1_pi, q2_pi = self.critic(critic_feat, act)
                return (alpha * logp - torch.min(q1_pi, q2_pi)).mean(), logp

            out.update(policy_step(loss_fn, self.critic, self.actor_opt, self.log_alpha, self.alpha_opt,
                                   self.target_entropy, sac.learn_temperature))  # fmt: skip
            out.update(policy_spread(self.actor.pi, feat.detach()))
        if self.updates % sac.target_update_every == 0:
            soft_update(self.critic_target, self.critic, sac.tau)
            self._update_key_encoder()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "trunk": self.trunk.state_dict(), "proj": self.proj.state_dict(), "critic": self.critic.state_dict(),
            "target_trunk": self.target_trunk.state_dict(), "target_proj": self.target_proj.state_dict(),
            "critic_target": self.critic_target.state_dict(), "actor": self.actor.state_dict(),
            "w": self.w.detach().clone(), "log_alpha": self.log_alpha.detach().clone(),
            "critic_opt": self.critic_opt.state_dict(), "actor_opt": self.actor_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(), "curl_opt": self.curl_opt.state_dict(),
            "updates": self.updates, "generator": self.generator.get_state(),
            **({"curl_encoder_opt": self.curl_encoder_opt.state_dict()} if self.curl_encoder_opt else {}),
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("trunk", "proj", "critic", "target_trunk", "target_proj", "critic_target", "actor"):
            getattr(self, name).load_state_dict(state[name])
        with torch.no_grad():
            self.w.copy_(state["w"])
            self.log_alpha.copy_(state["log_alpha"])
        for name in ("critic_opt", "actor_opt", "alpha_opt", "curl_opt"):
            getattr(self, name).load_state_dict(state[name])
        if self.curl_encoder_opt is not None and "curl_encoder_opt" in state:
            self.curl_encoder_opt.load_state_dict(state["curl_encoder_opt"])
        self.alpha_opt.param_groups[0]["betas"] = (self.cfg.sac.alpha_beta, 0.999)  # the config's, not the saved
        self.updates = int(state["updates"])
        self.generator.set_state(state["generator"])


# ------------------------------------------------------------------------------------------- replay
class FrameReplay:
    """Whole trajectories of uint8 frame stacks ``(C, H, W)``, proprioception, actions and rewards in a ring of
    ``capacity`` steps. Each frame is stored once: step ``i``'s successor is row ``i + 1`` (trajectories are
    written whole and in order, so that row is always the same trajectory's next step, or the trajectory ended
    and ``i`` is never sampled). Memory: ``capacity * (C H W + 4 (proprio + action + 2))`` bytes."""

    def __init__(self, capacity: int, frame_shape: tuple[int, int, int], proprio_dim: int, act_dim: int) -> None:
        if capacity < 2:
            raise ValueError(f"replay capacity must be >= 2 steps, got {capacity}")
        self.capacity, self.size, self.pos, self.written = capacity, 0, 0, 0
        self.frames = np.zeros((capacity, *frame_shape), np.uint8)
        self.proprio = np.zeros((capacity, proprio_dim), np.float32)
        self.act = np.zeros((capacity, act_dim), np.float32)
        self.rew = np.zeros(capacity, np.float32)
        self.has_next = np.zeros(capacity, bool)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.frames, self.proprio, self.act, self.rew, self.has_next))

    @staticmethod
    def bytes_per_step(frame_shape: tuple[int, int, int], proprio_dim: int, act_dim: int) -> int:
        return int(np.prod(frame_shape)) + 4 * (proprio_dim + act_dim + 1) + 1

    def add_trajectory(self, frames: np.ndarray, proprio: np.ndarray, act: np.ndarray, rew: np.ndarray) -> None:
        """Append one trajectory (``T`` steps; its last step has no successor and is never sampled)."""
        n = len(frames)
        if not len(proprio) == len(act) == len(rew) == n:
            raise ValueError(f"trajectory parts differ in length: {n}, {len(proprio)}, {len(act)}, {len(rew)}")
        if n > self.capacity:
            raise ValueError(f"a trajectory of {n} steps does not fit a replay of {self.capacity}")
        idx = (self.pos + np.arange(n)) % self.capacity
        self.frames[idx], self.proprio[idx], self.act[idx], self.rew[idx] = frames, proprio, act, rew
        self.has_next[idx] = np.arange(n) < n - 1
        self.skip(n)

    def skip(self, n: int) -> None:
        """Advance the write position by ``n`` steps without data (a resume that reloads only the steps still
        held, after the steps that were overwritten)."""
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)
        self.written += n

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """``batch_size`` transitions drawn uniformly from the steps that have a successor."""
        valid = np.flatnonzero(self.has_next[: self.size])
        if len(valid) == 0:
            raise ValueError("the replay holds no transition yet (every trajectory needs >= 2 steps)")
        i = valid[rng.integers(0, len(valid), size=batch_size)]
        j = (i + 1) % self.capacity
        return {
            "frames": torch.from_numpy(self.frames[i]), "proprio": torch.from_numpy(self.proprio[i]),
            "act": torch.from_numpy(self.act[i]), "rew": torch.from_numpy(self.rew[i]),
            "next_frames": torch.from_numpy(self.frames[j]), "next_proprio": torch.from_numpy(self.proprio[j]),
            "done": torch.zeros(batch_size),
        }  # fmt: skip
