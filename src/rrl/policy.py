"""Gaussian MLP policy ``pi(a | s) = N(mu_theta(s), diag(exp(log_std))^2)`` (paper section 3.2, appendix 7.1).

The mean is a tanh MLP (paper: hidden sizes (256, 256)); the log standard deviation is a learnable vector that
does not depend on the state. As in the public DAPG code (the paper is silent on this), the network works in
normalised coordinates: inputs are shifted and scaled by the demonstrations' observation mean/std and outputs
by the demonstrations' action mean/std, and the initial log-std is the log of the demonstrations' per-dimension
action std. Without this, exploration noise of std 1 makes every sparse-reward rollout fail.

The policy input is whatever vector the sampler's observation featurizer produces: the state vector here,
``[encoder(frames), proprioception]`` for RRL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

_LOG_2PI = math.log(2.0 * math.pi)
CONSTANT_STD = 1e-6  # an input whose std is below this is treated as constant (scale 1, no scale floor)


def _safe_scale(std: np.ndarray) -> np.ndarray:
    """Std used as a divisor: constant dimensions (std < CONSTANT_STD) get scale 1 instead of blowing up."""
    return np.where(std < CONSTANT_STD, 1.0, std)


class GaussianMLP(nn.Module):
    """Diagonal Gaussian policy with a tanh MLP mean and a state-independent learnable log-std.

    Args:
        obs_dim: size of the policy input vector.
        act_dim: size of the action vector.
        hidden_sizes: widths of the hidden tanh layers (paper: (256, 256)).
        init_log_std: initial value of every log-std entry (overwritten by :meth:`fit_to_demos`).
        min_log_std: lower bound applied to the log-std at initialisation and after every update
            (as in mjrl; keeps a little exploration in every action dimension).
        pca_components: when > 0, the first layer sees that many whitened principal components of the leading
            ``obs_dim - pca_tail`` (normalised) inputs instead of those inputs, followed by the ``pca_tail``
            trailing ones raw; the projection is fitted on the demonstrations by :meth:`fit_to_demos` and fixed.
        pca_tail: trailing inputs left out of the projection (e.g. the proprioception after image features).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden_sizes: Sequence[int] = (256, 256),
        init_log_std: float = 0.0,
        min_log_std: float = -3.0,
        pca_components: int = 0,
        pca_tail: int = 0,
    ) -> None:
        super().__init__()
        if obs_dim < 1 or act_dim < 1:
            raise ValueError(f"obs_dim and act_dim must be positive, got {obs_dim} and {act_dim}")
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.min_log_std = float(min_log_std)
        self.pca_components, self.pca_tail = int(pca_components), int(pca_tail)
        self.n_projected = self.obs_dim - self.pca_tail  # leading inputs the input PCA projects
        if self.pca_components and not (0 <= self.pca_tail < self.obs_dim and self.pca_components <= self.n_projected):
            raise ValueError(
                f"input PCA keeps {self.pca_components} components of the first {self.n_projected} of {self.obs_dim} "
                f"inputs (pca_tail {self.pca_tail}); need 0 <= pca_tail < obs_dim and components <= that number"
            )
        layers: list[nn.Module] = []
        sizes = (self.pca_components + self.pca_tail if self.pca_components else self.obs_dim, *self.hidden_sizes)
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.Tanh()]
        last = nn.Linear(sizes[-1], self.act_dim)
        with torch.no_grad():  # start with a nearly constant mean (= out_shift), as mjrl does
            last.weight.mul_(0.01)
            last.bias.zero_()
        layers.append(last)
        self.net = nn.Sequential(*layers)
        self.log_std = nn.Parameter(torch.full((self.act_dim,), float(init_log_std)))
        self.register_buffer("in_shift", torch.zeros(self.obs_dim))
        self.register_buffer("in_scale", torch.ones(self.obs_dim))
        self.register_buffer("out_shift", torch.zeros(self.act_dim))
        self.register_buffer("out_scale", torch.ones(self.act_dim))
        if self.pca_components:  # identity-like until fit_to_demos; only present with PCA (older checkpoints)
            self.register_buffer("in_proj", torch.eye(self.n_projected, self.pca_components))
        self.clamp_log_std()

    # ----------------------------------------------------------------------------------------------- setup
    @torch.no_grad()
    def fit_to_demos(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        set_log_std: bool = True,
        scale_floor: float | np.ndarray = 0.0,
    ) -> None:
        """Fit input/output shift-scale to demonstration data; set log-std to log(action std) per dimension.

        ``scale_floor`` (scalar or per input dimension): lower bound of the input scale of non-constant
        dimensions. An input that barely moves in the demos (e.g. an image feature with std 1e-4) would
        otherwise be multiplied by 1e4, and its on-policy variation would saturate the first layer.
        """
        observations = np.asarray(observations, dtype=np.float64)
        actions = np.asarray(actions, dtype=np.float64)
        if observations.ndim != 2 or observations.shape[1] != self.obs_dim:
            raise ValueError(f"demo observations must have shape (N, {self.obs_dim}), got {observations.shape}")
        if actions.ndim != 2 or actions.shape[1] != self.act_dim or len(actions) != len(observations):
            raise ValueError(
                f"demo actions must have shape ({len(observations)}, {self.act_dim}), got {actions.shape}"
            )
        if len(observations) < 2:
            raise ValueError(f"need at least 2 demonstration samples to fit scales, got {len(observations)}")
        act_std, obs_mean = actions.std(axis=0), observations.mean(axis=0)
        self.in_shift.copy_(torch.as_tensor(obs_mean))
        in_std = observations.std(axis=0)
        floored = np.where(in_std < CONSTANT_STD, in_std, np.maximum(in_std, scale_floor))
        self.in_scale.copy_(torch.as_tensor(_safe_scale(floored)))
        if self.pca_components:  # on the inputs as the network normalises them (float32 scale)
            n = self.n_projected
            z = (observations[:, :n] - obs_mean[:n]) / self.in_scale[:n].numpy().astype(np.float64)
            self.in_proj.copy_(torch.as_tensor(whitened_pca(z, self.pca_components)))
        self.out_shift.copy_(torch.as_tensor(actions.mean(axis=0)))
        self.out_scale.copy_(torch.as_tensor(_safe_scale(act_std)))
        if set_log_std:
            self.log_std.copy_(torch.as_tensor(np.log(np.maximum(act_std, 1e-12))))
            self.clamp_log_std()

    @torch.no_grad()
    def clamp_log_std(self) -> None:
        self.log_std.clamp_(min=self.min_log_std)

    # ------------------------------------------------------------------------------------------- forward
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Mean action ``mu_theta(s)`` for a batch of policy inputs (N, obs_dim) -> (N, act_dim)."""
        z = (obs - self.in_shift) / self.in_scale
        if self.pca_components:
            n = self.n_projected
            z = torch.cat([z[..., :n] @ self.in_proj, z[..., n:]], dim=-1)
        return self.out_shift + self.out_scale * self.net(z)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a | s)`` for every row, vectorised over the batch: (N,)."""
        return gaussian_log_prob(self(obs), self.log_std, actions)

    def mean_params(self) -> list[nn.Parameter]:
        """Parameters of the mean network (everything but ``log_std``)."""
        return list(self.net.parameters())

    def trainable_mask(self, frozen_layers: int = 0) -> torch.Tensor:
        """Flat 0/1 vector (order of :meth:`flat_param_list`) with 0 on the weights and biases of the first
        ``frozen_layers`` linear layers of the mean network and 1 elsewhere (``log_std`` always 1)."""
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        if not 0 <= frozen_layers < len(linears):
            raise ValueError(
                f"frozen_layers must be in [0, {len(linears) - 1}] for a policy with {len(linears) - 1} hidden "
                f"layers (the output layer always learns), got {frozen_layers}"
            )
        frozen = {id(p) for m in linears[:frozen_layers] for p in m.parameters()}
        return torch.cat([torch.full((p.numel(),), 0.0 if id(p) in frozen else 1.0) for p in self.flat_param_list()])

    def flat_param_list(self) -> list[nn.Parameter]:
        """The parameters in the order of every flat vector (gradients, Fisher products, steps): mean network
        first, then ``log_std``. (``self.parameters()`` lists ``log_std`` first; do not use it for flat vectors.)"""
        return [*self.mean_params(), self.log_std]

    # ----------------------------------------------------------------------------------- numpy helpers
    @torch.no_grad()
    def mean_numpy(self, obs: np.ndarray) -> np.ndarray:
        """Mean action for numpy inputs (float32 out), no gradient."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        return self(x).numpy()

    def numpy_actor(self) -> NumpyGaussianActor:
        """A numpy snapshot of the current policy for the samplers (see :class:`NumpyGaussianActor`)."""
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        return NumpyGaussianActor(
            weights=[m.weight.detach().numpy().T.copy() for m in linears],
            biases=[m.bias.detach().numpy().copy() for m in linears],
            in_shift=self.in_shift.numpy().copy(),
            in_scale=self.in_scale.numpy().copy(),
            out_shift=self.out_shift.numpy().copy(),
            out_scale=self.out_scale.numpy().copy(),
            log_std=self.log_std.detach().numpy().astype(np.float64),
            in_proj=self.in_proj.numpy().copy() if self.pca_components else None,
        )

    # ------------------------------------------------------------------------------- flat parameter API
    def flat_params(self) -> torch.Tensor:
        return nn.utils.parameters_to_vector(self.flat_param_list()).detach().clone()

    @torch.no_grad()
    def set_flat_params(self, flat: torch.Tensor) -> None:
        nn.utils.vector_to_parameters(flat, self.flat_param_list())
        self.clamp_log_std()

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def whitened_pca(z: np.ndarray, k: int) -> np.ndarray:
    """Projection (d, k) onto the ``k`` leading principal components of the centred rows ``z`` (N, d), each
    scaled to unit variance on ``z``. Raises when ``z`` spans fewer than ``k`` directions."""
    if len(z) <= k:
        raise ValueError(f"input PCA with {k} components needs more than {k} demonstration samples, got {len(z)}")
    eigval, eigvec = np.linalg.eigh(z.T @ z / len(z))  # ascending
    eigval, eigvec = eigval[::-1][:k], eigvec[:, ::-1][:, :k]
    eigvec = eigvec * np.where(eigvec.sum(axis=0) < 0, -1.0, 1.0)  # a fixed sign per component
    if eigval[-1] <= 1e-10 * max(eigval[0], 1e-300):
        rank = int((eigval > 1e-10 * eigval[0]).sum())
        raise ValueError(
            f"the demonstrations' policy inputs span only {rank} directions; use input_pca <= {rank} "
            f"(asked for {k})"
        )
    return eigvec / np.sqrt(eigval)


def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Log density of a diagonal Gaussian, summed over the action dimensions: (N,)."""
    z = (actions - mean) * torch.exp(-log_std)
    return -0.5 * (z * z).sum(-1) - log_std.sum() - 0.5 * mean.shape[-1] * _LOG_2PI


def gaussian_log_prob_numpy(mean: np.ndarray, log_std: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`gaussian_log_prob` used by the samplers."""
    z = (actions - mean) * np.exp(-log_std)
    return -0.5 * np.sum(z * z, axis=-1) - np.sum(log_std) - 0.5 * mean.shape[-1] * _LOG_2PI


def gaussian_kl(
    mean_old: torch.Tensor, log_std_old: torch.Tensor, mean_new: torch.Tensor, log_std_new: torch.Tensor
) -> torch.Tensor:
    """``KL(N_old || N_new)`` per row for diagonal Gaussians: (N,)."""
    var_old, var_new = torch.exp(2 * log_std_old), torch.exp(2 * log_std_new)
    per_dim = log_std_new - log_std_old + (var_old + (mean_old - mean_new) ** 2) / (2 * var_new) - 0.5
    return per_dim.sum(-1)


class NumpyGaussianActor:
    """Frozen numpy copy of a :class:`GaussianMLP` used while sampling.

    Acting runs the policy on a handful of rows per environment step; numpy does that ~5x faster than torch on
    a busy CPU (no thread-pool start-up per op).
    """

    def __init__(
        self,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        in_shift: np.ndarray,
        in_scale: np.ndarray,
        out_shift: np.ndarray,
        out_scale: np.ndarray,
        log_std: np.ndarray,
        in_proj: np.ndarray | None = None,
    ) -> None:
        self.weights, self.biases = weights, biases
        self.in_proj = in_proj
        self.in_shift, self.in_scale = in_shift, in_scale
        self.out_shift, self.out_scale = out_shift, out_scale
        self.log_std = log_std

    def mean(self, obs: np.ndarray) -> np.ndarray:
        """Mean action (n, act_dim) float32 for policy inputs (n, obs_dim), computed row by row.

        Row by row (vector-matrix products) so that a row's result is bit-identical whatever the batch size:
        BLAS picks different kernels for different numbers of rows, and a last-bit difference in an action
        changes a MuJoCo trajectory. Sampled batches are thus the same for any number of workers.
        """
        return np.stack([self._mean_row(row) for row in self.normalize(obs)])

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        """The network's input ``z = (obs - in_shift) / in_scale`` (shift and scale fitted on the demonstrations),
        its leading part projected by ``in_proj`` when the policy has an input PCA."""
        z = (np.asarray(obs, dtype=np.float32) - self.in_shift) / self.in_scale
        if self.in_proj is None:
            return z
        n, z = len(self.in_proj), np.atleast_2d(z)
        projected = np.stack([row @ self.in_proj for row in z[:, :n]])  # row by row, as in mean()
        return np.concatenate([projected, z[:, n:]], axis=-1)

    def _mean_row(self, h: np.ndarray) -> np.ndarray:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < last:
                h = np.tanh(h)
        return self.out_shift + self.out_scale * h
