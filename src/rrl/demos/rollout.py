"""Expert demonstrations: roll out the published DAPG expert and keep the successful episodes.

Every step records the observation, the applied action, the sparse reward, ``info["success"]`` and the full
simulator state (:func:`rrl.envs.get_sim_state`) the observation was produced from, so that frames from any
camera can be re-rendered exactly later (:mod:`rrl.demos.visual`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rrl.config import EXPERT_DEMO_ACTIONS
from rrl.demos.expert import ExpertPolicy, expert_policy_path, load_expert_policy
from rrl.demos.storage import DemoSet, file_sha256, library_versions
from rrl.tasks import get_task


def default_demo_path(
    task: str, source: str = "expert", n: int = 25, seed: int = 0, action_noise: float = 0.0, actions: str = "mean"
) -> Path:
    """``<cache>/demos/<task>-<source>-n<N>-seed<S>[-sampled][-noise<x>].h5`` (see :func:`rrl.paths.cache_dir`)."""
    from rrl.paths import cache_dir

    name = f"{task}-{source}" if source == "human" else f"{task}-{source}-n{n}-seed{seed}"
    if actions != "mean":
        name += f"-{actions}"
    if action_noise:
        name += f"-noise{action_noise:g}"
    return cache_dir() / "demos" / f"{name}.h5"


def episode_seeds(seed: int, count: int) -> np.ndarray:
    """Distinct reset seeds for the episodes of run ``seed`` (runs with different seeds do not share episodes)."""
    return np.random.SeedSequence(seed).generate_state(count, dtype=np.uint32).astype(np.int64)


def rollout_episode(
    env: Any,
    policy: Callable[[np.ndarray], np.ndarray],
    reset_seed: int,
    noise_std: float = 0.0,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """One episode of ``policy`` in a ``state`` env (built by :func:`rrl.envs.make_env`), recorded step by step."""
    from rrl.envs import get_sim_state

    low, high = env.action_space.low, env.action_space.high
    obs, _ = env.reset(seed=int(reset_seed))
    rec: dict[str, list] = {"observations": [], "actions": [], "rewards": [], "successes": []}
    states: list[dict[str, np.ndarray]] = []
    done = False
    while not done:
        states.append(get_sim_state(env))
        action = np.asarray(policy(obs), dtype=np.float64)
        if noise_std > 0:
            action = action + noise_std * rng.standard_normal(action.shape)
        action = np.clip(action, low, high)
        rec["observations"].append(np.asarray(obs, dtype=np.float64))
        obs, reward, terminated, truncated, info = env.step(action)
        rec["actions"].append(action)
        rec["rewards"].append(float(reward))
        rec["successes"].append(bool(info["success"]))
        done = terminated or truncated
    traj: dict[str, Any] = {k: np.asarray(v) for k, v in rec.items()}
    traj["successes"] = traj["successes"].astype(bool)
    traj["sim_states"] = {k: np.stack([s[k] for s in states]) for k in states[0]}
    return traj


def make_expert_demos(
    task: str,
    n: int = 25,
    seed: int = 0,
    action_noise: float = 0.0,
    actions: str = "mean",
    max_episodes: int | None = None,
    policy: ExpertPolicy | None = None,
    progress: Callable[[str], None] | None = None,
    show_bar: bool = True,
) -> DemoSet:
    """Roll out the expert's mean action (plus optional Gaussian ``action_noise`` std) until ``n`` episodes succeed.

    ``actions="sampled"``: act with draws from the expert's own Gaussian, ``mean + exp(log_std) * eps`` (mjrl's
    ``get_action``), instead of its mean: how FERM's code filled its replay buffer with demonstrations.

    ``progress`` gets one line per episode; ``show_bar``: a tqdm bar of the kept episodes on stderr (a terminal only).

    Only episodes that satisfy the task's success rule (goal achieved on more than ``success_threshold`` steps)
    are kept. Raises RuntimeError when ``max_episodes`` (default ``4 * n + 10``) attempts are not enough.
    """
    from rrl.envs import EnvConfig, make_env

    spec = get_task(task)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if action_noise < 0:
        raise ValueError(f"action_noise must be >= 0, got {action_noise}")
    if actions not in EXPERT_DEMO_ACTIONS:
        raise ValueError(f"actions must be one of {EXPERT_DEMO_ACTIONS}, got {actions!r}")
    policy = policy if policy is not None else load_expert_policy(task)
    max_episodes = max_episodes if max_episodes is not None else 4 * n + 10
    env = make_env(EnvConfig(task=task, obs_mode="state", reward="sparse"))
    if env.observation_space.shape != (policy.obs_dim,) or env.action_space.shape != (policy.act_dim,):
        raise ValueError(
            f"expert expects obs {policy.obs_dim} / action {policy.act_dim}, {spec.env_id} has "
            f"{env.observation_space.shape} / {env.action_space.shape}"
        )
    from tqdm import tqdm

    seeds = episode_seeds(seed, max_episodes)
    trajectories, infos, attempts = [], [], []
    start = time.perf_counter()
    bar = tqdm(total=n, desc=f"{task} expert demonstrations", unit="demo", disable=None if show_bar else True)
    try:
        for k, reset_seed in enumerate(seeds):
            rng = np.random.default_rng([seed, k, 0xAC7])
            act = (lambda obs, rng=rng: policy.sample_action(obs, rng)) if actions == "sampled" else policy
            traj = rollout_episode(env, act, int(reset_seed), action_noise, rng)
            steps = int(np.count_nonzero(traj["successes"]))
            ok = spec.is_success(traj["successes"])
            attempts.append(steps)
            if progress is not None:
                verdict = "kept" if ok else "rejected"
                progress(f"episode {k} (reset seed {reset_seed}): goal on {steps} steps, {verdict}")
            if ok:
                trajectories.append(traj)
                infos.append({"reset_seed": int(reset_seed), "attempt": k, "success_steps": steps})
                bar.update(1)
                if len(trajectories) == n:
                    break
            bar.set_postfix(attempts=k + 1)
    finally:
        bar.close()
        env.close()
    if len(trajectories) < n:
        raise RuntimeError(
            f"only {len(trajectories)} of {len(attempts)} expert episodes of {task} succeeded, {n} needed; "
            "raise max_episodes or lower action_noise"
        )
    policy_file = Path(policy.source) if policy.source else expert_policy_path(task)
    metadata = {
        "task": task,
        "env_id": spec.env_id,
        "source": "expert",
        "seed": seed,
        "horizon": spec.horizon,
        "action_noise": action_noise,
        "expert_actions": actions,
        "policy_file": policy_file.name,
        "policy_sha256": file_sha256(policy_file) if policy_file.is_file() else None,
        "attempts": len(attempts),
        "attempt_success_steps": attempts,
        "rollout_seconds": round(time.perf_counter() - start, 3),
        "created_utc": datetime.now(UTC).isoformat(),
        "versions": library_versions(),
    }
    return DemoSet(trajectories=trajectories, metadata=metadata, episode_info=infos)


def get_demos(task: str, source: str = "expert", n: int = 25, seed: int = 0, path: str | Path | None = None) -> DemoSet:
    """The demo set at ``path`` (default :func:`default_demo_path`), made and saved first if it does not exist.

    ``source="human"`` is door only (:func:`rrl.demos.human_door_demos`). An existing file is validated
    (format, version, task) and must hold at least ``n`` episodes (expert); the first ``n`` are returned.
    """
    from rrl.demos.storage import load_demos, save_demos

    if source not in ("expert", "human"):
        raise ValueError(f"source must be 'expert' or 'human', got {source!r}")
    if source == "human" and task != "door":
        raise ValueError(f"human demonstrations exist for door only, not {task!r}")
    path = Path(path) if path is not None else default_demo_path(task, source, n, seed)
    if not path.exists():
        if source == "human":
            from rrl.demos.human import human_door_demos

            demos = human_door_demos()
        else:
            demos = make_expert_demos(task, n=n, seed=seed)
        try:
            save_demos(demos, path)
        except FileExistsError:  # another process saved it meanwhile; use that file
            pass
    demos = load_demos(path, task=task)
    if demos.metadata.get("source") != source:
        raise ValueError(f"{path} holds {demos.metadata.get('source')!r} demonstrations, expected {source!r}")
    if source == "expert":
        if len(demos) < n:
            raise ValueError(f"{path} holds {len(demos)} demonstrations, {n} requested")
        demos.trajectories, demos.episode_info = demos.trajectories[:n], demos.episode_info[:n]
    return demos
