"""Training configuration (:class:`TrainConfig`) and its command-line flags.

Kept free of torch so that ``rrl --help`` stays fast; :mod:`rrl.train` re-exports everything here.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rrl.tasks import TaskSpec, get_task

ALGOS = ("dapg", "npg", "bc", "sac", "ferm")
DEMO_WEIGHT_VARIANTS = ("paper", "mjrl")  # rrl.algos.dapg
FVP_PRECISIONS = ("float32", "bfloat16")  # rrl.algos.npg
STEP_NORMS = ("gradient", "fisher")  # rrl.algos.npg.npg_step

# Fields that define what a run *is*; resume refuses to change them.
IDENTITY_FIELDS = (
    "task", "obs", "state_hide", "state_noise", "state_embed", "state_embed_keep", "algo", "demos", "n_demos",
    "demo_seed", "seed", "trajectories", "horizon", "reward", "policy_size", "input_pca", "critic_input",
    "vf_size", "init_log_std", "min_log_std", "encoder", "encoder_weights", "cameras",
    "render_size", "image_size", "proprio_noise", "proprio_arm", "multisample", "ferm_feature_dim",
)  # fmt: skip
BC_STAGE_FIELDS = ("bc_epochs", "bc_batch_size", "bc_lr", "feature_scale_floor")  # used once, before iteration 0
OBS_MODES = ("state", "rgb+proprio", "rgb")  # rrl.envs.OBS_MODES
REWARDS = ("sparse", "dense", "rrl_code")  # rrl.envs.rewards.REWARDS (not imported: it loads gymnasium)
SAMPLER_BACKENDS = ("local", "ray")
CRITIC_INPUTS = ("policy", "state")  # what the value baseline sees
PIXEL_FIELDS = ("encoder", "encoder_weights", "encoder_backend", "cameras", "render_size", "image_size")  # not state


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run (paper appendix 7.1 defaults; DAPG paper for the rest).

    ``state_hide``: parts of the state vector a state run does not see (``TaskSpec.state_layout`` names, e.g.
    ``handle_pos.z``), hidden from the policy, the baseline and the demonstrations alike. ``state_noise``:
    ``part=std`` entries (e.g. ``palm_pos.x=0.03``, metres): an offset drawn once per episode is added to those
    parts of the sampled states (training and evaluation; the demonstrations stay exact), to ask how precisely
    a state policy needs to know them (``rrl.envs.wrappers.StateNoise``). ``state_embed``: the policy sees that
    many fixed random ReLU features of the (visible) state instead of the state, standardised by the
    demonstrations and seeded by ``seed`` (``rrl.sampling.RandomStateFeatures``: the state's information in the
    form of pooled encoder features), followed by the raw parts ``state_embed_keep`` (e.g. ``hand_qpos``).
    ``input_pca``: when > 0, the policy's first layer sees that many whitened principal components (fitted on the
    demonstrations) of the features before ``raw_input_tail``, not the features (``GaussianMLP``).
    ``critic_input``: what the value baseline sees: ``policy`` (the policy's input, as in the paper) or
    ``state`` (the environment's full state vector, a privileged critic used in training only; the policy and
    evaluation never see it; parts hidden by ``state_hide`` are included, a ``state_noise`` offset is too).
    ``demos``: ``expert`` (25 rollouts of the published DAPG expert, cached), ``human`` (the 25 human door
    demonstrations), ``none``, or a path to a demo file; ``None`` picks ``expert`` for dapg/bc and ``none``
    for npg. ``init_log_std=None``: log of the demos' per-dimension action std (0 without demos).
    ``demo_weight``: ``paper`` (Eq. 9, ``lam_0 lam_1^k max A``) or ``mjrl`` (the public code's constant weight).
    ``step_norm``: how Eq. 6 measures the step ``d`` ~ ``F^-1 g`` from conjugate gradient: ``gradient``
    (``g^T d``, the paper) or ``fisher`` (``d^T F d`` with the undamped Fisher, so that the quadratic KL of the
    step is ``rl_step_size / 2`` also when ``cg_damping`` is large; the same as ``gradient`` for CG from zero
    without damping). ``rl_frozen_layers``: the first that many layers of the policy keep their BC weights in
    the RL updates (not in the paper; the natural gradient of the remaining parameters, see
    ``rrl.algos.npg.npg_step``'s ``trainable``). ``fvp_sample_frac``: fraction of the samples used for
    Fisher-vector products; ``fvp_precision``:
    ``float32`` or ``bfloat16`` matrix products in them (see ``rrl.algos.npg``). ``max_kl_ratio``: if the KL
    measured after a step exceeds ``max_kl_ratio * rl_step_size`` the step is halved until it does not (an rrl
    safety net, docs/algorithms.md; 0 turns it off, as in the paper). ``workers``: environment
    processes of the state sampler. ``threads``: torch CPU threads (``None``: torch's default).

    Pixel runs (``obs`` ``rgb+proprio``, the RRL input of Eq. 10, or ``rgb``): ``encoder`` (a name of
    ``rrl.encoders``; the paper's is ``resnet34``, the offline default ``efficientnet_lite0``),
    ``encoder_weights`` (checkpoint path, ``None``: the encoder's default place), ``encoder_backend``
    (``auto``/``torch``/``onnxruntime``), ``device`` (torch device of the encoder), ``cameras`` (``None``: the
    task's RRL camera; several are encoded and concatenated), ``render_size`` and ``image_size`` (render, then
    center crop: paper 256/224), ``multisample`` (MSAA samples of the renders; 0 = off, 2x faster on a CPU),
    ``proprio_noise`` (fraction of each joint's range, paper 5.4: 0.02), ``proprio_arm`` (add the arm's joints,
    ``TaskSpec.arm_joints``, to the 24 hand joints; not in the paper, which gives the hand joints only),
    ``feature_scale_floor`` (the input scale of each encoder feature, or of each ``state_embed`` feature, is at
    least this fraction of the median demo feature std; see ``GaussianMLP.fit_to_demos``).
    ``n_envs`` environments step and render in worker processes in ``n_groups`` pipelined groups
    (``rrl.sampling.pipelined``); ``sampler_backend="ray"`` puts them in Ray actors (``ray_address``: an existing
    cluster, ``None``: a local Ray instance). ``preset`` records which preset (``rrl.config.PRESETS``) the run
    started from.
    """

    task: str = "door"
    obs: str = "state"
    state_hide: tuple[str, ...] = ()
    state_noise: tuple[str, ...] = ()
    state_embed: int = 0
    state_embed_keep: tuple[str, ...] = ()
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
    input_pca: int = 0
    init_log_std: float | None = None
    min_log_std: float = -3.0
    bc_epochs: int = 5
    bc_batch_size: int = 32
    bc_lr: float = 1e-3
    critic_input: str = "policy"
    vf_size: tuple[int, ...] = (128, 128)
    vf_batch_size: int = 64
    vf_epochs: int = 2
    vf_lr: float = 1e-3
    vf_weight_decay: float = 1e-3
    rl_step_size: float = 0.05
    rl_gamma: float = 0.995
    rl_gae: float = 0.97
    max_kl_ratio: float = 2.0
    cg_iters: int = 10
    cg_damping: float = 1e-4
    step_norm: str = "gradient"
    rl_frozen_layers: int = 0
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
    encoder: str = "efficientnet_lite0"
    encoder_weights: str | None = None
    encoder_backend: str = "auto"
    device: str = "cpu"
    cameras: tuple[str, ...] | None = None
    render_size: int = 256
    image_size: int = 224
    proprio_noise: float = 0.0
    proprio_arm: bool = False
    multisample: int = 0
    n_envs: int = 4
    n_groups: int = 2
    sampler_backend: str = "local"
    ray_address: str | None = None
    feature_scale_floor: float = 0.1
    sac_updates_per_sample: float = 1.0
    sac_batch_size: int = 128
    sac_buffer: int = 1_000_000
    sac_demo_fraction: float = 0.25
    sac_lr: float = 1e-3
    sac_tau: float = 0.01
    sac_gamma: float = 0.99
    sac_init_temperature: float = 0.1
    sac_critic_layer_norm: bool = True
    ferm_curl_updates: int = 1600
    ferm_feature_dim: int = 50
    ferm_encoder_tau: float = 0.05
    preset: str | None = None
    out: str | None = None

    def __post_init__(self) -> None:
        get_task(self.task)
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; valid: {', '.join(ALGOS)}")
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        if self.demo_weight not in DEMO_WEIGHT_VARIANTS:
            raise ValueError(f"demo_weight must be one of {DEMO_WEIGHT_VARIANTS}, got {self.demo_weight!r}")
        demos = self.demos if self.demos is not None else ("none" if self.algo == "npg" else "expert")
        if self.algo in ("dapg", "bc", "sac") and demos == "none":
            raise ValueError(f"algo {self.algo!r} needs demonstrations; pass demos='expert', 'human' or a path")
        if demos == "human" and self.task != "door":
            raise ValueError(f"human demonstrations exist for door only, not {self.task!r}; use demos='expert'")
        object.__setattr__(self, "demos", demos)
        object.__setattr__(self, "policy_size", tuple(int(h) for h in self.policy_size))
        object.__setattr__(self, "vf_size", tuple(int(h) for h in self.vf_size))
        for name in ("iterations", "trajectories", "eval_every", "workers", "n_demos", "cg_iters"):
            if getattr(self, name) < 1:
                raise ValueError(f"{_flag(name)} must be >= 1, got {getattr(self, name)}")
        self._check_ranges()
        if not 0.0 < self.fvp_sample_frac <= 1.0:
            raise ValueError(f"fvp_sample_frac must be in (0, 1], got {self.fvp_sample_frac}")
        if self.step_norm not in STEP_NORMS:
            raise ValueError(f"step_norm must be one of {STEP_NORMS}, got {self.step_norm!r}")
        if not 0 <= self.rl_frozen_layers <= len(self.policy_size):
            raise ValueError(
                f"rl_frozen_layers must be in [0, {len(self.policy_size)}] (the policy's hidden layers; the output "
                f"layer always learns), got {self.rl_frozen_layers}"
            )
        if self.fvp_precision not in FVP_PRECISIONS:
            raise ValueError(f"fvp_precision must be one of {FVP_PRECISIONS}, got {self.fvp_precision!r}")
        if self.rl_step_size <= 0:
            raise ValueError(f"{_flag('rl_step_size')} must be > 0, got {self.rl_step_size}")
        if self.obs not in OBS_MODES:
            raise ValueError(f"unknown obs {self.obs!r}; valid: {', '.join(OBS_MODES)}")
        object.__setattr__(self, "state_hide", tuple(str(x) for x in self.state_hide))
        if self.state_hide:
            if self.obs != "state":
                raise ValueError(f"state_hide applies to obs='state' runs only, not obs={self.obs!r}")
            self.task_spec.state_columns(self.state_hide)  # raises with the valid part names
        object.__setattr__(self, "state_noise", tuple(str(x) for x in self.state_noise))
        if self.state_noise:
            if self.obs != "state":
                raise ValueError(f"state_noise applies to obs='state' runs only, not obs={self.obs!r}")
            self.task_spec.state_noise_std(self.state_noise)  # raises with the valid part names
        self._check_state_embed()
        if self.input_pca < 0:
            raise ValueError(f"input_pca must be >= 0 (0: off), got {self.input_pca}")
        if self.input_pca and self.demos == "none":
            raise ValueError("input_pca fits its projection on the demonstrations; it needs --demos")
        if self.critic_input not in CRITIC_INPUTS:
            raise ValueError(f"critic_input must be one of {CRITIC_INPUTS}, got {self.critic_input!r}")
        if self.sampler_backend not in SAMPLER_BACKENDS:
            raise ValueError(f"sampler_backend must be one of {SAMPLER_BACKENDS}, got {self.sampler_backend!r}")
        if self.n_groups < 1 or self.n_envs < self.n_groups or self.n_envs % self.n_groups:
            raise ValueError(f"n_envs ({self.n_envs}) must be a positive multiple of n_groups ({self.n_groups})")
        if not 16 <= self.image_size <= self.render_size:
            raise ValueError(
                f"need 16 <= image_size <= render_size, got image_size {self.image_size}, "
                f"render_size {self.render_size}"
            )
        if self.proprio_noise < 0:
            raise ValueError(f"proprio_noise must be >= 0, got {self.proprio_noise}")
        if self.proprio_arm and self.obs != "rgb+proprio":
            raise ValueError(
                f"proprio_arm adds arm joints to the proprioception of obs='rgb+proprio', not {self.obs!r}"
            )
        if self.algo == "ferm" and not self.is_pixel:
            raise ValueError("--algo ferm learns from pixels: add --obs rgb+proprio (or rgb), or --preset cpu|paper")
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; valid: {', '.join(PRESETS)}")
        if self.cameras is not None:
            if isinstance(self.cameras, str) or len(self.cameras) == 0:
                raise ValueError(f"cameras must be a non-empty tuple of camera names, got {self.cameras!r}")
            object.__setattr__(self, "cameras", tuple(str(c) for c in self.cameras))
            for cam in self.cameras:
                self.task_spec.camera(cam)  # raises with the valid names

    @property
    def task_spec(self) -> TaskSpec:
        return get_task(self.task)

    @property
    def effective_horizon(self) -> int:
        return self.horizon if self.horizon is not None else self.task_spec.horizon

    def _check_ranges(self) -> None:
        """Numeric fields outside their meaningful range (or NaN/inf) fail here, before anything runs, not
        mid-training; the message names the flag."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{_flag(f.name)} must be a finite number, got {value}")
        for name in ("policy_size", "vf_size"):
            if any(h < 1 for h in getattr(self, name)):
                raise ValueError(f"{_flag(name)}: every hidden layer needs >= 1 unit, got {getattr(self, name)}")
        checks = [
            ("seed", self.seed >= 0, ">= 0"),
            ("demo_seed", self.demo_seed >= 0, ">= 0"),
            ("bc_batch_size", self.bc_batch_size >= 1, ">= 1"),
            ("vf_batch_size", self.vf_batch_size >= 1, ">= 1"),
            ("bc_epochs", self.bc_epochs >= 0, ">= 0"),
            ("vf_epochs", self.vf_epochs >= 0, ">= 0"),
            ("eval_episodes", self.eval_episodes >= 0, ">= 0"),
            ("bc_lr", self.bc_lr > 0, "> 0"),
            ("vf_lr", self.vf_lr > 0, "> 0"),
            ("vf_weight_decay", self.vf_weight_decay >= 0, ">= 0"),
            ("rl_gamma", 0 <= self.rl_gamma <= 1, "in [0, 1]"),
            ("rl_gae", 0 <= self.rl_gae <= 1, "in [0, 1]"),
            ("cg_damping", self.cg_damping >= 0, ">= 0 (a negative damping can make F + damping*I indefinite)"),
            ("lam_0", self.lam_0 >= 0, ">= 0 (a negative demo weight pushes the policy away from the demos)"),
            ("lam_1", 0 <= self.lam_1 <= 1, "in [0, 1]"),
            ("max_kl_ratio", self.max_kl_ratio == 0 or self.max_kl_ratio >= 1, "0 (off) or >= 1"),
            ("min_log_std", self.min_log_std <= 0, "<= 0 (an action std floor above 1 exceeds the action range)"),
            ("threads", self.threads is None or self.threads >= 1, ">= 1 (or unset: torch's default)"),
            ("horizon", self.horizon is None or self.horizon >= 1, ">= 1 (or unset: the task's)"),
            ("multisample", self.multisample >= 0, ">= 0 (0: off)"),
            ("feature_scale_floor", self.feature_scale_floor >= 0, ">= 0"),
            ("sac_updates_per_sample", self.sac_updates_per_sample > 0, "> 0"),
            ("sac_batch_size", self.sac_batch_size >= 1, ">= 1"),
            ("sac_buffer", self.sac_buffer >= 1, ">= 1"),
            ("sac_demo_fraction", 0 <= self.sac_demo_fraction < 1, "in [0, 1)"),
            ("sac_lr", self.sac_lr > 0, "> 0"),
            ("sac_tau", 0 < self.sac_tau <= 1, "in (0, 1]"),
            ("sac_gamma", 0 <= self.sac_gamma <= 1, "in [0, 1]"),
            ("sac_init_temperature", self.sac_init_temperature > 0, "> 0"),
            ("ferm_curl_updates", self.ferm_curl_updates >= 0, ">= 0"),
            ("ferm_feature_dim", self.ferm_feature_dim >= 1, ">= 1"),
            ("ferm_encoder_tau", 0 < self.ferm_encoder_tau <= 1, "in (0, 1]"),
        ]
        for name, ok, valid in checks:
            if not ok:
                raise ValueError(f"{_flag(name)} must be {valid}, got {getattr(self, name)}")
        if self.init_log_std is not None and self.init_log_std < self.min_log_std:
            raise ValueError(f"init_log_std ({self.init_log_std}) must be >= min_log_std ({self.min_log_std})")

    def _check_state_embed(self) -> None:
        object.__setattr__(self, "state_embed_keep", tuple(str(x) for x in self.state_embed_keep))
        if self.state_embed < 0:
            raise ValueError(f"state_embed must be >= 0 (0: off), got {self.state_embed}")
        if (self.state_embed or self.state_embed_keep) and self.obs != "state":
            raise ValueError(f"state_embed and state_embed_keep apply to obs='state' runs only, not obs={self.obs!r}")
        if self.state_embed_keep and not self.state_embed:
            raise ValueError("state_embed_keep names raw state parts shown beside an embedding; set --state-embed N")
        if self.state_embed and self.demos == "none":
            raise ValueError("state_embed standardises the state by the demonstrations; it needs --demos")
        spec = self.task_spec
        visible = set(spec.state_columns(self.state_hide).tolist())
        for part in self.state_embed_keep:
            if not set(spec.state_part_columns(part)) <= visible:  # also raises with the valid part names
                raise ValueError(f"state_embed_keep part {part!r} is hidden by state_hide; keep only visible parts")

    @property
    def raw_input_tail(self) -> int:
        """Trailing policy-input entries that are raw measurements after the features: the proprioception of a
        pixel run, the kept parts of a ``state_embed`` run, none of a plain state run. ``input_pca`` and
        ``feature_scale_floor`` apply to the entries before them."""
        return self.proprio_dim if self.is_pixel else len(self.state_keep_columns())

    def state_keep_columns(self) -> list[int]:
        """Indices of the state entries a ``state_embed`` run sees raw beside the embedding."""
        return [i for part in self.state_embed_keep for i in self.task_spec.state_part_columns(part)]

    @property
    def is_pixel(self) -> bool:
        return self.obs != "state"

    @property
    def proprio_dim(self) -> int:
        """Joint positions in the policy input of a pixel run (0 for ``rgb`` and ``state``)."""
        if self.obs != "rgb+proprio":
            return 0
        spec = self.task_spec
        return len(spec.hand_joints) + (len(spec.arm_joints) if self.proprio_arm else 0)

    def default_out(self) -> str:
        encoder = "conv" if self.algo == "ferm" else self.encoder.replace(":", "-")  # FERM trains its own
        what = self.obs if not self.is_pixel else f"{self.obs.replace('+', '_')}_{encoder}"
        return f"runs/{self.task}_{what}_{self.algo}_{Path(self.demos).stem}_{self.reward}_s{self.seed}"

    @staticmethod
    def from_preset(preset: str | None, task: str = "door", **overrides: Any) -> TrainConfig:
        """The config of ``preset`` (see :data:`PRESETS`) for ``task``, with ``overrides`` on top."""
        base: dict[str, Any] = {}
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
            base = (FERM_PRESETS if overrides.get("algo") == "ferm" else PRESETS)[preset](task)
        cfg = TrainConfig(**{**base, "task": task, "preset": preset, **overrides})
        unused = [f"--{k.replace('_', '-')}" for k in PIXEL_FIELDS if overrides.get(k) is not None]
        if not cfg.is_pixel and unused:
            raise ValueError(
                f"{', '.join(unused)} set the pixel input, but this run learns from state (obs='state', the "
                "default without --preset); add --obs rgb+proprio (or rgb), or --preset cpu|paper|smoke"
            )
        return cfg

    def command_line(self) -> str:
        """An ``rrl train`` command that reproduces this config from its preset (flags for the fields that differ)."""
        ferm = self.algo == "ferm" and self.preset is not None  # FERM's presets are their own
        base = TrainConfig.from_preset(self.preset, self.task, **({"algo": "ferm"} if ferm else {}))
        args = ["rrl", "train", "--task", self.task] + (["--preset", self.preset] if self.preset else [])
        args += ["--algo", "ferm"] if ferm else []
        differ = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(TrainConfig)
            if f.name not in ("task", "preset") and getattr(self, f.name) != getattr(base, f.name)
        }
        return shlex.join(args + config_flags(differ))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> TrainConfig:
        """The config a run folder recorded (``config.json``'s ``config``); every value's JSON type is checked
        against its field, so a hand-edited or damaged file fails with the field's name, not mid-training."""
        if not isinstance(d, dict):
            raise ValueError(f"a run's config must be a JSON object of settings, got {type(d).__name__}")
        fields = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
        unknown = set(d) - set(fields)
        if unknown:
            raise ValueError(f"config has unknown fields {sorted(unknown)}; was it written by another rrl version?")
        for name, value in d.items():
            if not _json_value_fits(fields[name], value):
                raise ValueError(
                    f"config field {name!r} must be {fields[name].replace(' | None', ' or null')}, got {value!r}"
                )
        return TrainConfig(**d)


def _flag(name: str) -> str:
    """A config field as the user sets it: ``--rl-step-size (rl_step_size)``."""
    return f"--{name.replace('_', '-')} ({name})"


# -------------------------------------------------------------------------------------------- presets
def paper_preset(task: str) -> dict[str, Any]:
    """RRL from pixels at paper scale (appendix 7.1 and the released RRL configs), for a GPU box or cluster.

    ResNet-34 features of the task's camera (256 render, 224 crop), (256, 256) policy, 200 trajectories per
    iteration (400 for pen: 40,000 samples either way), 200 iterations (300 for pen and relocate), sparse reward.
    """
    return dict(
        obs="rgb+proprio", algo="dapg", encoder="resnet34", render_size=256, image_size=224, policy_size=(256, 256),
        trajectories=400 if task == "pen" else 200, iterations=300 if task in ("pen", "relocate") else 200,
        eval_episodes=25, n_envs=16, n_groups=2,
    )  # fmt: skip


def cpu_preset(task: str) -> dict[str, Any]:
    """RRL from pixels sized for a 2-core CPU (docs/training.md): learning visible within about 2 hours.

    Trade-offs against ``paper``: EfficientNet-Lite0 on onnxruntime instead of ResNet-34 (5-9x faster here;
    1280 features), 146-pixel renders cropped to 128 (the paper's 8/7 ratio; rendering and encoding cost scale
    with the pixel count), 40 trajectories per iteration (80 for pen) instead of 200, deterministic evaluation
    on 10 episodes every 2 iterations, 60 iterations. Everything else as in the paper.
    """
    return dict(
        obs="rgb+proprio", algo="dapg", encoder="efficientnet_lite0", encoder_backend="auto", render_size=146,
        image_size=128, policy_size=(256, 256), trajectories=80 if task == "pen" else 40, iterations=60,
        eval_episodes=10, eval_every=2, n_envs=4, n_groups=2,
    )  # fmt: skip


def smoke_preset(task: str) -> dict[str, Any]:
    """A run of a few minutes that goes through every stage (the README's first command): 25 demos, 64-px
    crops, 3 small DAPG iterations (BC alone reaches about 50% deterministic success on door here)."""
    return dict(
        obs="rgb+proprio", algo="dapg", encoder="efficientnet_lite0", render_size=73, image_size=64,
        policy_size=(64, 64), vf_size=(64, 64), trajectories=4, iterations=3, eval_episodes=4, n_envs=2,
        n_groups=1,
    )  # fmt: skip


PRESETS = {"paper": paper_preset, "cpu": cpu_preset, "smoke": smoke_preset}


def ferm_paper_preset(task: str) -> dict[str, Any]:
    """FERM as its public code runs it (``--algo ferm --preset paper``): 100-pixel renders randomly cropped to
    84, (1024, 1024) actor and critics, batch 128, one update per sample, 100k-step replay that the demos fill
    first, 1600 CURL warm-up updates, one episode per iteration, 1M samples; 10 evaluation episodes every 10k
    samples."""
    horizon = get_task(task).horizon
    return dict(
        obs="rgb+proprio", algo="ferm", render_size=100, image_size=84, policy_size=(1024, 1024), trajectories=1,
        iterations=1_000_000 // horizon, sac_batch_size=128, sac_updates_per_sample=1.0, sac_buffer=100_000,
        sac_demo_fraction=0.0, sac_lr=1e-3, sac_tau=0.01, sac_gamma=0.99, sac_init_temperature=0.1,
        sac_critic_layer_norm=False, ferm_curl_updates=1600, eval_episodes=10, eval_every=10_000 // horizon,
        n_envs=1, n_groups=1,
    )  # fmt: skip


def ferm_cpu_preset(task: str) -> dict[str, Any]:
    """FERM sized for a 2-core CPU (docs/algorithms.md): 76-pixel renders randomly cropped to 64 (the paper's
    84/100 ratio), batch 64, one update per 4 samples, 100k-step replay, two episodes per iteration, 100k
    samples; 10 evaluation episodes every 4k samples. The rest as ``paper``."""
    horizon = get_task(task).horizon
    return {
        **ferm_paper_preset(task), "render_size": 76, "image_size": 64, "sac_batch_size": 64,
        "sac_updates_per_sample": 0.25, "trajectories": 2, "iterations": 100_000 // (2 * horizon),
        "eval_every": 4_000 // (2 * horizon), "n_envs": 2,
    }  # fmt: skip


def ferm_smoke_preset(task: str) -> dict[str, Any]:
    """A FERM run of about a minute through every stage (tests, a first look)."""
    return {
        **ferm_paper_preset(task), "render_size": 40, "image_size": 32, "policy_size": (64, 64), "sac_batch_size": 16,
        "sac_updates_per_sample": 0.05, "sac_buffer": 10_000, "ferm_curl_updates": 5, "trajectories": 2,
        "iterations": 2, "eval_episodes": 2, "eval_every": 1, "n_envs": 2, "n_demos": 2,
    }  # fmt: skip


FERM_PRESETS = {"paper": ferm_paper_preset, "cpu": ferm_cpu_preset, "smoke": ferm_smoke_preset}  # --algo ferm


# ------------------------------------------------------------------------------------------------ CLI
def _json_value_fits(type_str: str, value: Any) -> bool:
    """Whether a JSON value can stand for a :class:`TrainConfig` field of type ``type_str``."""
    if value is None:
        return "None" in type_str
    base = type_str.replace(" | None", "").strip()
    if base.startswith("tuple"):
        item = str if base == "tuple[str, ...]" else int
        return isinstance(value, (list, tuple)) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
    if base == "bool":
        return isinstance(value, bool)
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _field_parser(type_str: str):
    base = type_str.replace(" | None", "").strip()
    if base == "tuple[str, ...]":
        return lambda text: tuple(x.strip() for x in str(text).split(",") if x.strip())
    if base.startswith("tuple"):
        return lambda text: tuple(int(x) for x in str(text).split(",") if x.strip())
    return {"int": int, "float": float, "str": str}[base]


FLAG_HELP = {
    "task": "door, hammer, pen or relocate",
    "obs": "policy input: state (privileged baseline), rgb+proprio (RRL, Eq. 10) or rgb (images only)",
    "state_hide": "state runs: parts of the state the policy does not see, e.g. handle_pos.z,arm_qpos",
    "state_noise": "state runs: per-episode offset on parts of the state, part=std in metres, e.g. palm_pos.x=0.03",
    "state_embed": "state runs: the policy sees this many fixed random ReLU features of the state instead (0: off)",
    "state_embed_keep": "state runs with --state-embed: state parts also shown raw, e.g. hand_qpos",
    "input_pca": "the policy's first layer sees this many whitened principal components (fitted on the demos) of "
    "the encoder features / state embedding / state instead of all of them; proprioception stays raw (0: off)",
    "critic_input": "what the value baseline sees: policy (its input, the paper) or state (the full env state, "
    "a privileged critic for training only)",
    "algo": "dapg (Eq. 8-9), npg (Eq. 6-7, no demos), bc (Eq. 5 only), sac (soft actor-critic with the demos in "
    "its replay buffer after a BC warm-up; not in the paper) or ferm (the paper's FERM baseline: SAC with an "
    "encoder trained from pixels, CURL warm-up; --preset picks FERM's settings); docs/algorithms.md",
    "demos": "expert, human (door), none, or a demo file path (default: expert for dapg/bc, none for npg)",
    "n_demos": "demonstrations used",
    "demo_seed": "seed of the expert-demo rollouts",
    "seed": "seed of sampling, initialisation and evaluation",
    "iterations": "DAPG/NPG iterations",
    "trajectories": "trajectories sampled per iteration (paper: 200, pen 400)",
    "horizon": "episode length (default: the task's DAPG horizon)",
    "reward": "sparse (the paper's text), dense (DAPG shaping) or rrl_code (the reward and goal tests of RRL's "
    "released code, which trained its published curves; docs/rewards.md)",
    "policy_size": "hidden layer sizes of the Gaussian MLP policy",
    "init_log_std": "initial action log-std (default: log of the demos' action std)",
    "min_log_std": "lower bound of the action log-std",
    "bc_epochs": "behaviour-cloning epochs (Eq. 5)",
    "bc_batch_size": "behaviour-cloning minibatch size",
    "bc_lr": "behaviour-cloning Adam learning rate",
    "vf_size": "hidden layer sizes of the value function (baseline)",
    "vf_batch_size": "value-function minibatch size",
    "vf_epochs": "value-function epochs per iteration",
    "vf_lr": "value-function Adam learning rate",
    "vf_weight_decay": "value-function weight decay",
    "rl_step_size": "normalised step size delta of the natural gradient (Eq. 6)",
    "rl_gamma": "discount",
    "rl_gae": "GAE lambda",
    "max_kl_ratio": "halve a step whose KL exceeds this times rl_step_size (0: off, as in the paper)",
    "cg_iters": "conjugate-gradient iterations for the natural gradient",
    "cg_damping": "damping added to the Fisher matrix",
    "step_norm": "step length of Eq. 6 from g^T d (gradient, the paper) or d^T F d (fisher: the KL target holds "
    "under large damping)",
    "rl_frozen_layers": "the first this many policy layers keep their BC weights during RL (not in the paper; "
    "0: all learn)",
    "fvp_sample_frac": "fraction of the samples used in Fisher-vector products",
    "fvp_precision": "float32 or bfloat16 matrix products in Fisher-vector products",
    "normalize_advantages": "normalise advantages per iteration",
    "lam_0": "demo weight lambda_0 (Eq. 9)",
    "lam_1": "demo weight decay lambda_1 (Eq. 9)",
    "demo_weight": "paper (Eq. 9: lam_0 lam_1^k max A) or mjrl (the public code's constant weight)",
    "eval_episodes": "deterministic evaluation episodes",
    "eval_every": "evaluate every this many iterations",
    "workers": "environment processes of the state sampler",
    "threads": "torch CPU threads (default: torch's)",
    "encoder": "frozen encoder of a pixel run: a name (rrl.encoders.available_encoders(); paper: resnet34), "
    "random:<name>, or an import path package.module:Class (docs/extending.md)",
    "encoder_weights": "encoder checkpoint path (default: the encoder's default place)",
    "encoder_backend": "auto, torch or onnxruntime",
    "device": "torch device of the encoder (cpu, cuda)",
    "cameras": "camera names, comma-separated (default: the task's RRL camera); several are concatenated",
    "render_size": "square render size in pixels (paper 256)",
    "image_size": "center crop fed to the encoder (paper 224; ferm: a random crop in training, FERM 84)",
    "proprio_noise": "Gaussian joint-encoder noise, fraction of each joint's range (paper 5.4: 0.02)",
    "proprio_arm": "add the arm joints to the 24 hand joints (not in the paper)",
    "multisample": "MSAA samples of the renders (0: off)",
    "n_envs": "environments of the pixel sampler, in worker processes",
    "n_groups": "pipelined groups the environments are split into",
    "sampler_backend": "local (worker processes) or ray (Ray actors)",
    "ray_address": "address of an existing Ray cluster (default: start a local Ray instance)",
    "feature_scale_floor": "each feature's input scale is at least this fraction of the median demo feature std",
    "sac_updates_per_sample": "sac, ferm: gradient updates per environment sample",
    "sac_batch_size": "sac, ferm: minibatch size",
    "sac_buffer": "sac, ferm: replay capacity in transitions",
    "sac_demo_fraction": "sac, ferm: share of each minibatch drawn from the demonstrations' transitions",
    "sac_lr": "sac, ferm: Adam learning rate of actor and critics",
    "sac_tau": "sac, ferm: Polyak rate of the critic targets",
    "sac_gamma": "sac, ferm: discount",
    "sac_init_temperature": "sac, ferm: initial entropy temperature alpha (learned towards entropy -|A|)",
    "sac_critic_layer_norm": "sac, ferm: LayerNorm in the critics' hidden layers (keeps Q from diverging on demo data)",
    "ferm_curl_updates": "ferm: CURL updates on the demo-filled buffer before RL (FERM: 1600)",
    "ferm_feature_dim": "ferm: output size of the learned encoder (FERM: 50)",
    "ferm_encoder_tau": "ferm: Polyak rate of the target (CURL key) encoder",
    "preset": "paper, cpu or smoke: fills in settings first; flags given beside it win (default: none)",
    "out": "run folder (default: runs/<task>_<input>_<algo>_<demos>_<reward>_s<seed>)",
}  # one line of `rrl train --help` per TrainConfig field


def add_config_arguments(parser: Any) -> None:
    """One ``--flag`` per :class:`TrainConfig` field (``policy_size`` -> ``--policy-size 256,256``).

    Every flag defaults to ``None`` (= keep the config's default, or the resumed run's value).
    """
    import argparse

    aliases = {"sampler_backend": ["--backend"]}  # a short name, kept for older command lines
    for f in dataclasses.fields(TrainConfig):
        flags = ["--" + f.name.replace("_", "-"), *aliases.get(f.name, [])]
        default = f.default
        shown = (",".join(map(str, default)) or "none") if isinstance(default, tuple) else default
        help_text = FLAG_HELP[f.name] + ("" if "(default" in FLAG_HELP[f.name] else f" (default {shown})")
        if f.type == "bool":
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        parser.add_argument(
            *flags, dest=f.name, type=_field_parser(str(f.type)), default=None, metavar=f.name.upper(), help=help_text
        )


def config_flags(fields: dict[str, Any]) -> list[str]:
    """``rrl train`` arguments that set these :class:`TrainConfig` fields (the inverse of :func:`config_overrides`;
    ``None`` values, the flags' "not given", are left out)."""
    args: list[str] = []
    for name, value in fields.items():
        flag = f"--{name.replace('_', '-')}"
        if value is None:
            continue
        if isinstance(value, bool):  # BooleanOptionalAction flags take no value
            args.append(flag if value else f"--no-{name.replace('_', '-')}")
        else:
            args += [flag, ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)]
    return args


def config_overrides(args: Any) -> dict[str, Any]:
    """The :class:`TrainConfig` fields given on the command line."""
    return {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if getattr(args, f.name, None) is not None
    }
