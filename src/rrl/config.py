"""Training configuration (:class:`TrainConfig`) and its command-line flags.

Kept free of torch so that ``rrl --help`` stays fast; :mod:`rrl.train` re-exports everything here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rrl.tasks import TaskSpec, get_task

ALGOS = ("dapg", "npg", "bc")
DEMO_WEIGHT_VARIANTS = ("paper", "mjrl")  # rrl.algos.dapg
FVP_PRECISIONS = ("float32", "bfloat16")  # rrl.algos.npg

# Fields that define what a run *is*; resume refuses to change them.
IDENTITY_FIELDS = (
    "task", "obs", "algo", "demos", "n_demos", "demo_seed", "seed", "trajectories", "horizon", "reward",
    "policy_size", "vf_size", "init_log_std", "min_log_std",
)  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run (paper appendix 7.1 defaults; DAPG paper for the rest).

    ``demos``: ``expert`` (25 rollouts of the published DAPG expert, cached), ``human`` (the 25 human door
    demonstrations), ``none``, or a path to a demo file; ``None`` picks ``expert`` for dapg/bc and ``none``
    for npg. ``init_log_std=None``: log of the demos' per-dimension action std (0 without demos).
    ``demo_weight``: ``paper`` (Eq. 9, ``lam_0 lam_1^k max A``) or ``mjrl`` (the public code's constant weight).
    ``fvp_sample_frac``: fraction of the samples used for Fisher-vector products; ``fvp_precision``:
    ``float32`` or ``bfloat16`` matrix products in them (see ``rrl.algos.npg``). ``workers``: environment
    processes. ``threads``: torch CPU threads (``None``: torch's default).
    """

    task: str = "door"
    obs: str = "state"
    algo: str = "dapg"
    demos: str | None = None
    n_demos: int = 25
    demo_seed: int = 0
    seed: int = 0
    iterations: int = 100
    trajectories: int = 200
    horizon: int | None = None
    reward: str = "sparse"
    policy_size: tuple[int, ...] = (256, 256)
    init_log_std: float | None = None
    min_log_std: float = -3.0
    bc_epochs: int = 5
    bc_batch_size: int = 32
    bc_lr: float = 1e-3
    vf_size: tuple[int, ...] = (128, 128)
    vf_batch_size: int = 64
    vf_epochs: int = 2
    vf_lr: float = 1e-3
    vf_weight_decay: float = 1e-3
    rl_step_size: float = 0.05
    rl_gamma: float = 0.995
    rl_gae: float = 0.97
    cg_iters: int = 10
    cg_damping: float = 1e-4
    fvp_sample_frac: float = 1.0
    fvp_precision: str = "float32"
    normalize_advantages: bool = True
    lam_0: float = 0.01
    lam_1: float = 0.95
    demo_weight: str = "paper"
    eval_episodes: int = 25
    eval_every: int = 1
    workers: int = 1
    threads: int | None = None
    out: str | None = None

    def __post_init__(self) -> None:
        get_task(self.task)
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; valid: {', '.join(ALGOS)}")
        if self.reward not in ("sparse", "dense"):
            raise ValueError(f"reward must be 'sparse' or 'dense', got {self.reward!r}")
        if self.demo_weight not in DEMO_WEIGHT_VARIANTS:
            raise ValueError(f"demo_weight must be one of {DEMO_WEIGHT_VARIANTS}, got {self.demo_weight!r}")
        demos = self.demos if self.demos is not None else ("none" if self.algo == "npg" else "expert")
        if self.algo in ("dapg", "bc") and demos == "none":
            raise ValueError(f"algo {self.algo!r} needs demonstrations; pass demos='expert', 'human' or a path")
        if demos == "human" and self.task != "door":
            raise ValueError(f"human demonstrations exist for door only, not {self.task!r}; use demos='expert'")
        object.__setattr__(self, "demos", demos)
        object.__setattr__(self, "policy_size", tuple(int(h) for h in self.policy_size))
        object.__setattr__(self, "vf_size", tuple(int(h) for h in self.vf_size))
        for name in ("iterations", "trajectories", "eval_every", "workers", "n_demos", "cg_iters"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_episodes < 0:
            raise ValueError(f"eval_episodes must be >= 0, got {self.eval_episodes}")
        if not 0.0 < self.fvp_sample_frac <= 1.0:
            raise ValueError(f"fvp_sample_frac must be in (0, 1], got {self.fvp_sample_frac}")
        if self.fvp_precision not in FVP_PRECISIONS:
            raise ValueError(f"fvp_precision must be one of {FVP_PRECISIONS}, got {self.fvp_precision!r}")
        if self.rl_step_size <= 0:
            raise ValueError(f"rl_step_size must be > 0, got {self.rl_step_size}")

    @property
    def task_spec(self) -> TaskSpec:
        return get_task(self.task)

    @property
    def effective_horizon(self) -> int:
        return self.horizon if self.horizon is not None else self.task_spec.horizon

    def default_out(self) -> str:
        return f"runs/{self.task}_{self.obs}_{self.algo}_{Path(self.demos).stem}_{self.reward}_s{self.seed}"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"config has unknown fields {sorted(unknown)}; was it written by another rrl version?")
        return TrainConfig(**d)


# ------------------------------------------------------------------------------------------------ CLI
def _field_parser(type_str: str):
    base = type_str.replace(" | None", "").strip()
    if base.startswith("tuple"):
        return lambda text: tuple(int(x) for x in str(text).split(",") if x.strip())
    return {"int": int, "float": float, "str": str}[base]


def add_config_arguments(parser: Any) -> None:
    """One ``--flag`` per :class:`TrainConfig` field (``policy_size`` -> ``--policy-size 256,256``).

    Every flag defaults to ``None`` (= keep the config's default, or the resumed run's value).
    """
    import argparse

    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if f.type == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"(default {default})")
            continue
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        parser.add_argument(flag, type=_field_parser(str(f.type)), default=None, metavar=f.name.upper(), help=f"(default {shown})")


def config_overrides(args: Any) -> dict[str, Any]:
    """The :class:`TrainConfig` fields given on the command line."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name, None) is not None}
