"""Gymnasium wrappers that give an ADROIT env the paper's rewards and observations.

Each wrapper changes one thing: :class:`TaskReward` the reward (sparse or correctly shaped dense),
:class:`CameraObservation` the observation (camera frames and/or hand proprioception, paper Eq. 10),
:class:`StateNoise` the precision of a state observation (not in the paper; docs/findings.md, "How precisely the
positions are needed").
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from rrl.envs.rewards import (
    REWARDS,
    RRL_CODE_RELOCATE_TARGET_Z,
    dense_reward_terms,
    rrl_code_reward_terms,
    rrl_code_success,
    sparse_reward,
)
from rrl.rendering import CameraRenderer
from rrl.tasks import TaskSpec


class TaskReward(gym.Wrapper):
    """Replaces the env reward by rrl's ``sparse``, DAPG-shaped ``dense`` or ``rrl_code`` reward
    (:mod:`rrl.envs.rewards`) and makes ``info["success"]`` a bool.

    ``sparse`` and ``dense`` keep Gymnasium-Robotics' goal tests; ``rrl_code`` replaces them by those of RRL's
    released code and, on relocate, fixes the target height at 0.25 on every reset.
    """

    def __init__(self, env: gym.Env, task: TaskSpec, reward: str = "sparse") -> None:
        super().__init__(env)
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {reward!r}")
        self.task, self.reward_type = task, reward

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        if self.reward_type == "rrl_code" and self.task.name == "relocate":
            base = self.env.unwrapped
            base.model.site_pos[base.target_obj_site_id, 2] = RRL_CODE_RELOCATE_TARGET_Z
            mujoco.mj_forward(base.model, base.data)
            obs = base._get_obs()  # the state observation holds target offsets
        return obs, info

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        base = self.env.unwrapped
        if self.reward_type == "rrl_code":
            success = rrl_code_success(self.task.name, base)
        else:
            success = bool(info.get("success", False))
        info["success"] = success
        if self.reward_type == "sparse":
            reward = sparse_reward(success)
        elif self.reward_type == "dense":
            reward = float(sum(dense_reward_terms(self.task.name, base).values()))
        else:
            reward = float(sum(rrl_code_reward_terms(self.task.name, base).values()))
        return obs, reward, terminated, truncated, info


class EpisodeOffset:
    """An offset drawn once per episode from N(0, diag(std^2)), added to every observation of that episode.

    Models a systematic misread: a frozen encoder reads a fixed scene the same way at every step, so its error
    on where the door is does not average out over an episode. ``reset(seed)`` reseeds, ``reset()`` draws
    the next episode's offset from the same stream.
    """

    def __init__(self, std: np.ndarray) -> None:
        self.std = np.asarray(std, dtype=np.float64)
        if self.std.ndim != 1 or not np.all(self.std >= 0):
            raise ValueError(f"std must be a 1-d array of values >= 0, got {self.std!r}")
        self._rng = np.random.default_rng()
        self.offset = np.zeros_like(self.std)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = np.random.default_rng([seed, 0x0FF5E7])
        self.offset = self._rng.normal(size=self.std.shape) * self.std

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return obs + self.offset.astype(obs.dtype)


class StateNoise(gym.ObservationWrapper):
    """Adds an :class:`EpisodeOffset` to the state observation (``std``: one value per state entry, 0 = exact)."""

    def __init__(self, env: gym.Env, std: np.ndarray) -> None:
        super().__init__(env)
        if np.shape(std) != env.observation_space.shape:
            raise ValueError(f"std has shape {np.shape(std)}, the state observation {env.observation_space.shape}")
        self.noise = EpisodeOffset(std)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.noise.reset(seed)
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return self.noise(observation)


def joint_qpos_indices(model: mujoco.MjModel, names: tuple[str, ...]) -> np.ndarray:
    """qpos addresses of hinge/slide joints ``names`` (in the given order)."""
    idx = []
    for name in names:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid < 0:
            raise ValueError(f"joint {name!r} not found in the model")
        idx.append(model.jnt_qposadr[jid])
    return np.asarray(idx, dtype=np.int64)


def proprio_joint_names(task: TaskSpec, include_arm: bool) -> tuple[str, ...]:
    """The proprioception's joints in qpos order: the task's arm joints (with ``include_arm``), then the hand's."""
    return (task.arm_joints if include_arm else ()) + task.hand_joints


class CameraObservation(gym.Wrapper):
    """Observation ``{"pixels": uint8 (n_cams, S, S, 3), "proprio": float32 (n_joints,)}`` (paper Eq. 10).

    ``proprio`` holds the hand joint positions only (arm joints optional), never object or goal state.
    ``proprio_noise`` adds Gaussian noise with std = that fraction of each joint's range (paper 5.4: 0.02).
    ``include_proprio=False`` gives the vision-only observation ``{"pixels": ...}`` (paper Fig. 6).
    ``include_state=True`` adds ``"state"``, the wrapped env's full state vector (float32), for a privileged
    value baseline (``TrainConfig.critic_input``); policies never see it.
    The renderer is created on first use and reused until :meth:`close`.
    """

    def __init__(
        self,
        env: gym.Env,
        task: TaskSpec,
        cameras: tuple[str, ...],
        render_size: int = 256,
        crop_size: int | None = 224,
        include_proprio: bool = True,
        proprio_noise: float = 0.0,
        include_arm: bool = False,
        shadows: bool = False,
        reflections: bool = False,
        include_state: bool = False,
    ) -> None:
        super().__init__(env)
        model = env.unwrapped.model
        self.cameras = cameras
        self._render_args = dict(size=render_size, crop=crop_size, shadows=shadows, reflections=reflections)
        self._renderer: CameraRenderer | None = None
        out = crop_size if crop_size is not None else render_size
        obs_spaces: dict[str, spaces.Space] = {
            "pixels": spaces.Box(0, 255, shape=(len(cameras), out, out, 3), dtype=np.uint8)
        }
        self.include_proprio = include_proprio
        names = proprio_joint_names(task, include_arm)
        self.proprio_joints = names
        self._qpos_idx = joint_qpos_indices(model, names)
        jids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in names]
        self._noise_std = (proprio_noise * np.diff(model.jnt_range[jids], axis=1).ravel()).astype(np.float32)
        self.proprio_noise = proprio_noise
        self._noise_rng = np.random.default_rng()
        if include_proprio:
            obs_spaces["proprio"] = spaces.Box(-np.inf, np.inf, shape=(len(names),), dtype=np.float32)
        self.include_state = include_state
        if include_state:
            obs_spaces["state"] = spaces.Box(-np.inf, np.inf, shape=env.observation_space.shape, dtype=np.float32)
        self.observation_space = spaces.Dict(obs_spaces)

    def render_pixels(self) -> np.ndarray:
        """Frames of every camera for the current simulator state."""
        if self._renderer is None:
            self._renderer = CameraRenderer(self.env.unwrapped.model, self.cameras, **self._render_args)
        return self._renderer.render(self.env.unwrapped.data)

    def proprioception(self) -> np.ndarray:
        """Noise-free joint positions of the proprioceptive joints."""
        return self.env.unwrapped.data.qpos[self._qpos_idx].astype(np.float32)

    def _observe(self, state: np.ndarray) -> dict[str, np.ndarray]:
        obs = {"pixels": self.render_pixels()}
        if self.include_state:
            obs["state"] = np.asarray(state, dtype=np.float32)
        if self.include_proprio:
            proprio = self.proprioception()
            if self.proprio_noise > 0:
                proprio = proprio + self._noise_rng.normal(size=proprio.shape).astype(np.float32) * self._noise_std
            obs["proprio"] = proprio
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        state, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._noise_rng = np.random.default_rng([seed, 0x5EED])
        return self._observe(state), info

    def step(self, action):
        state, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(state), reward, terminated, truncated, info

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        super().close()
