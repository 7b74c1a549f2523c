"""Assembling a run from its config: the demonstrations, the encoder, the sampler and the policy.

Each function reads a :class:`~rrl.config.TrainConfig` and builds one input of a run; nothing here trains.
Training (:mod:`rrl.run.loop`) and evaluation (:mod:`rrl.evaluate`) both build their pieces here.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rrl.config import TrainConfig
from rrl.policy import CONSTANT_STD, GaussianMLP
from rrl.sampling import DemoData, RandomStateFeatures, Sampler, StateFeaturizer

RUN_DEMOS = "demos.h5"  # the run's own copy of its demonstrations (a moved run resumes with exactly these)


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
        path = rd.default_demo_path(cfg.task, "expert", cfg.n_demos, cfg.demo_seed, actions=cfg.expert_demo_actions)
        if path.exists():
            demo_set = rd.load_demos(path, task=cfg.task)
            acted = demo_set.metadata.get("expert_actions", "mean")
            if acted != cfg.expert_demo_actions:
                raise ValueError(
                    f"{path} holds expert demonstrations acted with the {acted} action, the run asks "
                    f"for --expert-demo-actions {cfg.expert_demo_actions}; remove the file to remake it"
                )
        else:
            try:
                demo_set = rd.make_expert_demos(cfg.task, n=cfg.n_demos, seed=cfg.demo_seed,
                                                actions=cfg.expert_demo_actions)
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
        crop_size=None if cfg.algo == "ferm" else cfg.image_size,  # FERM crops itself (randomly in training)
        proprio_noise=cfg.proprio_noise, include_arm=cfg.proprio_arm, horizon=cfg.horizon,
        distractor=distractor, multisample=cfg.multisample,
    )  # fmt: skip


def make_run_encoder(cfg: TrainConfig):
    """The frozen encoder of a pixel run (for FERM, which trains its own, the raw frames). Missing weights raise
    here, before any environment starts."""
    if cfg.algo == "ferm":
        from rrl.algos.ferm import FrameFlattener

        return FrameFlattener(cfg.render_size)
    from rrl.encoders import make_encoder

    try:
        return make_encoder(
            cfg.encoder, backend=cfg.encoder_backend, device=cfg.device, image_size=cfg.image_size,
            weights=cfg.encoder_weights, seed=cfg.seed,
        )  # fmt: skip
    except FileNotFoundError as err:
        if cfg.encoder_weights is None:
            raise
        raise FileNotFoundError(f"{err} (a run moved from another machine or folder: give the weights' place "
                                "there with --encoder-weights PATH to `rrl train --resume` or `rrl eval`)") from None


def check_encoder_weights(meta: dict[str, Any], cfg: TrainConfig, run_dir: str | Path) -> None:
    """``cfg.encoder_weights``, a path other than the one the run in ``run_dir`` recorded (a run moved to another
    machine or folder), must hold the weights it was trained with: their hash (``Encoder.weights_hash``) against
    the ``encoder_weights_hash`` its config.json recorded at the start. ValueError otherwise, and for runs that
    recorded none."""
    recorded, before = meta.get("encoder_weights_hash"), meta["config"].get("encoder_weights")
    if not isinstance(recorded, str):
        raise ValueError(
            f"{Path(run_dir) / 'config.json'} records no hash of the encoder weights the run was trained with (it "
            f"was made before rrl recorded one), so other weights cannot be told apart from them: give the run its "
            f"recorded --encoder-weights {before} (a link at that path to the file will do)"
        )
    from rrl.encoders import make_encoder

    encoder = make_encoder(cfg.encoder, backend="torch", device="cpu", image_size=cfg.image_size,
                           weights=cfg.encoder_weights, seed=cfg.seed)  # fmt: skip
    if encoder.weights_hash != recorded:
        raise ValueError(
            f"the encoder weights at {cfg.encoder_weights} are not those {run_dir} was trained with (from "
            f"{before}; weights hash {encoder.weights_hash[:12]}... against {recorded[:12]}...): give the run's own "
            "weights file"
        )


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
    feats = visual_features(demo_set, encoder, env_cfg, progress=report, cache=getattr(encoder, "cacheable", True))
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
