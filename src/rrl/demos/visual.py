"""Visual demonstrations: encoder features of frames re-rendered from the recorded simulator states.

RRL trains on demonstrations in the encoder's feature space (paper section 3.3, Algorithm 1). Frames are
obtained by restoring each recorded state (:func:`rrl.envs.render_state`) and rendering, never by replaying
actions, so they are exactly the frames the env would have shown at that step. Features are cached on disk,
keyed by a sha256 of everything that determines them: encoder fingerprint (weights and preprocessing), task,
cameras, render and crop size, render flags, MuJoCo version and the demo set's content fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rrl.demos.storage import DemoSet
from rrl.paths import atomic_write

CACHE_VERSION = 1


class ViewEncoder(Protocol):
    """What :func:`visual_features` needs from an encoder (``rrl.encoders`` provides it)."""

    fingerprint: str

    def encode_views(self, pixels: np.ndarray) -> np.ndarray:  # (N, n_cams, H, W, 3) uint8 -> (N, n_cams*D)
        ...


def _check_config(demos: DemoSet, env_config: Any) -> None:
    if env_config.obs_mode == "state":
        raise ValueError("visual_features needs a pixel env config (obs_mode 'rgb' or 'rgb+proprio'), got 'state'")
    if env_config.task != demos.task:
        raise ValueError(f"env config is for task {env_config.task!r}, the demonstrations are {demos.task!r}")
    if getattr(env_config, "distractor", None) is not None:
        raise ValueError(
            f"distractor {env_config.distractor!r} is resampled at every reset, so demo frames would not be "
            "reproducible; convert demonstrations with distractor=None"
        )


# EnvConfig fields that do not change the rendered frames (everything else goes into the cache key).
_NOT_VISUAL = ("reward", "horizon", "proprio_noise", "include_arm", "obs_mode")


def features_cache_key(demos: DemoSet, encoder: ViewEncoder, env_config: Any) -> str:
    """sha256 hex key of (encoder fingerprint, backend and device, cameras, render/crop size, render flags and any
    other visual env setting, the task's camera poses and rendered bodies, mujoco and Gymnasium-Robotics
    versions, demo content).

    Backend and device are part of it because they change the features beyond rounding: CUDA's TF32
    convolutions move them by up to ~4e-2 of a feature's std (docs/benchmarks.md), so a run on a GPU must not
    train on demo features made on a CPU, nor the reverse.
    """
    import dataclasses
    from importlib.metadata import PackageNotFoundError, version

    import mujoco
    import torch

    visual = {k: v for k, v in dataclasses.asdict(env_config).items() if k not in _NOT_VISUAL}
    device = torch.device(getattr(encoder, "device", "cpu")).type
    numerics: dict[str, Any] = {"backend": getattr(encoder, "backend", None), "device": device}
    if device == "cuda":
        numerics["tf32"] = [torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32]
    try:
        robotics = version("gymnasium-robotics")
    except PackageNotFoundError:
        robotics = None
    parts = {
        "cache_version": CACHE_VERSION,
        "encoder": str(encoder.fingerprint),
        "numerics": numerics,
        "env": visual,
        "cameras": list(env_config.camera_names),
        "task_spec": repr(env_config.spec),  # camera poses, opaque and hidden bodies
        "mujoco": mujoco.__version__,
        "gymnasium_robotics": robotics,
        "demos": demos.fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def render_trajectory(env: Any, sim_states: dict[str, np.ndarray], steps: Any = None) -> np.ndarray:
    """Frames (T, n_cams, H, W, 3) uint8 of the recorded states (optionally only ``steps``) of one trajectory."""
    from rrl.envs import render_state

    n = len(sim_states["qpos"])
    idx = range(n) if steps is None else steps
    return np.stack([render_state(env, {k: v[t] for k, v in sim_states.items()}) for t in idx])


def _encode_all(
    demos: DemoSet, encoder: ViewEncoder, env_config: Any, batch_size: int, progress: Callable[[str], None] | None
) -> list[np.ndarray]:
    from tqdm import tqdm

    from rrl.envs import make_env, render_state

    env = make_env(env_config)
    env.reset(seed=0)
    out = []
    total = sum(len(t["sim_states"]["qpos"]) for t in demos.trajectories)
    bar = tqdm(total=total, desc=f"encoding {len(demos)} demonstrations", unit="frame", disable=progress is None)
    try:
        for traj in demos.trajectories:
            states = traj["sim_states"]
            n = len(states["qpos"])
            feats = []
            for start in range(0, n, batch_size):
                steps = range(start, min(n, start + batch_size))
                frames = np.stack([render_state(env, {k: v[t] for k, v in states.items()}) for t in steps])
                feats.append(np.asarray(encoder.encode_views(frames), dtype=np.float32))
                bar.update(len(steps))
            out.append(np.concatenate(feats, axis=0))
    finally:
        bar.close()
        env.close()
    if progress is not None:
        progress(f"{len(demos)} demonstrations, {total} frames encoded")
    return out


def _cache_path(cache_dir: Path, task: str, key: str) -> Path:
    return cache_dir / f"{task}-{key[:24]}.npz"


def _load_cache(path: Path, key: str, n: int) -> list[np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key or int(z["n"]) != n:
                return None
            return [z[f"traj_{i:06d}"] for i in range(n)]
    except (OSError, KeyError, ValueError):
        return None  # damaged or foreign file: recompute and overwrite


def _save_cache(path: Path, key: str, feats: list[np.ndarray]) -> None:
    arrays = {f"traj_{i:06d}": a for i, a in enumerate(feats)}
    atomic_write(path, lambda f: np.savez(f, key=np.array(key), n=np.array(len(feats)), **arrays), binary=True)


def visual_features(
    demos: DemoSet,
    encoder: ViewEncoder,
    env_config: Any,
    batch_size: int = 64,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[np.ndarray]:
    """Encoder features of every recorded step: one float32 (T, n_cams * D) array per trajectory.

    Args:
        demos: demonstrations with ``sim_states``.
        encoder: object with ``fingerprint`` and ``encode_views`` (see :class:`ViewEncoder`).
        env_config: :class:`rrl.envs.EnvConfig` with a pixel ``obs_mode``; its cameras, render size, crop and
            render flags decide the frames.
        batch_size: frames per ``encode_views`` call.
        cache: read/write the on-disk cache (``<cache_dir>/<task>-<key>.npz``).
        cache_dir: default ``rrl.paths.cache_dir() / "visual_demos"``.

    Proprioception is not included: take it from the states with :func:`demo_proprio`.
    """
    _check_config(demos, env_config)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if cache:
        from rrl.paths import cache_dir as default_cache_dir

        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "visual_demos"
        key = features_cache_key(demos, encoder, env_config)
        path = _cache_path(folder, demos.task, key)
        if path.is_file():
            hit = _load_cache(path, key, len(demos))
            if hit is not None:
                return hit
    feats = _encode_all(demos, encoder, env_config, batch_size, progress)
    if cache:
        _save_cache(path, key, feats)
    return feats


def demo_proprio(demos: DemoSet, env_config: Any) -> list[np.ndarray]:
    """Noise-free proprioception (T, n_joints) float32 per trajectory, read from the recorded ``qpos`` with the
    same joints (and order) as the env's ``proprio`` observation (hand joints, plus arm if ``include_arm``)."""
    from rrl.envs import make_env
    from rrl.envs.wrappers import joint_qpos_indices, proprio_joint_names

    if env_config.task != demos.task:
        raise ValueError(f"env config is for task {env_config.task!r}, the demonstrations are {demos.task!r}")
    env = make_env(type(env_config)(task=env_config.task, obs_mode="state"))
    try:
        model = env.unwrapped.model
        idx = joint_qpos_indices(model, proprio_joint_names(env_config.spec, env_config.include_arm))
    finally:
        env.close()
    return [np.asarray(t["sim_states"]["qpos"][:, idx], dtype=np.float32) for t in demos.trajectories]


def contact_sheet(
    demos: DemoSet,
    env_config: Any,
    out: str | Path,
    episodes: int = 4,
    frames_per_episode: int = 6,
) -> Path:
    """PNG grid: one row per (episode, camera), ``frames_per_episode`` evenly spaced re-rendered frames."""
    import imageio.v3 as iio

    from rrl.envs import make_env

    _check_config(demos, env_config)
    env = make_env(env_config)
    env.reset(seed=0)
    rows = []
    try:
        for traj in demos.trajectories[:episodes]:
            n = len(traj["actions"])
            steps = np.linspace(0, n - 1, frames_per_episode).round().astype(int)
            frames = render_trajectory(env, traj["sim_states"], steps)  # (F, C, H, W, 3)
            for cam in range(frames.shape[1]):
                rows.append(np.concatenate(list(frames[:, cam]), axis=1))
    finally:
        env.close()
    if not rows:
        raise ValueError("the demo set is empty; nothing to draw")
    sheet = np.concatenate(rows, axis=0)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, sheet)
    return path
