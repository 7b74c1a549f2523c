"""The appendix 7.4 frame data set: :func:`collect_frames` and :class:`FrameDataset` (saved as ``.npz``)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rrl.encoders.base import existing_file
from rrl.paths import atomic_write
from rrl.vae.config import FRAMES_FORMAT, FRAMES_VERSION, SOURCES, VAECheckpointError


@dataclass
class FrameDataset:
    """Frames for VAE training.

    Attributes:
        frames: uint8 ``(N, S, S, 3)``.
        source: int8 ``(N,)`` index into :data:`SOURCES`.
        task: int8 ``(N,)`` index into ``tasks``.
        action_deviation: float32 ``(N,)`` RMS difference between the action taken from the frame and the
            expert's (clipped) mean action there: 0 for ``expert``, about the noise std for the noisy sources.
        tasks: task names.
        metadata: how the frames were made (seeds, noise levels, camera, timing).
    """

    frames: np.ndarray
    source: np.ndarray
    task: np.ndarray
    action_deviation: np.ndarray
    tasks: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)

    def counts(self) -> dict[str, dict[str, int]]:
        """Frames per task and source."""
        return {
            t: {s: int(np.sum((self.task == i) & (self.source == j))) for j, s in enumerate(SOURCES)}
            for i, t in enumerate(self.tasks)
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ``.npz`` file atomically (temp file + rename)."""
        path = Path(path)
        meta = {"format": FRAMES_FORMAT, "version": FRAMES_VERSION, "tasks": list(self.tasks), **self.metadata}
        arrays = dict(frames=self.frames, source=self.source, task=self.task, action_deviation=self.action_deviation)
        return atomic_write(path, lambda f: np.savez(f, metadata=np.array(json.dumps(meta)), **arrays), binary=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> FrameDataset:
        """Read a file written by :meth:`save`.

        Raises:
            VAECheckpointError: the file is not an rrl frames file of this version.
        """
        path = existing_file(path, "VAE frames file")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["metadata"]))
                arrays = {k: data[k] for k in ("frames", "source", "task", "action_deviation")}
        except (OSError, ValueError, KeyError) as err:
            raise VAECheckpointError(
                f"{path} is not an rrl VAE frames file ({err}); delete it and collect again"
            ) from err
        if meta.get("format") != FRAMES_FORMAT or meta.get("version") != FRAMES_VERSION:
            raise VAECheckpointError(
                f"{path}: expected format {FRAMES_FORMAT!r} version {FRAMES_VERSION}, found "
                f"{meta.get('format')!r} version {meta.get('version')}; delete it and collect again"
            )
        tasks = tuple(meta.pop("tasks"))
        for key in ("format", "version"):
            meta.pop(key)
        return cls(tasks=tasks, metadata=meta, **arrays)


def _split_evenly(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _task_frames(
    task: str,
    n_frames: int,
    image_size: int,
    seed: int,
    small_noise: float,
    large_noise: float,
    camera: str | None,
    task_index: int,
    progress: Callable[[int], None] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Frames of one task: ``n_frames`` split equally over :data:`SOURCES` (the first sources get the remainder)."""
    from rrl.demos import load_expert_policy
    from rrl.envs import EnvConfig, make_env

    spec_cams = EnvConfig(task=task).camera_names
    cams = (camera,) if camera is not None else spec_cams[:1]
    env = make_env(EnvConfig(task=task, obs_mode="rgb", cameras=cams, render_size=image_size, crop_size=None))
    policy = load_expert_policy(task)
    base = env.unwrapped
    low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
    if base._get_obs().shape != (policy.obs_dim,) or env.action_space.shape != (policy.act_dim,):
        raise ValueError(
            f"the {task} expert expects state {policy.obs_dim} / action {policy.act_dim}, the env gives "
            f"{base._get_obs().shape} / {env.action_space.shape}"
        )
    noise = {"expert": 0.0, "expert_small_noise": small_noise, "expert_large_noise": large_noise}
    frames, sources, deviations, episodes = [], [], [], 0
    try:
        for j, (src, count) in enumerate(zip(SOURCES, _split_evenly(n_frames, len(SOURCES)))):
            rng = np.random.default_rng([seed, task_index, j, 0x7AE])
            seeds = np.random.SeedSequence([seed, task_index, j]).generate_state(count + 1, dtype=np.uint32)
            got = source_episodes = 0
            while got < count:  # every episode yields >= 1 frame, so count + 1 seeds are enough
                obs, _ = env.reset(seed=int(seeds[source_episodes]))
                source_episodes += 1
                episodes += 1
                done = False
                while not done and got < count:
                    expert = np.clip(policy.mean_action(base._get_obs()), low, high)
                    if src == "random":
                        action = rng.uniform(low, high)
                    else:
                        action = np.clip(expert + noise[src] * rng.standard_normal(expert.shape), low, high)
                    frames.append(obs["pixels"][0])
                    sources.append(j)
                    deviations.append(float(np.sqrt(np.mean((action - expert) ** 2))))
                    got += 1
                    if progress is not None:
                        progress(1)
                    obs, _, terminated, truncated, _ = env.step(action)
                    done = terminated or truncated
    finally:
        env.close()
    return (
        np.stack(frames).astype(np.uint8),
        np.asarray(sources, np.int8),
        np.asarray(deviations, np.float32),
        episodes,
    )


def collect_frames(
    tasks: tuple[str, ...] | str = ("door",),
    frames: int = 20_000,
    image_size: int = 64,
    seed: int = 0,
    small_noise: float = 0.1,
    large_noise: float = 0.5,
    camera: str | None = None,
    progress: bool = False,
) -> FrameDataset:
    """Collect the appendix 7.4 data set: ``frames`` frames of the RRL camera, split equally between ``tasks``
    and the four :data:`SOURCES` (expert mean action; expert + N(0, small_noise^2); expert + N(0, large_noise^2);
    uniform random actions). Noisy actions are clipped to the action space. Every frame of an episode is kept
    (the observation before each action), episodes run until the source has its share.
    """
    from tqdm import tqdm

    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    if frames < 4 * len(tasks):
        raise ValueError(f"frames must be at least 4 per task (one per source), got {frames}")
    start = time.perf_counter()
    parts, episodes = [], {}
    with tqdm(total=frames, desc="collect frames", unit="frame", disable=not progress) as bar:
        for i, (task, n) in enumerate(zip(tasks, _split_evenly(frames, len(tasks)))):
            f, s, d, eps = _task_frames(task, n, image_size, seed, small_noise, large_noise, camera, i, bar.update)
            parts.append((f, s, np.full(len(f), i, np.int8), d))
            episodes[task] = eps
    meta = {
        "image_size": image_size,
        "seed": seed,
        "small_noise": small_noise,
        "large_noise": large_noise,
        "camera": camera,
        "episodes": episodes,
        "collect_seconds": round(time.perf_counter() - start, 2),
    }
    return FrameDataset(
        frames=np.concatenate([p[0] for p in parts]),
        source=np.concatenate([p[1] for p in parts]),
        task=np.concatenate([p[2] for p in parts]),
        action_deviation=np.concatenate([p[3] for p in parts]),
        tasks=tasks,
        metadata=meta,
    )
