"""Value-function baseline ``V(s, t)`` regressed on discounted returns (Algorithm 1, line 14; appendix 7.1).

An MLP (ReLU, default (128, 128) as in mjrl's ``MLPBaseline``) on the policy input plus time features
``(t / horizon)^j, j = 1..4`` (the horizon is finite, so the value depends on the time left). Trained with
Adam (lr 1e-3, weight decay 1e-3 as in the DAPG job script), minibatches of 64, 2 epochs per iteration.

Two details the paper leaves open, chosen for robustness:

* inputs are standardised with the mean/std of the first batch the baseline is fitted on (then frozen), so
  state vectors and encoder features both arrive with unit scale;
* targets are standardised too, and when the target statistics change the last layer is rescaled so that
  the predictions before the fit are unchanged ("preserve outputs", as in PopArt). Sparse-reward returns reach
  ~2000; without this, 2 epochs of Adam at lr 1e-3 need many iterations just to reach that scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

N_TIME_FEATURES = 4


class ValueBaseline:
    """MLP value function ``V(s, t)`` with its own Adam optimiser (checkpointed together).

    Args:
        obs_dim: size of the policy input vector.
        horizon: episode length used to scale the time features.
        hidden_sizes: hidden ReLU layer widths.
        lr, weight_decay: Adam settings. batch_size, epochs: minibatch regression schedule per :meth:`fit`.
    """

    def __init__(
        self,
        obs_dim: int,
        horizon: int,
        hidden_sizes: Sequence[int] = (128, 128),
        lr: float = 1e-3,
        weight_decay: float = 1e-3,
        batch_size: int = 64,
        epochs: int = 2,
    ) -> None:
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.obs_dim, self.horizon = int(obs_dim), int(horizon)
        self.batch_size, self.epochs = int(batch_size), int(epochs)
        layers: list[nn.Module] = []
        sizes = (self.obs_dim + N_TIME_FEATURES, *[int(h) for h in hidden_sizes])
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], 1))
        self.model = nn.Sequential(*layers)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
        # normalisation statistics (fitted on first use)
        self.fitted = False
        self.in_shift = torch.zeros(self.obs_dim)
        self.in_scale = torch.ones(self.obs_dim)
        self.ret_shift = 0.0
        self.ret_scale = 1.0

    # --------------------------------------------------------------------------------------- features
    def features(self, observations: np.ndarray, timesteps: np.ndarray) -> torch.Tensor:
        """Standardised observations plus time features: (N, obs_dim + 4) float32."""
        obs = torch.as_tensor(np.asarray(observations, dtype=np.float32))
        obs = ((obs - self.in_shift) / self.in_scale).clamp_(-10.0, 10.0)
        t = torch.as_tensor(np.asarray(timesteps, dtype=np.float32) / self.horizon).unsqueeze(1)
        time_feats = torch.cat([t**j for j in range(1, N_TIME_FEATURES + 1)], dim=1)
        return torch.cat([obs, time_feats], dim=1)

    @torch.no_grad()
    def predict(self, observations: np.ndarray, timesteps: np.ndarray) -> np.ndarray:
        """Value estimates (N,) float64. An unfitted baseline predicts 0."""
        if not self.fitted:
            return np.zeros(len(observations))
        out = self.model(self.features(observations, timesteps)).squeeze(1)
        return (out.double() * self.ret_scale + self.ret_shift).numpy()

    # -------------------------------------------------------------------------------------------- fit
    def _update_target_stats(self, returns: np.ndarray) -> None:
        shift, scale = float(returns.mean()), float(max(returns.std(), 1e-6))
        if self.fitted:  # preserve outputs: new_shift + new_scale * out' == old_shift + old_scale * out
            last = self.model[-1]
            with torch.no_grad():
                last.weight.mul_(self.ret_scale / scale)
                last.bias.mul_(self.ret_scale).add_(self.ret_shift - shift).div_(scale)
        self.ret_shift, self.ret_scale = shift, scale

    def fit(
        self, observations: np.ndarray, timesteps: np.ndarray, returns: np.ndarray, rng: np.random.Generator
    ) -> dict[str, float]:
        """Regress on discounted returns; returns relative squared errors before and after the fit.

        ``error = sum((R - V)^2) / sum(R^2)``, the statistic mjrl logs. Minibatch order comes from ``rng``.
        """
        returns = np.asarray(returns, dtype=np.float64)
        if not self.fitted:
            obs64 = np.asarray(observations, dtype=np.float64)
            self.in_shift = torch.as_tensor(obs64.mean(axis=0), dtype=torch.float32)
            self.in_scale = torch.as_tensor(
                np.where(obs64.std(axis=0) < 1e-6, 1.0, obs64.std(axis=0)), dtype=torch.float32
            )
        denom = float(np.sum(returns**2)) + 1e-8
        error_before = float(np.sum((returns - self.predict(observations, timesteps)) ** 2)) / denom
        self._update_target_stats(returns)
        self.fitted = True
        x = self.features(observations, timesteps)
        y = torch.as_tensor(((returns - self.ret_shift) / self.ret_scale).astype(np.float32)).unsqueeze(1)
        n = len(y)
        n_batches = max(n // self.batch_size, 1)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # minibatches of 64 are overhead-bound: extra threads only add waiting
        try:
            for _ in range(self.epochs):
                perm = torch.as_tensor(rng.permutation(n))
                xs, ys = x[perm], y[perm]
                for b in range(n_batches):
                    sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
                    loss = torch.mean((self.model(xs[sl]) - ys[sl]) ** 2)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
        finally:
            torch.set_num_threads(threads)
        error_after = float(np.sum((returns - self.predict(observations, timesteps)) ** 2)) / denom
        return {"vf_error_before": error_before, "vf_error_after": error_after}

    # ------------------------------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "fitted": self.fitted,
            "in_shift": self.in_shift.clone(),
            "in_scale": self.in_scale.clone(),
            "ret_shift": self.ret_shift,
            "ret_scale": self.ret_scale,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint; the Adam moments come from it, the learning rate and weight decay from this
        baseline's settings (``load_state_dict`` alone would bring back the checkpoint's and ignore a changed
        ``vf_lr`` / ``vf_weight_decay`` on resume)."""
        hyper = [{"lr": g["lr"], "weight_decay": g["weight_decay"]} for g in self.optimizer.param_groups]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group, h in zip(self.optimizer.param_groups, hyper):
            group.update(h)
        self.fitted = bool(state["fitted"])
        self.in_shift = state["in_shift"].clone()
        self.in_scale = state["in_scale"].clone()
        self.ret_shift = float(state["ret_shift"])
        self.ret_scale = float(state["ret_scale"])

    def parameters_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
