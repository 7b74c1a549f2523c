"""The three rewards of the ADROIT tasks: sparse, DAPG-shaped (dense) and the one RRL's released code used.

Sparse (what the paper's text says): +10 on a step where the goal is achieved, -0.1 otherwise; the goal tests
are Gymnasium-Robotics' (door hinge >= 1.35, hammer nail within 0.01 of the goal, pen within 0.075 of the
target with orientation similarity > 0.95, relocate object within 0.1 of the target).

RRL-code (``rrl_code``): the reward of the RRL authors' mj_envs fork at the commit "Added sparse rewards", which
trained their published curves: DAPG's task-progress terms without the hand-to-object terms, and three changed
goal tests (door hinge > 1.4; pen orientation only; relocate's target height fixed at 0.25). docs/rewards.md
puts the three side by side.

Dense: the shaped rewards of the DAPG paper's ``*-v0`` environments. Gymnasium-Robotics 1.4.2's dense ``v1``
rewards for door, hammer and relocate add ``+0.1 * ||palm - object||`` where DAPG subtracts it (a sign error
fixed upstream only in v2, Gymnasium-Robotics PR #220), so rrl computes the shaped reward itself from the
simulator, term by term. Each function returns ``{term name: value}``; the reward is the sum.
"""

from __future__ import annotations

import numpy as np

REWARDS = ("sparse", "dense", "rrl_code")
SPARSE_SUCCESS, SPARSE_FAILURE = 10.0, -0.1


def sparse_reward(success: bool) -> float:
    return SPARSE_SUCCESS if success else SPARSE_FAILURE


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def door_terms(palm: np.ndarray, handle: np.ndarray, hinge: float, qvel: np.ndarray) -> dict[str, float]:
    return {
        "get_to_handle": -0.1 * _dist(palm, handle),
        "open_door": -0.1 * (hinge - 1.57) ** 2,
        "velocity": -1e-5 * float(np.sum(qvel**2)),
        "bonus_0.2": 2.0 if hinge > 0.2 else 0.0,
        "bonus_1.0": 8.0 if hinge > 1.0 else 0.0,
        "bonus_1.35": 10.0 if hinge > 1.35 else 0.0,
    }


def hammer_terms(
    palm: np.ndarray, hammer: np.ndarray, head: np.ndarray, nail: np.ndarray, goal: np.ndarray, qvel: np.ndarray
) -> dict[str, float]:
    nail_to_goal = _dist(nail, goal)
    return {
        "get_to_hammer": -0.1 * _dist(palm, hammer),
        "head_to_nail": -_dist(head, nail),
        "nail_in": -10.0 * nail_to_goal,
        "velocity": -1e-2 * float(np.linalg.norm(qvel)),
        "lift_bonus": 2.0 if (hammer[2] > 0.04 and head[2] > 0.04) else 0.0,
        "bonus_0.02": 25.0 if nail_to_goal < 0.020 else 0.0,
        "bonus_0.01": 75.0 if nail_to_goal < 0.010 else 0.0,
    }


def pen_terms(
    obj_pos: np.ndarray, desired_pos: np.ndarray, obj_orien: np.ndarray, desired_orien: np.ndarray
) -> dict[str, float]:
    dist = _dist(obj_pos, desired_pos)
    similarity = float(np.dot(obj_orien, desired_orien))
    return {
        "position": -dist,
        "orientation": similarity,
        "bonus_0.9": 10.0 if (dist < 0.075 and similarity > 0.9) else 0.0,
        "bonus_0.95": 50.0 if (dist < 0.075 and similarity > 0.95) else 0.0,
        "drop_penalty": -5.0 if obj_pos[2] < 0.075 else 0.0,
    }


def relocate_terms(palm: np.ndarray, obj: np.ndarray, target: np.ndarray) -> dict[str, float]:
    lifted = obj[2] > 0.04
    obj_to_target = _dist(obj, target)
    return {
        "get_to_object": -0.1 * _dist(palm, obj),
        "lift_bonus": 1.0 if lifted else 0.0,
        "palm_to_target": -0.5 * _dist(palm, target) if lifted else 0.0,
        "object_to_target": -0.5 * obj_to_target if lifted else 0.0,
        "bonus_0.1": 10.0 if obj_to_target < 0.1 else 0.0,
        "bonus_0.05": 20.0 if obj_to_target < 0.05 else 0.0,
    }


#: Goal tests of the RRL-code reward (``rrl_code_success``).
RRL_CODE_DOOR_HINGE = 1.4
RRL_CODE_HAMMER_DISTANCE = 0.01
RRL_CODE_PEN_SIMILARITY = 0.95
RRL_CODE_RELOCATE_DISTANCE = 0.1
#: Relocate's target height under the RRL-code reward (Gymnasium-Robotics draws it from U(0.15, 0.35)).
RRL_CODE_RELOCATE_TARGET_Z = 0.25


def door_rrl_code_terms(hinge: float) -> dict[str, float]:
    return {
        "open_door": -0.1 * (hinge - 1.57) ** 2,
        "bonus_0.2": 2.0 if hinge > 0.2 else 0.0,
        "bonus_1.0": 8.0 if hinge > 1.0 else 0.0,
        "bonus_1.35": 10.0 if hinge > 1.35 else 0.0,
    }


def hammer_rrl_code_terms(nail: np.ndarray, goal: np.ndarray) -> dict[str, float]:
    nail_to_goal = _dist(nail, goal)
    return {
        "nail_in": -10.0 * nail_to_goal,
        "bonus_0.02": 25.0 if nail_to_goal < 0.020 else 0.0,
        "bonus_0.01": 75.0 if nail_to_goal < 0.010 else 0.0,
    }


def pen_rrl_code_terms(
    obj_pos: np.ndarray, desired_pos: np.ndarray, obj_orien: np.ndarray, desired_orien: np.ndarray
) -> dict[str, float]:
    close = _dist(obj_pos, desired_pos) < 0.075 and float(np.dot(obj_orien, desired_orien)) > 0.95
    return {"bonus_0.95": 50.0 if close else 0.0}


def relocate_rrl_code_terms(obj: np.ndarray, target: np.ndarray) -> dict[str, float]:
    obj_to_target = _dist(obj, target)
    return {
        "bonus_0.1": 10.0 if obj_to_target < 0.1 else 0.0,
        "bonus_0.05": 20.0 if obj_to_target < 0.05 else 0.0,
    }


def _pen_orientations(env) -> tuple[np.ndarray, np.ndarray]:
    d = env.data
    obj_orien = (d.site_xpos[env.obj_t_site_id] - d.site_xpos[env.obj_b_site_id]) / env.pen_length
    desired = (d.site_xpos[env.tar_t_site_id] - d.site_xpos[env.tar_b_site_id]) / env.tar_length
    return obj_orien, desired


def rrl_code_reward_terms(task: str, env) -> dict[str, float]:
    """RRL-code reward terms of ``task`` for the current state of the unwrapped Gymnasium-Robotics ``env``."""
    d = env.data
    if task == "door":
        return door_rrl_code_terms(float(d.qpos[env.door_hinge_addrs]))
    if task == "hammer":
        return hammer_rrl_code_terms(d.site_xpos[env.target_obj_site_id], d.site_xpos[env.goal_site_id])
    if task == "pen":
        return pen_rrl_code_terms(d.xpos[env.obj_body_id], d.site_xpos[env.eps_ball_site_id], *_pen_orientations(env))
    if task == "relocate":
        return relocate_rrl_code_terms(d.xpos[env.obj_body_id], d.site_xpos[env.target_obj_site_id])
    raise ValueError(f"no RRL-code reward for task {task!r}")


def rrl_code_success(task: str, env) -> bool:
    """The RRL-code goal test of ``task`` (per step) for the current state of the unwrapped ``env``."""
    d = env.data
    if task == "door":
        return float(d.qpos[env.door_hinge_addrs]) > RRL_CODE_DOOR_HINGE
    if task == "hammer":
        return _dist(d.site_xpos[env.target_obj_site_id], d.site_xpos[env.goal_site_id]) < RRL_CODE_HAMMER_DISTANCE
    if task == "pen":
        obj_orien, desired = _pen_orientations(env)
        return float(np.dot(obj_orien, desired)) > RRL_CODE_PEN_SIMILARITY
    if task == "relocate":
        return _dist(d.xpos[env.obj_body_id], d.site_xpos[env.target_obj_site_id]) < RRL_CODE_RELOCATE_DISTANCE
    raise ValueError(f"no RRL-code success test for task {task!r}")


def dense_reward_terms(task: str, env) -> dict[str, float]:
    """Shaped reward terms of ``task`` for the current state of the unwrapped Gymnasium-Robotics ``env``."""
    d = env.data
    if task == "door":
        return door_terms(
            d.site_xpos[env.grasp_site_id], d.site_xpos[env.handle_site_id], float(d.qpos[env.door_hinge_addrs]), d.qvel
        )
    if task == "hammer":
        return hammer_terms(
            d.site_xpos[env.S_grasp_site_id],
            d.xpos[env.obj_body_id],
            d.site_xpos[env.tool_site_id],
            d.site_xpos[env.target_obj_site_id],
            d.site_xpos[env.goal_site_id],
            d.qvel,
        )
    if task == "pen":
        return pen_terms(d.xpos[env.obj_body_id], d.site_xpos[env.eps_ball_site_id], *_pen_orientations(env))
    if task == "relocate":
        return relocate_terms(
            d.site_xpos[env.S_grasp_site_id], d.xpos[env.obj_body_id], d.site_xpos[env.target_obj_site_id]
        )
    raise ValueError(f"no dense reward for task {task!r}")
