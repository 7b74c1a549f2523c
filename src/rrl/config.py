"""Training configuration (:class:`TrainConfig`) and its command-line flags.

Kept free of torch so that ``rrl --help`` stays fast; :mod:`rrl.train` re-exports everything here. It is longer
than most modules because it declares every one of a run's ~75 settings, with its help and valid range, once.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rrl.presets import FERM_PRESETS, PRESETS
from rrl.tasks import TaskSpec, get_task

ALGOS = ("dapg", "npg", "bc", "sac", "ferm")
DEMO_WEIGHT_VARIANTS = ("paper", "mjrl")  # rrl.algos.dapg
FVP_PRECISIONS = ("float32", "bfloat16")  # rrl.algos.npg
STEP_NORMS = ("gradient", "fisher")  # rrl.algos.npg.npg_step
SAC_ACTORS = ("sac", "awac")  # rrl.algos.sac.ACTOR_OBJECTIVES
AWAC_SPACES = ("pretanh", "action")  # rrl.algos.sac.AWAC_SPACES
NOT_FOR_FERM = (  # SAC settings FERM's trainer does not take, and why
    ("sac_actor", "FERM's actor is SAC's"),
    ("sac_trunk_dim", "FERM's encoder has its own projection (--ferm-feature-dim)"),
    ("sac_n_step", "FERM's buffer keeps one-step transitions"),
    ("sac_actor_delay", "FERM's actor learns from its first update"),
    ("sac_actor_max_kl", "FERM's actor steps are not bounded"),
    ("bc_candidates", "FERM's warm-up is contrastive, not behaviour cloning"),
)
EXPERT_DEMO_ACTIONS = ("mean", "sampled")  # rrl.demos.make_expert_demos

# Fields that define what a run *is*; resume refuses to change them.
IDENTITY_FIELDS = (
    "task", "obs", "state_hide", "state_noise", "state_embed", "state_embed_keep", "algo", "demos", "n_demos",
    "demo_seed", "expert_demo_actions", "seed", "trajectories", "horizon", "reward", "policy_size", "input_pca",
    "critic_input", "vf_size", "init_log_std", "min_log_std", "encoder", "cameras",
    "render_size", "image_size", "proprio_noise", "proprio_arm", "multisample", "ferm_feature_dim",
    "ferm_encoder_tanh", "sac_n_step", "sac_gamma",
)  # fmt: skip
#: Settings that name a file whose content defines the run: on resume (and in ``rrl eval``) they may point elsewhere,
#: e.g. for a run moved to another machine or folder, where the file holds the same content: the encoder's weights
#: hash against the one config.json recorded when the run started (:func:`rrl.run.assembly.check_encoder_weights`).
CONTENT_FIELDS = ("encoder_weights",)
#: Settings added after runs of an algorithm were recorded, with the behaviour those runs had: a recorded config of
#: that algorithm that lacks the setting ran with this value, not with today's default.
RECORDED_BEFORE: dict[str, dict[str, Any]] = {
    "ferm": {"ferm_encoder_tanh": True, "sac_alpha_beta": 0.9, "expert_demo_actions": "mean"},
    "sac": {"sac_alpha_beta": 0.9},
}
# used once, before iteration 0
BC_STAGE_FIELDS = ("bc_epochs", "bc_batch_size", "bc_lr", "feature_scale_floor", "bc_candidates", "bc_select_episodes")
OBS_MODES = ("state", "rgb+proprio", "rgb")  # rrl.envs.OBS_MODES
REWARDS = ("sparse", "dense", "rrl_code")  # rrl.envs.rewards.REWARDS (not imported: it loads gymnasium)
SAMPLER_BACKENDS = ("local", "ray")
CRITIC_INPUTS = ("policy", "state")  # what the value baseline sees
PIXEL_FIELDS = ("encoder", "encoder_weights", "encoder_backend", "cameras", "render_size", "image_size")  # not state


def setting(default: Any, help: str, valid: tuple[Callable[[Any], bool], str] | None = None) -> Any:
    """A :class:`TrainConfig` field declared once: its default, its ``rrl train --help`` line and, where it has
    one, its valid range (a predicate and how to say it), checked on construction with the flag named."""
    return dataclasses.field(default=default, metadata={"help": help, "valid": valid})


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run (paper appendix 7.1 defaults; DAPG paper for the rest).

    Each field is declared once, as ``setting(default, help, valid=...)``: its meaning is that help, which
    ``rrl train --help`` prints (also :data:`rrl.config.FLAG_HELP`). Values are checked on construction, so a bad
    one fails before anything runs, with its flag named. Longer explanations: docs/algorithms.md (the updates and
    rrl's additions to them) and docs/training.md (pixel runs, presets, demonstrations, run folders, Ray).
    """

    task: str = setting("door", "door, hammer, pen or relocate")
    obs: str = setting(
        "state",
        "policy input: state (privileged baseline), rgb+proprio (RRL, Eq. 10) or rgb (images only)",
    )
    state_hide: tuple[str, ...] = setting(
        (),
        "state runs: parts of the state (TaskSpec.state_layout names, e.g. handle_pos.z,arm_qpos) hidden from the "
        "policy, the baseline and the demonstrations alike",
    )
    state_noise: tuple[str, ...] = setting(
        (),
        "state runs: part=std entries in metres, e.g. palm_pos.x=0.03: an offset drawn once per episode is added to "
        "those parts of the sampled states, in training and evaluation (the demos stay exact), to ask how "
        "precisely a state policy needs to know them (rrl.envs.wrappers.StateNoise)",
    )
    state_embed: int = setting(
        0,
        "state runs: the policy sees this many fixed random ReLU features of the visible state instead, standardised "
        "by the demos and seeded by --seed: the state's information shaped like pooled encoder features "
        "(rrl.sampling.RandomStateFeatures; 0: off)",
        valid=(lambda v: v >= 0, ">= 0 (0: off)"),
    )
    state_embed_keep: tuple[str, ...] = setting(
        (),
        "state runs with --state-embed: state parts also shown raw, after the features, e.g. hand_qpos",
    )
    algo: str = setting(
        "dapg",
        "dapg (Eq. 8-9), npg (Eq. 6-7, no demos), bc (Eq. 5 only), sac (soft actor-critic with the demos in "
        "its replay buffer after a BC warm-up; not in the paper) or ferm (the paper's FERM baseline: SAC with"
        " an encoder trained from pixels, CURL warm-up; --preset picks FERM's settings); docs/algorithms.md",
    )
    demos: str | None = setting(
        None,
        "expert (25 rollouts of the published DAPG expert, cached), human (the 25 human door demonstrations), "
        "none, or a demo file path (default: none for npg, expert otherwise)",
    )
    n_demos: int = setting(25, "demonstrations used", valid=(lambda v: v >= 1, ">= 1"))
    demo_seed: int = setting(0, "seed of the expert-demo rollouts", valid=(lambda v: v >= 0, ">= 0"))
    expert_demo_actions: str = setting(
        "mean",
        "expert demos act with the expert's mean action (mean: DAPG's demonstrations) or with draws from its "
        "Gaussian (sampled: how FERM's code collected its demonstrations)",
        valid=(lambda v: v in EXPERT_DEMO_ACTIONS, " or ".join(EXPERT_DEMO_ACTIONS)),
    )
    seed: int = setting(0, "seed of sampling, initialisation and evaluation", valid=(lambda v: v >= 0, ">= 0"))
    iterations: int = setting(100, "DAPG/NPG iterations", valid=(lambda v: v >= 1, ">= 1"))
    trajectories: int | None = setting(
        None,
        "trajectories sampled per iteration (default: the paper's 40,000 samples, i.e. 200, pen 400)",
        valid=(lambda v: v is None or v >= 1, ">= 1"),
    )
    horizon: int | None = setting(
        None,
        "episode length (default: the task's DAPG horizon)",
        valid=(lambda v: v is None or v >= 1, ">= 1 (or unset: the task's)"),
    )
    reward: str = setting(
        "sparse",
        "sparse (the paper's text), dense (DAPG shaping) or rrl_code (the reward and goal tests of RRL's "
        "released code, which trained its published curves; docs/rewards.md)",
    )
    policy_size: tuple[int, ...] = setting((256, 256), "hidden layer sizes of the Gaussian MLP policy")
    input_pca: int = setting(
        0,
        "the policy's first layer sees this many whitened principal components (fitted on the demos) of the "
        "encoder features / state embedding / state instead of all of them; proprioception and "
        "--state-embed-keep parts stay raw (GaussianMLP; 0: off)",
        valid=(lambda v: v >= 0, ">= 0 (0: off)"),
    )
    init_log_std: float | None = setting(
        None,
        "initial action log-std (default: log of the demos' per-dimension action std, 0 without demos)",
    )
    min_log_std: float = setting(
        -3.0,
        "lower bound of the action log-std",
        valid=(lambda v: v <= 0, "<= 0 (an action std floor above 1 exceeds the action range)"),
    )
    bc_epochs: int = setting(5, "behaviour-cloning epochs (Eq. 5)", valid=(lambda v: v >= 0, ">= 0"))
    bc_batch_size: int = setting(32, "behaviour-cloning minibatch size", valid=(lambda v: v >= 1, ">= 1"))
    bc_lr: float = setting(1e-3, "behaviour-cloning Adam learning rate", valid=(lambda v: v > 0, "> 0"))
    bc_candidates: int = setting(
        1,
        "behaviour-cloning fits (minibatch orders) to choose from: each fit's mean action is rolled out for "
        "--bc-select-episodes episodes and the one with the highest return is kept (the samples count on the "
        "run's curve); 1: one fit, no rollouts",
        valid=(lambda v: v >= 1, ">= 1"),
    )
    bc_select_episodes: int = setting(
        5,
        "with --bc-candidates above 1: deterministic episodes per behaviour-cloning fit (the same start states "
        "for every fit)",
        valid=(lambda v: v >= 1, ">= 1"),
    )
    critic_input: str = setting(
        "policy",
        "what the value baseline sees: policy (the policy's input, the paper) or state (the env's full state "
        "vector, with parts hidden by --state-hide and any --state-noise offset: a privileged critic used in "
        "training only; the policy and evaluation never see it)",
    )
    vf_size: tuple[int, ...] = setting((128, 128), "hidden layer sizes of the value function (baseline)")
    vf_batch_size: int = setting(64, "value-function minibatch size", valid=(lambda v: v >= 1, ">= 1"))
    vf_epochs: int = setting(2, "value-function epochs per iteration", valid=(lambda v: v >= 0, ">= 0"))
    vf_lr: float = setting(1e-3, "value-function Adam learning rate", valid=(lambda v: v > 0, "> 0"))
    vf_weight_decay: float = setting(1e-3, "value-function weight decay", valid=(lambda v: v >= 0, ">= 0"))
    rl_step_size: float = setting(
        0.05,
        "normalised step size delta of the natural gradient (Eq. 6)",
        valid=(lambda v: v > 0, "> 0"),
    )
    rl_gamma: float = setting(0.995, "discount", valid=(lambda v: 0 <= v <= 1, "in [0, 1]"))
    rl_gae: float = setting(0.97, "GAE lambda", valid=(lambda v: 0 <= v <= 1, "in [0, 1]"))
    max_kl_ratio: float = setting(
        2.0,
        "an rrl safety net: a step whose measured KL exceeds this times rl_step_size is halved until it does not "
        "(docs/algorithms.md; 0: off, as in the paper)",
        valid=(lambda v: v == 0 or v >= 1, "0 (off) or >= 1"),
    )
    cg_iters: int = setting(
        10,
        "conjugate-gradient iterations for the natural gradient",
        valid=(lambda v: v >= 1, ">= 1"),
    )
    cg_damping: float = setting(
        1e-4,
        "damping added to the Fisher matrix",
        valid=(lambda v: v >= 0, ">= 0 (a negative damping can make F + damping*I indefinite)"),
    )
    step_norm: str = setting(
        "gradient",
        "how Eq. 6 measures the CG step d ~ F^-1 g: gradient (g^T d, the paper) or fisher (d^T F d, undamped "
        "Fisher: the step's quadratic KL is rl_step_size/2 also under a large --cg-damping; the same as "
        "gradient for CG from zero without damping)",
    )
    rl_frozen_layers: int = setting(
        0,
        "the first this many policy layers keep their BC weights during RL, the natural gradient being that of the "
        "remaining parameters (not in the paper; rrl.algos.npg.npg_step's trainable; 0: all learn)",
    )
    fvp_sample_frac: float = setting(
        1.0,
        "fraction of the samples used in Fisher-vector products (rrl.algos.npg)",
        valid=(lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
    )
    fvp_precision: str = setting(
        "float32",
        "float32 or bfloat16 matrix products in Fisher-vector products (rrl.algos.npg)",
    )
    normalize_advantages: bool = setting(True, "normalise advantages per iteration")
    lam_0: float = setting(
        0.01,
        "demo weight lambda_0 (Eq. 9)",
        valid=(lambda v: v >= 0, ">= 0 (a negative demo weight pushes the policy away from the demos)"),
    )
    lam_1: float = setting(0.95, "demo weight decay lambda_1 (Eq. 9)", valid=(lambda v: 0 <= v <= 1, "in [0, 1]"))
    demo_weight: str = setting(
        "paper",
        "demo term of Eq. 8: paper (Eq. 9: lam_0 lam_1^k max A) or mjrl (the public code's constant weight; "
        "rrl.algos.dapg)",
    )
    eval_episodes: int = setting(25, "deterministic evaluation episodes", valid=(lambda v: v >= 0, ">= 0"))
    eval_every: int = setting(1, "evaluate every this many iterations", valid=(lambda v: v >= 1, ">= 1"))
    workers: int = setting(1, "environment processes of the state sampler", valid=(lambda v: v >= 1, ">= 1"))
    threads: int | None = setting(
        None,
        "torch CPU threads (default: torch's)",
        valid=(lambda v: v is None or v >= 1, ">= 1 (or unset: torch's default)"),
    )
    encoder: str = setting(
        "efficientnet_lite0",
        "frozen encoder of a pixel run: a name (rrl.encoders.available_encoders(); paper: resnet34), "
        "random:<name>, or an import path package.module:Class (docs/extending.md)",
    )
    encoder_weights: str | None = setting(None, "encoder checkpoint path (default: the encoder's default place)")
    encoder_backend: str = setting("auto", "runtime of the encoder: auto, torch or onnxruntime")
    device: str = setting("cpu", "torch device of the encoder (cpu, cuda)")
    cameras: tuple[str, ...] | None = setting(
        None,
        "pixel runs: camera names, comma-separated (default: the task's RRL camera); several are concatenated",
    )
    render_size: int = setting(256, "pixel runs: square render size in pixels (paper 256)")
    image_size: int = setting(
        224,
        "center crop fed to the encoder (paper 224; ferm: a random crop in training, FERM 84)",
    )
    proprio_noise: float = setting(
        0.0,
        "rgb+proprio: Gaussian joint-encoder noise, fraction of each joint's range (paper 5.4: 0.02)",
        valid=(lambda v: v >= 0, ">= 0"),
    )
    proprio_arm: bool = setting(
        False,
        "rgb+proprio: add the arm's joints (TaskSpec.arm_joints) to the 24 hand joints (not in the paper, which "
        "gives the hand joints only)",
    )
    multisample: int = setting(
        0,
        "pixel runs: MSAA samples of the renders (0: off, about 2x faster on a CPU)",
        valid=(lambda v: v >= 0, ">= 0 (0: off)"),
    )
    n_envs: int = setting(
        4,
        "pixel runs: environments that step and render in worker processes, in --n-groups pipelined groups "
        "(rrl.sampling.pipelined)",
    )
    n_groups: int = setting(2, "pipelined groups the --n-envs environments are split into (a divisor of --n-envs)")
    sampler_backend: str = setting("local", "local (worker processes) or ray (Ray actors; see --ray-address)")
    ray_address: str | None = setting(None, "address of an existing Ray cluster (default: start a local Ray instance)")
    feature_scale_floor: float = setting(
        0.1,
        "the input scale of each encoder (or --state-embed) feature is at least this fraction of the median demo "
        "feature std (GaussianMLP.fit_to_demos)",
        valid=(lambda v: v >= 0, ">= 0"),
    )
    sac_updates_per_sample: float = setting(
        1.0,
        "sac, ferm: gradient updates per environment sample",
        valid=(lambda v: v > 0, "> 0"),
    )
    sac_batch_size: int = setting(128, "sac, ferm: minibatch size", valid=(lambda v: v >= 1, ">= 1"))
    sac_buffer: int = setting(1_000_000, "sac, ferm: replay capacity in transitions", valid=(lambda v: v >= 1, ">= 1"))
    sac_demo_fraction: float = setting(
        0.25,
        "sac, ferm: share of each minibatch drawn from the demonstrations' transitions",
        valid=(lambda v: 0 <= v < 1, "in [0, 1)"),
    )
    sac_lr: float = setting(1e-3, "sac, ferm: Adam learning rate of actor and critics", valid=(lambda v: v > 0, "> 0"))
    sac_tau: float = setting(
        0.01,
        "sac, ferm: Polyak rate of the critic targets",
        valid=(lambda v: 0 < v <= 1, "in (0, 1]"),
    )
    sac_target_update_every: int = setting(
        2,
        "sac, ferm: the critic targets (and FERM's target encoder) step every this many critic updates (FERM's "
        "critic_target_update_freq: 2 by default, 1 in the RRL authors' FERM config)",
        valid=(lambda v: v >= 1, ">= 1"),
    )
    sac_gamma: float = setting(0.99, "sac, ferm: discount", valid=(lambda v: 0 <= v <= 1, "in [0, 1]"))
    sac_init_temperature: float = setting(
        0.1,
        "sac, ferm: initial entropy temperature alpha (learned towards --sac-target-entropy per action dimension)",
        valid=(lambda v: v > 0, "> 0"),
    )
    sac_alpha_beta: float = setting(
        0.5,
        "sac, ferm: beta_1 of the temperature's Adam (the CURL/RAD/FERM code's 0.5)",
        valid=(lambda v: 0 <= v < 1, "in [0, 1)"),
    )
    sac_critic_layer_norm: bool = setting(
        True,
        "sac, ferm: LayerNorm in the critics' hidden layers (keeps Q from diverging on demo data)",
    )
    sac_bc_weight: float = setting(
        0.0,
        "sac: weight of a behaviour-cloning term on the demo rows of each batch in the actor's loss, relative to "
        "the batch's mean |Q| (TD3+BC's normalisation; 0.4 is its alpha 2.5; 0: plain SAC)",
        valid=(lambda v: v >= 0, ">= 0"),
    )
    sac_target_entropy: float = setting(
        -1.0,
        "sac, ferm: the temperature aims at this entropy per action dimension (SAC's -1; a Gaussian of std sigma "
        "has 1.42 + log(sigma) per dimension, so -2 aims at sigma 0.03)",
        valid=(lambda v: v <= 2, "<= 2"),
    )
    sac_max_log_std: float = setting(
        2.0,
        "sac, ferm: upper bound of the actor's log std before the tanh (SAC's 2; -2.3 caps the exploration noise at "
        "std 0.1, as a small --init-log-std does for DAPG)",
        valid=(lambda v: -10 < v <= 2, "in (-10, 2]"),
    )
    sac_min_log_std: float = setting(
        -10.0,
        "sac, ferm: lower bound of the actor's log std before the tanh (SAC's -10); equal to --sac-max-log-std, the "
        "exploration noise has that fixed std, as TD3's and DrQ-v2's do",
        valid=(lambda v: -10 <= v < 2, "in [-10, 2)"),
    )
    sac_actor: str = setting(
        "sac",
        "sac: the actor's objective: sac (follow the critic's action gradient, SAC Eq. 7) or awac (the buffer's own "
        "actions weighted by exp(advantage / --sac-awac-beta), Nair et al. 2020)",
        valid=(lambda v: v in SAC_ACTORS, " or ".join(SAC_ACTORS)),
    )
    sac_awac_beta: float = setting(
        0.5,
        "sac: AWAC's temperature lambda of the advantage weights (its hand experiments: 0.5)",
        valid=(lambda v: v > 0, "> 0"),
    )
    sac_awac_normalize: bool = setting(
        False,
        "sac: divide AWAC's advantages by their std within the batch before the weights (the weights then select "
        "alike at any scale of the critic's values: exp(-1 / beta^2) of the batch's rows effective, 37%% at beta 1)",
    )
    sac_awac_space: str = setting(
        "pretanh",
        "sac: where AWAC's actor takes the likelihood of the batch's actions: pretanh (a Gaussian before the tanh, "
        "AWAC's; actions at the bounds become far targets) or action (a Gaussian around tanh(mu) in the action "
        "space, where behaviour cloning fitted the actor)",
        valid=(lambda v: v in AWAC_SPACES, " or ".join(AWAC_SPACES)),
    )
    sac_awac_demo_rows: bool = setting(
        True,
        "sac: AWAC's actor learns from the demonstrations' rows of each batch too (off: from the online rows only, "
        "while the critics learn from both, and --sac-offline-updates, on demonstrations only, train the critics "
        "alone; at a small fixed std the demonstrations' rows can carry nearly all of the actor's loss, "
        "scripts/diagnose_sac.py)",
    )
    sac_trunk_dim: int = setting(
        0,
        "sac: > 0: actor and critics first map the input to this many features, tanh(LayerNorm(linear)), each "
        "network its own trunk, the critics' shared by both heads (DrQ-v2's trunk, 50 there); 0: none",
        valid=(lambda v: v >= 0, ">= 0"),
    )
    sac_n_step: int = setting(
        1,
        "sac: the critics learn from n-step returns: each stored transition's reward is the discounted sum of the "
        "next n rewards and its target bootstraps from the state n steps on with gamma^n (DrQ-v2 and VRL3: 3); 0: "
        "Monte-Carlo returns, the discounted sum of the rewards to the episode's end with no bootstrap (the critics "
        "then estimate the value of the behaviour that filled the buffer, AWR's targets, Peng et al. 2019)",
        valid=(lambda v: v >= 0, ">= 0"),
    )
    sac_learn_temperature: bool = setting(
        True,
        "sac, ferm: learn alpha towards --sac-target-entropy (SAC); off: alpha stays --sac-init-temperature",
    )
    sac_offline_updates: int = setting(
        0,
        "sac, ferm: SAC updates on the demonstrations alone after the BC (sac) or CURL (ferm) warm-up, before any "
        "interaction (0: none; FERM's code: warmup_offline_sac)",
        valid=(lambda v: v >= 0, ">= 0"),
    )
    sac_actor_max_kl: float = setting(
        0.0,
        "sac: > 0: after each iteration's updates the actor's change is halved until the mean KL from the policy "
        "that collected the iteration's episodes, on their states, is at most this (a trust region, as DAPG's "
        "step; logged as kl and step_backtracks; 0: none)",
        valid=(lambda v: v >= 0, ">= 0"),
    )
    sac_actor_delay: int = setting(
        0,
        "sac: environment samples (those of --bc-candidates included) before the actor's first update: until then "
        "only the critics learn and the actor keeps its warm-up (BC) policy, so the buffer fills with that "
        "policy's episodes (0: from the start)",
        valid=(lambda v: v >= 0, ">= 0"),
    )
    ferm_curl_updates: int = setting(
        1600,
        "ferm: CURL updates on the demo-filled buffer before RL (FERM: 1600)",
        valid=(lambda v: v >= 0, ">= 0"),
    )
    ferm_curl_encoder_steps: int = setting(
        1,
        "ferm: Adam steps the encoder takes per CURL update (2: FERM's code, whose encoder is in two optimisers)",
        valid=(lambda v: v in (1, 2), "1 or 2"),
    )
    ferm_feature_dim: int = setting(
        50,
        "ferm: output size of the learned encoder (FERM: 50)",
        valid=(lambda v: v >= 1, ">= 1"),
    )
    ferm_encoder_tanh: bool = setting(
        False,
        "ferm: a tanh after the encoder's LayerNorm (SAC-AE's encoder; FERM's code has none)",
    )
    ferm_encoder_tau: float = setting(
        0.05,
        "ferm: Polyak rate of the target (CURL key) encoder",
        valid=(lambda v: 0 < v <= 1, "in (0, 1]"),
    )
    preset: str | None = setting(
        None,
        "paper, cpu or smoke (rrl.config.PRESETS): fills in settings first, flags given beside it win; recorded "
        "as the preset the run started from (default: none)",
    )
    out: str | None = setting(None, "run folder (default: runs/<task>_<input>_<algo>_<demos>_<reward>_s<seed>)")

    def __post_init__(self) -> None:
        get_task(self.task)
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; valid: {', '.join(ALGOS)}")
        if self.sac_min_log_std > self.sac_max_log_std:
            raise ValueError(f"sac_min_log_std ({self.sac_min_log_std}) is above sac_max_log_std "
                             f"({self.sac_max_log_std}); pass a smaller --sac-min-log-std")  # fmt: skip
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
        if self.trajectories is None:  # appendix 7.1: 40,000 samples an iteration (pen's episodes are 100 steps)
            object.__setattr__(self, "trajectories", 400 if self.task == "pen" else 200)
        object.__setattr__(self, "policy_size", tuple(int(h) for h in self.policy_size))
        object.__setattr__(self, "vf_size", tuple(int(h) for h in self.vf_size))
        self._check_ranges()
        if self.step_norm not in STEP_NORMS:
            raise ValueError(f"step_norm must be one of {STEP_NORMS}, got {self.step_norm!r}")
        if not 0 <= self.rl_frozen_layers <= len(self.policy_size):
            raise ValueError(
                f"rl_frozen_layers must be in [0, {len(self.policy_size)}] (the policy's hidden layers; the output "
                f"layer always learns), got {self.rl_frozen_layers}"
            )
        if self.fvp_precision not in FVP_PRECISIONS:
            raise ValueError(f"fvp_precision must be one of {FVP_PRECISIONS}, got {self.fvp_precision!r}")
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
        if self.proprio_arm and self.obs != "rgb+proprio":
            raise ValueError(
                f"proprio_arm adds arm joints to the proprioception of obs='rgb+proprio', not {self.obs!r}"
            )
        if self.algo == "ferm" and not self.is_pixel:
            raise ValueError("--algo ferm learns from pixels: add --obs rgb+proprio (or rgb), or --preset cpu|paper")
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for name, why in NOT_FOR_FERM:
            if self.algo == "ferm" and getattr(self, name) != defaults[name]:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} does not act on --algo ferm: {why} (drop {flag})")
        if not self.sac_awac_demo_rows and self.sac_actor != "awac":
            raise ValueError("--no-sac-awac-demo-rows acts on AWAC's actor only: add --sac-actor awac or drop it")
        if self.algo == "sac" and self.sac_actor == "awac" and self.sac_learn_temperature:
            raise ValueError("--sac-actor awac has no entropy term, so a learned temperature would drift while it "
                             "enters the critic's targets: add --no-sac-learn-temperature (and --sac-init-temperature "
                             "for the value to hold, e.g. 0.0001)")  # fmt: skip
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
        for f in dataclasses.fields(self):
            rule = f.metadata.get("valid")
            if rule is not None and not rule[0](getattr(self, f.name)):
                raise ValueError(f"{_flag(f.name)} must be {rule[1]}, got {getattr(self, f.name)}")
        if self.init_log_std is not None and self.init_log_std < self.min_log_std:
            raise ValueError(f"init_log_std ({self.init_log_std}) must be >= min_log_std ({self.min_log_std})")

    def _check_state_embed(self) -> None:
        object.__setattr__(self, "state_embed_keep", tuple(str(x) for x in self.state_embed_keep))
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
        recorded_before = RECORDED_BEFORE.get(d.get("algo"), {})
        return TrainConfig(**{**{k: v for k, v in recorded_before.items() if k not in d}, **d})


def _flag(name: str) -> str:
    """A config field as the user sets it: ``--rl-step-size (rl_step_size)``."""
    return f"--{name.replace('_', '-')} ({name})"


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


FLAG_HELP = {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}  # `rrl train --help`


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
