"""The published DAPG expert policies as small numpy objects.

Each ``policies/<task>-v0.pickle`` of hand_dapg holds an mjrl Gaussian MLP: an ``FCNetwork`` (tanh hidden layers,
linear output) with input and output normalisation, plus a state-independent ``log_std``. :class:`ExpertPolicy`
reproduces its mean action

    z_0 = (s - in_shift) / (in_scale + 1e-8),  z_{i+1} = tanh(W_i z_i + b_i),
    a = (W_L z_L + b_L) * out_scale + out_shift

and samples ``a + exp(log_std) * eps`` for the stochastic policy (DAPG's pi_theta, paper Eq. 4).
The file is read with :mod:`rrl.demos.safe_pickle`: nothing in it is executed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rrl.demos.safe_pickle import InertObject, safe_load
from rrl.tasks import get_task

_NONLINEARITIES = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0)}
_NORM_EPS = 1e-8  # mjrl adds this to in_scale before dividing


@dataclass(frozen=True, eq=False)
class ExpertPolicy:
    """Gaussian MLP policy with mjrl's input/output scaling. All arrays float64 copies of the file's float32 values.

    Attributes:
        weights, biases: per layer, ``weights[i]`` has shape (out, in) like ``torch.nn.Linear``.
        in_shift, in_scale: observation normalisation; out_shift, out_scale: action de-normalisation.
        log_std: per action dimension log standard deviation of the Gaussian.
        nonlinearity: hidden-layer activation name (``tanh`` in every published file).
        task: task the policy was trained for (``None`` if unknown); source: file it came from.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    in_shift: np.ndarray
    in_scale: np.ndarray
    out_shift: np.ndarray
    out_scale: np.ndarray
    log_std: np.ndarray
    nonlinearity: str = "tanh"
    task: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"unsupported nonlinearity {self.nonlinearity!r}; supported: {', '.join(_NONLINEARITIES)}")
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError("an expert policy needs one bias per weight matrix and at least one layer")
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if w.ndim != 2 or b.shape != (w.shape[0],):
                raise ValueError(f"layer {i}: weight {w.shape} and bias {b.shape} do not fit together")
            if i and w.shape[1] != self.weights[i - 1].shape[0]:
                prev = self.weights[i - 1].shape[0]
                raise ValueError(f"layer {i} expects {w.shape[1]} inputs, previous layer gives {prev}")
        for name, dim in (("in_shift", self.obs_dim), ("in_scale", self.obs_dim), ("out_shift", self.act_dim),
                          ("out_scale", self.act_dim), ("log_std", self.act_dim)):  # fmt: skip
            if getattr(self, name).shape != (dim,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected ({dim},)")

    @property
    def obs_dim(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def act_dim(self) -> int:
        return int(self.weights[-1].shape[0])

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.obs_dim, *(int(w.shape[0]) for w in self.weights))

    def mean_action(self, obs: np.ndarray) -> np.ndarray:
        """Mean action for one observation (obs_dim,) or a batch (N, obs_dim); float64."""
        x = np.asarray(obs, dtype=np.float64)
        if x.shape[-1] != self.obs_dim:
            who = f"the {self.task} expert" if self.task else "the expert"
            raise ValueError(f"observation has {x.shape[-1]} entries, {who} expects {self.obs_dim}")
        act = _NONLINEARITIES[self.nonlinearity]
        z = (x - self.in_shift) / (self.in_scale + _NORM_EPS)
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            z = act(z @ w.T + b)
        out = z @ self.weights[-1].T + self.biases[-1]
        return out * self.out_scale + self.out_shift

    __call__ = mean_action

    def sample_action(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Gaussian sample ``mean + exp(log_std) * eps`` (the stochastic expert)."""
        mean = self.mean_action(obs)
        return mean + np.exp(self.log_std) * rng.standard_normal(mean.shape)

    @classmethod
    def from_mjrl(cls, obj: Any, task: str | None = None, source: str = "") -> ExpertPolicy:
        """Build from the inert stand-in of an ``mjrl.policies.gaussian_mlp.MLP`` returned by ``safe_load``."""
        where = source or "pickle"
        if not isinstance(obj, InertObject) or not obj.qualname.startswith("mjrl.policies."):
            found = getattr(obj, "qualname", type(obj).__name__)
            raise ValueError(f"{where}: expected a pickled mjrl policy, found {found}")
        try:
            model = obj.attr("model")
            layers = model.attr("_modules")["fc_layers"].attr("_modules")
            weights = tuple(_f64(layer.attr("_parameters")["weight"]) for layer in layers.values())
            biases = tuple(_f64(layer.attr("_parameters")["bias"]) for layer in layers.values())
            nonlin = getattr(model.attr("nonlinearity"), "qualname", "").rsplit(".", 1)[-1]
            return cls(
                weights=weights,
                biases=biases,
                in_shift=_f64(model.attr("in_shift")),
                in_scale=_f64(model.attr("in_scale")),
                out_shift=_f64(model.attr("out_shift")),
                out_scale=_f64(model.attr("out_scale")),
                log_std=_f64(obj.attr("log_std")),
                nonlinearity=nonlin,
                task=task,
                source=source,
            )
        except (KeyError, AttributeError, TypeError) as err:
            raise ValueError(f"{where}: mjrl policy lacks an expected field ({err})") from err


def _f64(x: Any) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"expected an array, found {type(x).__name__}")
    return np.array(x, dtype=np.float64)  # copy: detaches from the storage buffer


def expert_policy_path(task: str) -> Path:
    """``<hand_dapg>/policies/<task>-v0.pickle`` (see :func:`rrl.paths.hand_dapg_dir`)."""
    from rrl.paths import hand_dapg_dir

    get_task(task)
    return hand_dapg_dir() / "policies" / f"{task}-v0.pickle"


def load_expert_policy(task: str, path: str | Path | None = None) -> ExpertPolicy:
    """Load the published DAPG expert of ``task`` (or the mjrl policy pickle at ``path``) without executing it."""
    path = Path(path) if path is not None else expert_policy_path(task)
    policy = ExpertPolicy.from_mjrl(safe_load(path), task=task, source=str(path))
    return policy
