"""The 25 human door demonstrations of hand_dapg, rebuilt as simulator states.

Replaying the recorded actions open loop in today's simulator drifts away from the recording (about 8 of 25
open the door, see :func:`open_loop_replay`). Instead every step's state is rebuilt from the recorded 39-dim
observation of ``AdroitHandDoor`` (``_get_obs``: ``qpos[1:28]``, latch, hinge, palm position, handle position,
palm - handle, open flag):

- ``qpos[1:28]`` (arm rotations and the 24 hand joints) = ``obs[0:27]``, latch ``qpos[29]`` = ``obs[27]``,
  door hinge ``qpos[28]`` = ``obs[28]``; the door body position comes from the demo's ``init_state_dict``;
- the only joint the observation lacks, the arm slide ``ARTz`` (``qpos[0]``), is found by a 1-D golden-section
  search over its range that matches the recorded palm position ``obs[29:32]``;
- ``qvel`` is not recorded: it is estimated by central differences of the rebuilt ``qpos`` over the control
  period ``dt`` (it does not affect rendering).

The human actions are kept as recorded and paired with the rebuilt states. ``successes[t]`` / ``rewards[t]``
use the hinge angle of the next rebuilt state (the last step uses its own), with the env's rule hinge >= 1.35.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from rrl.demos.safe_pickle import safe_load
from rrl.demos.storage import DemoSet, file_sha256, library_versions

DOOR_OBS_DIM, DOOR_ACT_DIM, DOOR_NQ = 39, 28, 30
_HINGE_SUCCESS = 1.35  # AdroitHandDoor: goal achieved when the hinge angle is >= 1.35 rad
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def human_door_path() -> Path:
    """``<hand_dapg>/demonstrations/door-v0_demos.pickle``."""
    from rrl.paths import hand_dapg_dir

    return hand_dapg_dir() / "demonstrations" / "door-v0_demos.pickle"


def load_raw_human_door(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The published demos as a list of dicts (observations, actions, rewards, init_state_dict), checked."""
    path = Path(path) if path is not None else human_door_path()
    raw = safe_load(path)
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: expected a non-empty list of demonstrations, found {type(raw).__name__}")
    for i, demo in enumerate(raw):
        try:
            obs, act, init = demo["observations"], demo["actions"], demo["init_state_dict"]
            ok = (
                obs.ndim == 2 and obs.shape[1] == DOOR_OBS_DIM and act.shape == (len(obs), DOOR_ACT_DIM)
                and demo["rewards"].shape == (len(obs),) and init["qpos"].shape == (DOOR_NQ,)
                and init["qvel"].shape == (DOOR_NQ,) and init["door_body_pos"].shape == (3,)
            )  # fmt: skip
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{path}: demonstration {i} lacks an expected field ({err})") from err
        if not ok:
            raise ValueError(f"{path}: demonstration {i} does not have the documented door-v0 shapes")
    return raw


def _golden_section(f, lo: float, hi: float, tol: float = 1e-10, max_iter: int = 200) -> float:
    """Minimiser of a unimodal ``f`` on [lo, hi]."""
    a, b = lo, hi
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(max_iter):
        if b - a < tol:
            break
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = f(d)
    return 0.5 * (a + b)


def rebuild_door_qpos(model: mujoco.MjModel, data: mujoco.MjData, obs: np.ndarray) -> np.ndarray:
    """Full ``qpos`` (30,) whose door observation matches ``obs`` (39,); the door body must already be placed."""
    grasp = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "S_grasp")
    artz = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "ARTz")
    lo, hi = model.jnt_range[artz]
    qpos = np.zeros(model.nq)
    qpos[1:28], qpos[29], qpos[28] = obs[0:27], obs[27], obs[28]
    target = obs[29:32]

    def palm_error(z: float) -> float:
        qpos[0] = z
        data.qpos[:] = qpos
        mujoco.mj_kinematics(model, data)
        return float(np.sum((data.site_xpos[grasp] - target) ** 2))

    qpos[0] = _golden_section(palm_error, float(lo), float(hi))
    return qpos.copy()


def human_door_demos(path: str | Path | None = None) -> DemoSet:
    """Rebuild the 25 human door demonstrations (module doc). Per-step ``reconstruction_error`` (max abs
    difference between rebuilt and recorded observation) is stored with each trajectory and its maximum in
    ``episode_info[i]["max_reconstruction_error"]``."""
    from rrl.envs import EnvConfig, get_sim_state, make_env, set_sim_state
    from rrl.tasks import get_task

    path = Path(path) if path is not None else human_door_path()
    raw = load_raw_human_door(path)
    spec = get_task("door")
    env = make_env(EnvConfig(task="door", obs_mode="state"))
    env.reset(seed=0)
    base = env.unwrapped
    model, data = base.model, base.data
    frame = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "frame")
    trajectories, infos = [], []
    try:
        for demo in raw:
            rec_obs = np.asarray(demo["observations"], dtype=np.float64)
            model.body_pos[frame] = demo["init_state_dict"]["door_body_pos"]
            qpos = np.stack([rebuild_door_qpos(model, data, o) for o in rec_obs])
            qvel = np.gradient(qpos, base.dt, axis=0) if len(qpos) > 1 else np.zeros_like(qpos)
            states, obs = [], []
            for qp, qv in zip(qpos, qvel):
                s = get_sim_state(env)
                s["qpos"], s["qvel"] = qp, qv
                set_sim_state(env, s)
                obs.append(base._get_obs())
                states.append(get_sim_state(env))
            obs_arr = np.asarray(obs)
            err = np.abs(obs_arr - rec_obs).max(axis=1)
            hinge_next = np.append(qpos[1:, 28], qpos[-1, 28])
            successes = hinge_next >= _HINGE_SUCCESS
            trajectories.append(
                {
                    "observations": obs_arr,
                    "actions": np.asarray(demo["actions"], dtype=np.float64),
                    "rewards": np.where(successes, 10.0, -0.1),
                    "successes": successes,
                    "sim_states": {k: np.stack([s[k] for s in states]) for k in states[0]},
                    "recorded_observations": rec_obs,
                    "reconstruction_error": err,
                }
            )
            infos.append(
                {
                    "max_reconstruction_error": float(err.max()),
                    "success_steps": int(successes.sum()),
                    "success": bool(spec.is_success(successes)),
                }
            )
    finally:
        env.close()
    metadata = {
        "task": "door",
        "env_id": spec.env_id,
        "source": "human",
        "seed": None,
        "demos_file": path.name,
        "demos_sha256": file_sha256(path),
        "qvel": "central differences of rebuilt qpos over env dt",
        "max_reconstruction_error": float(max(i["max_reconstruction_error"] for i in infos)),
        "created_utc": datetime.now(UTC).isoformat(),
        "versions": library_versions(),
    }
    return DemoSet(trajectories=trajectories, metadata=metadata, episode_info=infos)


def open_loop_replay(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Diagnostic: reset to each demo's ``init_state_dict`` and replay its recorded actions open loop.

    Returns per demo ``{"length", "success_steps", "success", "max_hinge"}`` (success by the task's rule).
    """
    from rrl.envs import EnvConfig, make_env
    from rrl.tasks import get_task

    raw = load_raw_human_door(path)
    spec = get_task("door")
    horizon = max(len(d["actions"]) for d in raw)
    env = make_env(EnvConfig(task="door", obs_mode="state", horizon=horizon))
    results = []
    try:
        for demo in raw:
            init = {k: np.asarray(v, dtype=np.float64) for k, v in demo["init_state_dict"].items()}
            env.reset(seed=0, options={"initial_state_dict": init})
            succ, hinge = [], []
            for a in demo["actions"]:
                obs, _, _, _, info = env.step(np.asarray(a, dtype=np.float64))
                succ.append(bool(info["success"]))
                hinge.append(float(obs[28]))
            results.append(
                {
                    "length": len(succ),
                    "success_steps": int(sum(succ)),
                    "success": bool(spec.is_success(np.asarray(succ))),
                    "max_hinge": max(hinge),
                }
            )
    finally:
        env.close()
    return results
