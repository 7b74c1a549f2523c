"""Algorithm 1 of the paper: demonstrations -> behaviour cloning -> DAPG (or NPG) iterations.

>>> from rrl.train import TrainConfig, train, resume
>>> run_dir = train(TrainConfig(task="door", algo="dapg", demos="expert", iterations=50, out="runs/door"))
>>> resume("runs/door")    # continues a killed run; the next iteration equals the uninterrupted run's

The loop only sees policy-input vectors: a :class:`~rrl.sampling.Sampler` returns trajectories whose
observations are already featurized, and demonstrations arrive as :class:`~rrl.sampling.DemoData` in the same
space. :func:`train` builds the state-based sampler and demos itself; pass ``sampler=`` and ``demos=`` to train
on anything else (e.g. ``[encoder(frames), proprioception]``).

Run folder: ``config.json`` (every hyper-parameter, the command line, versions), ``log.csv`` (one row per
iteration), ``tb/`` (TensorBoard), ``curve.png``, ``bc.json`` (BC losses), ``checkpoint.pt`` (written
atomically after every iteration), ``summary.json`` (final evaluation).

Iteration ``k`` (row ``k`` of the log): collect ``trajectories`` stochastic rollouts with the policy
``theta_k`` (training success), evaluate ``theta_k`` deterministically (evaluation success), then update
``theta_k -> theta_{k+1}`` (advantages, DAPG gradient, conjugate gradient, step) and fit the baseline on the
batch's returns (Algorithm 1 line 14). Row 0 of a DAPG run therefore describes the BC policy.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rrl.algos.bc import behavior_clone
from rrl.algos.dapg import dapg_gradient, demo_weight, policy_advantages
from rrl.algos.gae import compute_gae, discounted_returns
from rrl.algos.npg import mean_kl, npg_step
from rrl.baseline import ValueBaseline
from rrl.checkpoint import (
    CHECKPOINT,
    CHECKPOINT_FORMAT,
    identity_mismatch,
    parse_rng,
    read_checkpoint,
    read_run_meta,
    set_rng,
    training_state,
    write_checkpoint,
)
from rrl.config import ALGOS, BC_STAGE_FIELDS, IDENTITY_FIELDS, TrainConfig, add_config_arguments, config_overrides
from rrl.errors import one_line
from rrl.paths import atomic_write
from rrl.policy import CONSTANT_STD, GaussianMLP
from rrl.sampling import DemoData, RandomStateFeatures, Sampler, StateFeaturizer, TrajectoryBatch, evaluate_policy

__all__ = [
    "ALGOS",
    "IDENTITY_FIELDS",
    "LOG_COLUMNS",
    "TrainConfig",
    "Trainer",
    "TrainingDivergedError",
    "add_config_arguments",
    "config_overrides",
    "load_demo_set",
    "load_state_demos",
    "load_visual_demos",
    "make_default_sampler",
    "state_featurizer",
    "make_run_encoder",
    "pixel_env_config",
    "plot_curves",
    "read_log",
    "resume",
    "train",
]

RUN_DEMOS = "demos.h5"  # the run's own copy of its demonstrations (a moved run resumes with exactly these)

LOG_COLUMNS = (
    "iteration", "samples", "success_train", "success_eval", "return_train", "return_eval",
    "kl", "step_size", "step_backtracks", "demo_weight", "grad_norm", "log_std_mean",
    "vf_error_before", "vf_error_after",
    "t_sample", "t_eval", "t_advantages", "t_gradient", "t_cg", "t_step", "t_vf", "t_iteration",
    "wall_time", "rss_peak_mb",
    "critic_loss", "alpha", "entropy", "updates", "t_update",  # --algo sac
)  # fmt: skip


class TrainingDivergedError(RuntimeError):
    """A non-finite value appeared in an update; the last good checkpoint was left untouched."""


# --------------------------------------------------------------------------------------------- seeding
_STREAM_TRAIN, _STREAM_EVAL, _STREAM_VF, _STREAM_FVP = 1, 2, 3, 4


def stream_seed(seed: int, iteration: int, stream: int) -> int:
    """An independent 31-bit seed for one purpose (``stream``) of one iteration of run ``seed``."""
    ss = np.random.SeedSequence([int(seed), int(iteration), int(stream)])
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


# ------------------------------------------------------------------------------------ demos and sampler
def load_demo_set(cfg: TrainConfig, run_dir: str | Path | None = None):
    """The :class:`rrl.demos.DemoSet` of ``cfg.demos`` (first ``n_demos`` trajectories), or None for ``none``.

    Expert demonstrations are generated once and cached in ``rrl.paths.cache_dir()/demos``. With ``run_dir``,
    the run's own copy (``RUN_DEMOS``, written when the run started) wins: expert rollouts regenerated on another
    machine can differ (contact-rich simulation amplifies float rounding), the run's demonstrations do not.
    """
    if cfg.demos == "none":
        return None
    from rrl import demos as rd

    if run_dir is not None and (Path(run_dir) / RUN_DEMOS).is_file():
        demo_set = rd.load_demos(Path(run_dir) / RUN_DEMOS, task=cfg.task)
    elif cfg.demos == "expert":
        path = rd.default_demo_path(cfg.task, "expert", cfg.n_demos, cfg.demo_seed)
        if path.exists():
            demo_set = rd.load_demos(path, task=cfg.task)
        else:
            try:
                demo_set = rd.make_expert_demos(cfg.task, n=cfg.n_demos, seed=cfg.demo_seed)
            except RuntimeError as err:  # the expert policy failed too often
                raise ValueError(f"cannot make expert demonstrations for {cfg.task}: {err}") from None
            try:
                rd.save_demos(demo_set, path)
            except FileExistsError:  # a run started alongside cached the same rollouts meanwhile
                pass
            except OSError as err:  # a read-only cache is not fatal
                print(f"note: could not cache expert demos at {path}: {err}", file=sys.stderr)
    elif cfg.demos == "human":
        demo_set = rd.human_door_demos()
    else:
        demo_set = rd.load_demos(cfg.demos, task=cfg.task)
    n = cfg.n_demos
    if len(demo_set.trajectories) < n:
        raise ValueError(
            f"n_demos={n} but the demonstrations ({cfg.demos}) hold {len(demo_set.trajectories)} trajectories; "
            f"pass --n-demos {len(demo_set.trajectories)} or a larger demo file"
        )
    return dataclasses.replace(demo_set, trajectories=demo_set.trajectories[:n], episode_info=demo_set.episode_info[:n])


def state_featurizer(cfg: TrainConfig, demo_set: Any = None, run_dir: str | Path | None = None) -> StateFeaturizer:
    """The policy input of a state run: the state without ``cfg.state_hide``; with ``cfg.state_embed``, that many
    random ReLU features of it (:class:`rrl.sampling.RandomStateFeatures`, standardised by the demonstrations
    ``demo_set``; when None, those of ``load_demo_set(cfg, run_dir)``) followed by the raw parts
    ``cfg.state_embed_keep``."""
    visible = StateFeaturizer.for_task(cfg.task, cfg.state_hide)
    if not cfg.state_embed:
        return visible
    demo_set = load_demo_set(cfg, run_dir) if demo_set is None else demo_set
    states = np.concatenate([visible(t["observations"]) for t in demo_set.trajectories])
    embedding = RandomStateFeatures(states.mean(axis=0), states.std(axis=0), cfg.state_embed, seed=cfg.seed)
    return StateFeaturizer(visible.columns, embedding, cfg.state_keep_columns())


def load_state_demos(cfg: TrainConfig, demo_set: Any = None) -> DemoData | None:
    """The demonstrations of ``cfg`` (or ``demo_set``) as state-space (observation, action) pairs, or None for
    ``demos='none'`` (without the state parts ``cfg.state_hide``, as the sampler does)."""
    demo_set = load_demo_set(cfg) if demo_set is None else demo_set
    if demo_set is None:
        return None
    featurize = state_featurizer(cfg, demo_set)
    trajectories = [
        {"observations": featurize(t["observations"]), "actions": t["actions"]} for t in demo_set.trajectories
    ]
    return DemoData.from_trajectories(trajectories, source_fingerprint=demo_set.fingerprint())


def pixel_env_config(cfg: TrainConfig, distractor: str | None = None):
    """The :class:`rrl.envs.EnvConfig` of a pixel run (cameras, render and crop size, noise, reward)."""
    from rrl.envs import EnvConfig

    return EnvConfig(
        task=cfg.task, obs_mode=cfg.obs, reward=cfg.reward, cameras=cfg.cameras, render_size=cfg.render_size,
        crop_size=cfg.image_size, proprio_noise=cfg.proprio_noise, include_arm=cfg.proprio_arm, horizon=cfg.horizon,
        distractor=distractor, multisample=cfg.multisample,
    )  # fmt: skip


def make_run_encoder(cfg: TrainConfig):
    """The frozen encoder of a pixel run. Missing weights raise here, before any environment starts."""
    from rrl.encoders import make_encoder

    return make_encoder(
        cfg.encoder, backend=cfg.encoder_backend, device=cfg.device, image_size=cfg.image_size,
        weights=cfg.encoder_weights, seed=cfg.seed,
    )  # fmt: skip


def load_visual_demos(cfg: TrainConfig, encoder: Any, progress: bool = False, demo_set: Any = None) -> DemoData | None:
    """The demonstrations of ``cfg`` (or ``demo_set``) in the policy-input space of a pixel run:
    ``[encoder(frames), proprio]``.

    Frames are re-rendered from the recorded simulator states and their features cached
    (:func:`rrl.demos.visual_features`); proprioception is read from the recorded ``qpos`` without noise.
    """
    demo_set = load_demo_set(cfg) if demo_set is None else demo_set
    if demo_set is None:
        return None
    from rrl.demos import demo_proprio, visual_features

    env_cfg = pixel_env_config(cfg)
    report = (lambda msg: print(msg, file=sys.stderr)) if progress else None
    feats = visual_features(demo_set, encoder, env_cfg, progress=report)
    if cfg.obs == "rgb+proprio":
        feats = [np.concatenate([f, p], axis=1) for f, p in zip(feats, demo_proprio(demo_set, env_cfg))]
    return DemoData.from_trajectories(
        [{"observations": f, "actions": t["actions"]} for f, t in zip(feats, demo_set.trajectories)],
        source_fingerprint=demo_set.fingerprint(),
    )


def make_default_sampler(
    cfg: TrainConfig,
    encoder: Any = None,
    distractor: str | None = None,
    demo_set: Any = None,
    run_dir: str | Path | None = None,
) -> Sampler:
    """The sampler of ``cfg``: the vector-env state sampler, or the pipelined pixel sampler around ``encoder``
    (``distractor``: a visual distractor resampled every episode, for evaluation; ``demo_set`` / ``run_dir``: the
    demonstrations that standardise a ``state_embed`` run's embedding, see :func:`state_featurizer`)."""
    if not cfg.is_pixel:
        from rrl.sampling import make_state_sampler

        return make_state_sampler(
            cfg.task, workers=cfg.workers, reward=cfg.reward, horizon=cfg.horizon, noise=cfg.state_noise,
            featurizer=state_featurizer(cfg, demo_set, run_dir),
            critic_featurizer=StateFeaturizer() if cfg.critic_input == "state" else None,
        )  # fmt: skip
    if encoder is None:
        raise ValueError(f"obs={cfg.obs!r} needs an encoder (make_run_encoder(cfg))")
    from rrl.sampling.pipelined import PipelinedSampler, PipelinedSamplerConfig, StateFromObservation, VisualFeaturizer

    privileged = cfg.critic_input == "state"
    env_cfg = dataclasses.replace(pixel_env_config(cfg, distractor), include_state=privileged)
    featurizer = VisualFeaturizer(encoder, n_cameras=len(env_cfg.camera_names), proprio_dim=cfg.proprio_dim)
    layout = PipelinedSamplerConfig(
        n_envs=cfg.n_envs, n_groups=cfg.n_groups, backend=cfg.sampler_backend, ray_address=cfg.ray_address
    )
    critic_featurizer = StateFromObservation() if privileged else None
    return PipelinedSampler(env_cfg, featurizer, layout, critic_featurizer=critic_featurizer)


def make_policy(cfg: TrainConfig, obs_dim: int, act_dim: int) -> GaussianMLP:
    """The (unfitted) policy of ``cfg`` for ``obs_dim`` inputs: its size, log-std settings and input PCA."""
    return GaussianMLP(
        obs_dim, act_dim, cfg.policy_size,
        init_log_std=cfg.init_log_std if cfg.init_log_std is not None else 0.0, min_log_std=cfg.min_log_std,
        pca_components=cfg.input_pca, pca_tail=cfg.raw_input_tail if cfg.input_pca else 0,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ the trainer
class Trainer:
    """State of one run (policy, baseline, counters) and one method per stage of Algorithm 1."""

    def __init__(self, cfg: TrainConfig, sampler: Sampler, demos: DemoData | None, run_dir: Path) -> None:
        self.cfg, self.sampler, self.demos, self.run_dir = cfg, sampler, demos, Path(run_dir)
        self.task = cfg.task_spec
        if demos is not None and demos.observations.shape[1] != sampler.obs_dim:
            raise ValueError(
                f"demo observations have {demos.observations.shape[1]} features but the sampler's policy input has "
                f"{sampler.obs_dim}; featurize the demos the way the sampler featurizes observations"
            )
        if demos is not None and demos.actions.shape[1] != sampler.act_dim:
            raise ValueError(f"demo actions have {demos.actions.shape[1]} dims, the env {sampler.act_dim}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.policy = make_policy(cfg, sampler.obs_dim, sampler.act_dim)
            self.baseline = ValueBaseline(
                sampler.critic_dim if cfg.critic_input == "state" else sampler.obs_dim,
                horizon=cfg.effective_horizon,
                hidden_sizes=cfg.vf_size,
                lr=cfg.vf_lr,
                weight_decay=cfg.vf_weight_decay,
                batch_size=cfg.vf_batch_size,
                epochs=cfg.vf_epochs,
            )
        self.next_iteration = 0
        self.samples = 0
        self.demo_obs = torch.as_tensor(demos.observations) if demos is not None else None
        self.demo_act = torch.as_tensor(demos.actions) if demos is not None else None

    # ------------------------------------------------------------------------------------ BC stage
    def behavior_clone(self) -> dict[str, Any]:
        """Fit shift/scale (and log-std) to the demos and run BC (Eq. 5). No-op without demos."""
        if self.demos is None:
            return {"bc_losses": []}
        check_demos_finite(self.demos, self.cfg.demos)
        self.policy.fit_to_demos(
            self.demos.observations,
            self.demos.actions,
            set_log_std=self.cfg.init_log_std is None,
            scale_floor=input_scale_floor(self.cfg, self.demos.observations),
        )
        losses = behavior_clone(
            self.policy,
            self.demos.observations,
            self.demos.actions,
            epochs=self.cfg.bc_epochs,
            batch_size=self.cfg.bc_batch_size,
            lr=self.cfg.bc_lr,
            seed=self.cfg.seed,
        )
        if not all(bool(torch.isfinite(p).all()) for p in self.policy.state_dict().values() if p.is_floating_point()):
            raise ValueError(
                f"behaviour cloning gave non-finite policy weights (losses {losses[-3:]}); lower --bc-lr or check "
                f"the demonstrations ({self.cfg.demos})"
            )
        return {"bc_losses": losses}

    # ------------------------------------------------------------------------------------ iteration
    def iteration(self, k: int) -> dict[str, float]:
        """Sample, evaluate and (unless BC-only) update; returns the log row. Raises on non-finite values."""
        cfg, row = self.cfg, {"iteration": k}
        t_start = time.perf_counter()
        batch = self.sampler.collect(self.policy, cfg.trajectories, stream_seed(cfg.seed, k, _STREAM_TRAIN))
        self.samples += batch.n_samples
        row.update(samples=self.samples, success_train=batch.success_rate(self.task))
        row["return_train"] = float(batch.trajectory_returns().mean())
        row["t_sample"] = time.perf_counter() - t_start

        t0 = time.perf_counter()
        if cfg.eval_episodes > 0 and k % cfg.eval_every == 0:
            ev = evaluate_policy(
                self.sampler, self.policy, self.task, cfg.eval_episodes, stream_seed(cfg.seed, 0, _STREAM_EVAL)
            )
            row.update(success_eval=ev.success_rate, return_eval=ev.mean_return)
        else:
            row.update(success_eval=math.nan, return_eval=math.nan)
        row["t_eval"] = time.perf_counter() - t0

        if cfg.algo != "bc":
            row.update(self.update(batch, k))
        row["log_std_mean"] = float(self.policy.log_std.detach().mean())
        row["t_iteration"] = time.perf_counter() - t_start
        return row

    def critic_observations(self, batch: TrajectoryBatch) -> np.ndarray:
        """What the value baseline sees: the policy input, or the recorded state (``critic_input='state'``)."""
        if self.cfg.critic_input == "policy":
            return batch.observations
        if batch.critic_observations is None:
            raise ValueError("critic_input='state' needs a sampler that records critic_observations")
        return batch.critic_observations

    def advantages(self, batch: TrajectoryBatch) -> np.ndarray:
        """GAE advantages of ``batch`` under the current baseline, standardised if ``normalize_advantages``."""
        cfg = self.cfg
        values = self.baseline.predict(self.critic_observations(batch), batch.timesteps)
        adv = compute_gae(batch.rewards, values, batch.lengths, cfg.rl_gamma, cfg.rl_gae)
        return (adv - adv.mean()) / (adv.std() + 1e-8) if cfg.normalize_advantages else adv

    def update(self, batch: TrajectoryBatch, k: int) -> dict[str, float]:
        """One DAPG/NPG update (Eq. 4-9) and the baseline fit, timed by phase."""
        cfg, out = self.cfg, {}
        t0 = time.perf_counter()
        adv = self.advantages(batch)
        returns = discounted_returns(batch.rewards, batch.lengths, cfg.rl_gamma)
        _check_finite(k, "advantages", adv, self.run_dir)
        t1 = time.perf_counter()
        out["t_advantages"] = t1 - t0

        obs = torch.as_tensor(batch.observations)
        act = torch.as_tensor(batch.actions)
        use_demos = cfg.algo == "dapg" and self.demo_obs is not None
        w = demo_weight(adv, k, cfg.lam_0, cfg.lam_1, cfg.demo_weight) if use_demos else 0.0
        adv_pi = policy_advantages(adv, cfg.demo_weight) if use_demos else adv
        mean_pi = self.policy(obs)  # one forward pass shared by the gradient, the Fisher and the KL
        grad = dapg_gradient(
            self.policy,
            obs,
            act,
            torch.as_tensor(adv_pi, dtype=torch.float32),
            self.demo_obs,
            self.demo_act,
            w,
            policy_mean=mean_pi,
        )
        _check_finite(k, "policy gradient", grad, self.run_dir)
        t2 = time.perf_counter()
        out.update(demo_weight=w, grad_norm=float(grad.norm()), t_gradient=t2 - t1)

        old_mean, old_log_std = mean_pi.detach(), self.policy.log_std.detach().clone()
        gen = torch.Generator().manual_seed(stream_seed(cfg.seed, k, _STREAM_FVP))
        step = npg_step(
            self.policy,
            obs,
            grad,
            cfg.rl_step_size,
            cfg.cg_iters,
            cfg.cg_damping,
            cfg.fvp_sample_frac,
            gen,
            policy_mean=mean_pi,
            precision=cfg.fvp_precision,
            step_norm=cfg.step_norm,
            trainable=self.policy.trainable_mask(cfg.rl_frozen_layers) if cfg.rl_frozen_layers else None,
        )
        del mean_pi
        _check_finite(k, "natural gradient direction", step.direction, self.run_dir)
        _check_finite(k, "step size", np.array([step.step_size]), self.run_dir)
        t3 = time.perf_counter()
        out.update(step_size=step.step_size, t_cg=t3 - t2)

        old_params = self.policy.flat_params()
        self.policy.set_flat_params(step.new_params)
        kl = mean_kl(self.policy, obs, old_mean, old_log_std)
        # Safety net (not in the paper): where the quadratic model of Eq. 6 fails -- few samples for many
        # parameters make F rank-deficient, and the demo term of Eq. 8 points into its null space -- the
        # measured KL can exceed the trust region by orders of magnitude; halve the step until it is back.
        backtracks = 0
        while cfg.max_kl_ratio > 0 and not kl <= cfg.max_kl_ratio * cfg.rl_step_size and backtracks < 15:
            backtracks += 1
            self.policy.set_flat_params(old_params + 0.5**backtracks * (step.new_params - old_params))
            kl = mean_kl(self.policy, obs, old_mean, old_log_std)
        if not math.isfinite(kl) or not all(bool(torch.isfinite(p).all()) for p in self.policy.parameters()):
            self.policy.set_flat_params(old_params)
            _raise_diverged(k, "policy parameters or KL after the step", self.run_dir)
        t4 = time.perf_counter()
        out.update(kl=kl, step_backtracks=backtracks, step_size=step.step_size * 0.5**backtracks, t_step=t4 - t3)

        vf = self.baseline.fit(
            self.critic_observations(batch),
            batch.timesteps,
            returns,
            np.random.default_rng(stream_seed(cfg.seed, k, _STREAM_VF)),
        )
        if not self.baseline.parameters_finite() or not all(math.isfinite(v) for v in vf.values()):
            _raise_diverged(k, "value baseline after its fit", self.run_dir)
        out.update(vf, t_vf=time.perf_counter() - t4)
        return out

    # ----------------------------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        return training_state(self, baseline=self.baseline.state_dict())

    def _check_demos(self, state: dict[str, Any], adopt_demos: bool = False) -> None:
        """A resumed run must learn from the demonstrations it started with (the DAPG term, Eq. 8).

        The demonstrations themselves (simulator states, actions) must be equal. Their policy inputs may differ
        by rounding when the encoder's device or backend changed (a run moved from a GPU box to a CPU): a note.
        Checkpoints without ``demo_set_fingerprint`` (written before rrl recorded it) compare policy inputs only;
        ``adopt_demos`` accepts the demonstrations loaded now for such a checkpoint (the user vouches for them).
        """
        inputs = self.demos.fingerprint() if self.demos is not None else None
        saved_set = state.get("demo_set_fingerprint")
        have_set = self.demos.source_fingerprint if self.demos is not None else None
        if saved_set is not None and have_set is not None:
            if saved_set != have_set:
                raise ValueError(
                    f"the demonstrations differ from those the run was trained with (simulator states or actions); "
                    f"the run's own copy is {self.run_dir / RUN_DEMOS}: restore it there, or start a new run"
                )
            if state["demo_fingerprint"] != inputs:
                print(
                    "note: the demonstrations' policy inputs differ from the checkpoint's by rounding (the encoder's "
                    "device or backend changed); continuing with these",
                    file=sys.stderr,
                )
        elif state["demo_fingerprint"] != inputs:
            if adopt_demos:
                print(
                    "note: --adopt-demos: the checkpoint predates the run's own demos.h5 and its demonstrations' "
                    "policy inputs differ from these; continuing with these and keeping them as the run's demos",
                    file=sys.stderr,
                )
                return
            raise ValueError(
                "the demonstrations' policy inputs differ from those the run was trained with (fingerprint mismatch): "
                "other demonstrations, or features from another encoder device or backend. This checkpoint predates "
                "the run folder's own demos.h5: if these are the same demonstrations (same demo file, or expert "
                "rollouts with the same demo seed) featurized on another device or backend, resume with "
                "--adopt-demos; otherwise start a new run"
            )

    def load_state_dict(self, state: dict[str, Any], adopt_demos: bool = False) -> None:
        """Restore a state from :func:`rrl.checkpoint.read_checkpoint` (:func:`_check_identity` first)."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint format {state.get('format')!r}, this rrl reads {CHECKPOINT_FORMAT}")
        self._check_demos(state, adopt_demos)
        try:
            self.policy.load_state_dict(state["policy"])
            self.baseline.load_state_dict(state["baseline"])
            rng = parse_rng(state["rng"])
        except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as err:
            raise ValueError(
                f"the checkpoint in {self.run_dir} does not fit this run ({one_line(err)}); it belongs to another run "
                "or is damaged: resume from a copy that holds the run's own checkpoint.pt"
            ) from None
        self.next_iteration = int(state["next_iteration"])
        self.samples = int(state["samples"])
        set_rng(rng)

    def save_checkpoint(self) -> Path:
        """Write ``checkpoint.pt`` atomically with its checksum (:func:`rrl.checkpoint.write_checkpoint`)."""
        return write_checkpoint(self.run_dir / CHECKPOINT, self.state_dict())


def check_demos_finite(demos: DemoData, source: str) -> None:
    """Demonstrations with NaN or inf would give an all-NaN BC policy: refuse them, naming where they came from."""
    for what, values in (("observations", demos.observations), ("actions", demos.actions)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise ValueError(
                f"the demonstrations ({source}) hold {bad} NaN or inf values in their {what}; BC would learn "
                "nothing. Remake or replace the demo file"
            )


def input_scale_floor(cfg: TrainConfig, demo_observations: np.ndarray) -> np.ndarray | float:
    """Per-dimension floor of the policy's input scale: for pixel and ``state_embed`` runs,
    ``cfg.feature_scale_floor`` times the median std of the (non-constant) features on the demos; 0 for
    proprioception, kept state parts and plain state inputs. Without it a feature that is almost always 0 on the
    demos (a ReLU that rarely fires) is divided by a tiny std and reaches hundreds when it fires on-policy."""
    if not (cfg.is_pixel or cfg.state_embed) or cfg.feature_scale_floor <= 0:
        return 0.0
    n_feat = demo_observations.shape[1] - cfg.raw_input_tail
    std = demo_observations[:, :n_feat].std(axis=0)
    moving = std[std >= CONSTANT_STD]
    floor = np.zeros(demo_observations.shape[1])
    floor[:n_feat] = cfg.feature_scale_floor * (np.median(moving) if len(moving) else 0.0)
    return floor


def _check_finite(k: int, what: str, values: Any, run_dir: Path) -> None:
    arr = values.detach().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if not np.all(np.isfinite(arr)):
        _raise_diverged(k, what, run_dir)


def _raise_diverged(k: int, what: str, run_dir: Path) -> None:
    ckpt = run_dir / CHECKPOINT
    last = (
        f"the last good checkpoint {ckpt} (after iteration {k - 1}) is intact"
        if ckpt.exists()
        else "no checkpoint was written yet"
    )
    raise TrainingDivergedError(
        f"non-finite {what} in the update of iteration {k}: the run stopped and nothing of iteration {k} was "
        f"saved; {last}. Try a smaller rl_step_size or larger cg_damping, then "
        f"`rrl train --resume {run_dir} --rl-step-size ...`."
    )


# ------------------------------------------------------------------------------------------- logging
class RunLogger:
    """CSV log, TensorBoard events and the PNG curve of a run folder."""

    def __init__(self, run_dir: Path, start_iteration: int, title: str) -> None:
        self.run_dir, self.title = run_dir, title
        self.csv_path = run_dir / "log.csv"
        self._truncate_csv(start_iteration)
        from torch.utils.tensorboard import SummaryWriter

        self.tb = SummaryWriter(
            log_dir=str(run_dir / "tb"), purge_step=start_iteration if start_iteration > 0 else None
        )

    def _truncate_csv(self, start_iteration: int) -> None:
        """Keep header and rows of iterations before ``start_iteration`` (a resumed run rewrites the rest)."""
        rows = read_log(self.csv_path) if self.csv_path.exists() else []
        rows = [r for r in rows if int(r["iteration"]) < start_iteration]

        def write(f: Any) -> None:
            writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
            writer.writeheader()
            writer.writerows({c: r.get(c, "") for c in LOG_COLUMNS} for r in rows)

        atomic_write(self.csv_path, write)  # a kill mid-rewrite keeps the old log, not half of it

    def log(self, row: dict[str, float]) -> None:
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=LOG_COLUMNS).writerow({c: _fmt(row.get(c, math.nan)) for c in LOG_COLUMNS})
        k = int(row["iteration"])
        for key in LOG_COLUMNS[1:]:
            value = row.get(key, math.nan)
            if isinstance(value, (int, float)) and math.isfinite(value):
                group = (
                    "time" if key.startswith("t_") else "rollout" if ("success" in key or "return" in key) else "train"
                )
                self.tb.add_scalar(f"{group}/{key}", value, k)
        self.tb.flush()
        plot_curves(self.csv_path, self.run_dir / "curve.png", self.title)

    def close(self) -> None:
        self.tb.close()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def read_log(path: str | Path) -> list[dict[str, str]]:
    """Rows of a run's ``log.csv`` as dicts of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plot_curves(csv_path: str | Path, png_path: str | Path, title: str = "") -> None:
    """Success rate (training rollouts and deterministic evaluation) and return against samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(csv_path)
    if not rows:
        return

    def col(name: str) -> np.ndarray:
        return np.array([float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows])

    samples = col("samples")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(samples, 100 * col("success_train"), label="training rollouts (stochastic)")
    ev = col("success_eval")
    ok = np.isfinite(ev)
    ax1.plot(samples[ok], 100 * ev[ok], label="evaluation (deterministic)")
    ax1.set(xlabel="samples", ylabel="success rate (%)", ylim=(-3, 103), title=title)
    ax1.legend(loc="lower right", fontsize=8)
    ax2.plot(samples, col("return_train"), label="training rollouts")
    ax2.plot(samples[ok], col("return_eval")[ok], label="evaluation")
    ax2.set(xlabel="samples", ylabel="return per episode")
    ax2.legend(loc="lower right", fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(png_path, lambda f: fig.savefig(f, format="png", dpi=100), binary=True)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- run
def _versions() -> dict[str, str]:
    import gymnasium
    import mujoco

    import rrl

    return {
        "rrl": rrl.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "mujoco": mujoco.__version__,
        "gymnasium": gymnasium.__version__,
    }


def train(
    cfg: TrainConfig,
    sampler: Sampler | None = None,
    demos: DemoData | None = None,
    progress: bool = True,
) -> Path:
    """Run Algorithm 1 for ``cfg`` in a fresh run folder (``cfg.out``); returns the folder.

    ``sampler``/``demos`` default to the state sampler and state demonstrations of ``cfg``; the sampler passed
    in is not closed. Raises FileExistsError if the folder already holds a checkpoint (use :func:`resume`) or
    anything else: a new run goes into a new or empty folder, so it never overwrites a file.
    """
    run_dir = Path(cfg.out or cfg.default_out())
    if (run_dir / CHECKPOINT).exists():
        raise FileExistsError(
            f"{run_dir} already holds a run; resume it with `rrl train --resume {run_dir}` or pick another --out"
        )
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        entries = sorted(p.name for p in run_dir.iterdir())[:4] if run_dir.is_dir() else []
        what = f"is not empty ({', '.join(entries)})" if run_dir.is_dir() else "is a file"
        hint = (
            f"; it is a run that stopped before its first checkpoint: continue it with `rrl train --resume {run_dir}`"
            if (run_dir / "config.json").is_file() else ""
        )
        raise FileExistsError(f"{run_dir} {what}: a new run needs a new or empty --out folder{hint}")
    # missing weights or demonstrations fail here, before the folder exists (a fresh run never reads the
    # folder's demos.h5; it is replaced below)
    inputs = _load_inputs(cfg, None, sampler, demos, progress)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "log.csv").unlink(missing_ok=True)
    (run_dir / RUN_DEMOS).unlink(missing_ok=True)  # a fresh run keeps the demos of its own config
    from rrl.paths import git_commit

    meta = {
        "config": cfg.to_json(), "argv": sys.argv, "commit": git_commit(), "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }  # fmt: skip
    _write_json(run_dir / "config.json", meta)
    return _run(cfg, run_dir, sampler, demos, progress, fresh=True, inputs=inputs)


def resume(
    run_dir: str | Path,
    sampler: Sampler | None = None,
    demos: DemoData | None = None,
    progress: bool = True,
    adopt_demos: bool = False,
    **overrides: Any,
) -> Path:
    """Continue the run in ``run_dir`` from its last checkpoint (or start it if it stopped before one).

    ``overrides`` may change settings that do not define the run (e.g. ``iterations`` to extend it,
    ``rl_step_size`` after a divergence); they are recorded in ``config.json``. Without overrides the next
    iteration is exactly the one an uninterrupted run would have computed. ``adopt_demos``: see
    ``Trainer._check_demos`` (only for checkpoints older than the run folder's ``demos.h5``).
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    meta, cfg = read_run_meta(run_dir)
    _remove_stale_temporaries(run_dir)
    overrides = {k: v for k, v in overrides.items() if getattr(cfg, k, object()) != v}  # drop what already holds
    bad = sorted(k for k in overrides if k in IDENTITY_FIELDS)
    if bad:
        raise ValueError(f"cannot change {bad} when resuming (they define the run); start a new run instead")
    fresh = not (run_dir / CHECKPOINT).exists()
    spent = sorted(k for k in overrides if k in BC_STAGE_FIELDS)
    if spent and not fresh:
        raise ValueError(
            f"{spent} act in behaviour cloning, before the first iteration, which this run is past; changing them "
            "on resume would do nothing. Start a new run instead"
        )
    record = None
    if overrides or adopt_demos:
        cfg = dataclasses.replace(cfg, **overrides)
        meta["config"] = cfg.to_json()
        from rrl.paths import git_commit

        entry = {
            "overrides": overrides, "argv": sys.argv, "commit": git_commit(), "at": time.strftime("%Y-%m-%dT%H:%M:%S")
        }
        meta.setdefault("resumed_with", []).append(entry | ({"adopt_demos": True} if adopt_demos else {}))

        def record() -> None:  # once every check has passed: a refused resume changes nothing on disk
            _write_json(cfg_path, meta)

    return _run(cfg, run_dir, sampler, demos, progress, fresh=fresh, adopt_demos=adopt_demos, on_ready=record)


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Temporary files of :func:`rrl.paths.atomic_write` that a kill during a write left in the run folder."""
    for tmp in run_dir.glob(".*.tmp"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)


def _check_identity(state: dict[str, Any], cfg: TrainConfig, run_dir: Path) -> None:
    """The checkpoint's own config is the authority on what the run is: a run-defining field that differs from
    ``cfg`` (an edited config.json) is an error naming it."""
    changed = identity_mismatch(state["config"], cfg, IDENTITY_FIELDS)
    if changed:
        saved = {f: state["config"][f] for f in changed}
        raise ValueError(
            f"{run_dir / 'config.json'} disagrees with the run's checkpoint on {changed} (the checkpoint says "
            f"{saved}); these define the run: restore config.json, or start a new run with the new settings"
        )


def make_trainer(cfg: TrainConfig, sampler: Sampler, demos: DemoData | None, run_dir: Path, demo_set: Any = None):
    """The trainer of ``cfg.algo``: :class:`Trainer` (BC, NPG, DAPG) or :class:`rrl.train_sac.SACTrainer`."""
    if cfg.algo == "sac":
        from rrl.train_sac import SACTrainer

        if demos is not None and demo_set is None:
            raise ValueError("--algo sac recomputes the demonstrations' rewards from their simulator states: give "
                             "the demonstrations as a demo set (--demos), not as policy inputs alone")  # fmt: skip
        return SACTrainer(cfg, sampler, demos, run_dir, demo_set)
    return Trainer(cfg, sampler, demos, run_dir)


def _check_log_covers(run_dir: Path, next_iteration: int) -> None:
    """The log must hold a row for every iteration the checkpoint has done (it is written before the checkpoint);
    checked before the log is truncated to them."""
    path = run_dir / "log.csv"
    try:
        logged = {int(r["iteration"]) for r in read_log(path)} if path.is_file() else set()
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path} is damaged (no readable 'iteration' column); restore it from a copy") from None
    missing = [k for k in range(next_iteration) if k not in logged]
    if missing:
        raise ValueError(
            f"the checkpoint of {run_dir} has done {next_iteration} iterations but {path} lacks {len(missing)} of "
            f"them (first: {missing[0]}): log and checkpoint come from different runs or times; restore both from "
            "one copy of the run folder"
        )


def _load_inputs(
    cfg: TrainConfig, run_dir: Path | None, sampler: Sampler | None, demos: DemoData | None, progress: bool
) -> tuple[Any, Any, DemoData | None]:
    """The run's encoder (pixel runs that build a sampler or featurise demos), ``DemoSet`` and ``DemoData``.

    The encoder comes first: missing weights fail before any demonstration is read or environment started.
    """
    encoder = None
    if cfg.is_pixel and (sampler is None or demos is None):
        encoder = make_run_encoder(cfg)
    demo_set = None
    if demos is None and cfg.demos != "none":
        demo_set = load_demo_set(cfg, run_dir)
        demos = load_visual_demos(cfg, encoder, progress, demo_set) if cfg.is_pixel else load_state_demos(cfg, demo_set)
    if demos is not None:
        check_demos_finite(demos, cfg.demos)
    return encoder, demo_set, demos


def _run(
    cfg: TrainConfig,
    run_dir: Path,
    sampler: Sampler | None,
    demos: DemoData | None,
    progress: bool,
    fresh: bool,
    adopt_demos: bool = False,
    inputs: tuple[Any, Any, DemoData | None] | None = None,
    on_ready: Any = None,
) -> Path:
    """Train in ``run_dir`` (``fresh``: BC first, else from its checkpoint). ``inputs``: ``_load_inputs``'s result
    when the caller loaded them already. ``on_ready()`` runs once the inputs and the checkpoint have passed
    every check, before the first write to the run folder."""
    from tqdm import tqdm

    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    own_sampler = sampler is None
    encoder, demo_set, demos = inputs if inputs is not None else _load_inputs(cfg, run_dir, sampler, demos, progress)
    state = None if fresh else read_checkpoint(run_dir / CHECKPOINT)  # verified before any environment starts
    if state is not None:
        _check_identity(state, cfg, run_dir)
        _check_log_covers(run_dir, state["next_iteration"])
    sampler = sampler if sampler is not None else make_default_sampler(cfg, encoder, demo_set=demo_set)
    logger = None
    try:
        trainer = make_trainer(cfg, sampler, demos, run_dir, demo_set)
        if state is not None:
            trainer.load_state_dict(state, adopt_demos)
        if on_ready is not None:
            on_ready()
        if fresh:
            bc = trainer.behavior_clone()
            _write_json(run_dir / "bc.json", bc)
            atomic_write(run_dir / "bc_policy.pt", lambda f: torch.save(trainer.policy.state_dict(), f), binary=True)
        if demo_set is not None and not (run_dir / RUN_DEMOS).is_file():  # after the check: only the run's own demos
            from rrl.demos import save_demos

            save_demos(demo_set, run_dir / RUN_DEMOS)
        n_iterations = 1 if cfg.algo == "bc" else cfg.iterations
        logger = RunLogger(
            run_dir, trainer.next_iteration, f"{cfg.task} {cfg.obs} {cfg.algo} ({cfg.demos}, {cfg.reward})"
        )
        bar = tqdm(
            total=n_iterations, initial=trainer.next_iteration, desc=f"{cfg.task} {cfg.algo}", disable=not progress,
            unit="it",
        )
        # wall_time counts the whole run: a resumed run continues from its last logged row
        prior = read_log(run_dir / "log.csv") if not fresh and (run_dir / "log.csv").exists() else []
        t_run = time.perf_counter() - (float(prior[-1]["wall_time"]) if prior and prior[-1].get("wall_time") else 0.0)
        for k in range(trainer.next_iteration, n_iterations):
            samples_before = trainer.samples
            row = trainer.iteration(k)
            trainer.next_iteration = k + 1
            row["wall_time"] = time.perf_counter() - t_run
            row["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            # log first, then checkpoint: a run killed in between re-runs iteration k on resume and the
            # log is truncated to the checkpoint's iterations, so log and checkpoint never disagree
            logger.log(row)
            trainer.save_checkpoint()
            bar.update(1)
            bar.set_postfix(
                train=f"{100 * row['success_train']:.0f}%",
                eval="-" if math.isnan(row["success_eval"]) else f"{100 * row['success_eval']:.0f}%",
                sps=f"{(trainer.samples - samples_before) / max(row['t_sample'], 1e-9):.0f}",
            )
        bar.close()
        _write_summary(trainer, run_dir)
    finally:
        if logger is not None:
            logger.close()
        if own_sampler:
            sampler.close()
    return run_dir


def _write_summary(trainer: Trainer, run_dir: Path) -> None:
    cfg = trainer.cfg
    rows = read_log(run_dir / "log.csv")
    summary: dict[str, Any] = {"iterations": len(rows), "samples": trainer.samples}
    for key in ("success_train", "success_eval"):
        first = next((r for r in rows if r[key] not in ("", None) and float(r[key]) >= 0.9), None)
        summary[f"first_{key}_ge_90"] = (
            None if first is None else {"iteration": int(first["iteration"]), "samples": int(first["samples"])}
        )
    if cfg.eval_episodes > 0:
        ev = evaluate_policy(
            trainer.sampler, trainer.policy, trainer.task, cfg.eval_episodes, stream_seed(cfg.seed, 0, _STREAM_EVAL)
        )
        summary["final_policy_eval"] = {
            "success_rate": ev.success_rate, "mean_return": ev.mean_return, "episodes": ev.episodes
        }
    _write_json(run_dir / "summary.json", summary)


def _write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, default=_json_default) + "\n"
    atomic_write(path, lambda f: f.write(text))


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, (tuple, set)):
        return list(v)
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"cannot serialise {type(v).__name__} to JSON")

