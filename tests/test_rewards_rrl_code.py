"""The RRL-code reward (``reward="rrl_code"``): every term and goal test on constructed simulator states."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from rrl.config import REWARDS as CONFIG_REWARDS
from rrl.config import TrainConfig
from rrl.envs import EnvConfig, make_env, rewards


def _env(task: str, reward: str = "rrl_code", seed: int = 0):
    env = make_env(EnvConfig(task=task, obs_mode="state", reward=reward))
    env.reset(seed=seed)
    return env, env.unwrapped


def _forward(base) -> None:
    mujoco.mj_forward(base.model, base.data)


def test_reward_names_agree_and_are_checked():
    assert CONFIG_REWARDS == rewards.REWARDS
    assert TrainConfig(task="door", algo="dapg", reward="rrl_code").reward == "rrl_code"
    with pytest.raises(ValueError, match="rrl_code"):
        TrainConfig(task="door", algo="dapg", reward="rrl")
    with pytest.raises(ValueError, match="rrl_code"):
        EnvConfig(task="door", reward="sparse2")


@pytest.mark.parametrize(
    "hinge,expected_bonus,success_rrl_code,success_sparse",
    [
        (0.0, 0.0, False, False),
        (0.5, 2.0, False, False),
        (1.2, 10.0, False, False),
        (1.38, 20.0, False, True),  # Gymnasium-Robotics' test is hinge >= 1.35; RRL's code asks for > 1.4
        (1.45, 20.0, True, True),
    ],
)
def test_door_terms_and_goal_test(hinge, expected_bonus, success_rrl_code, success_sparse):
    env, base = _env("door")
    base.data.qpos[base.door_hinge_addrs] = hinge
    _forward(base)
    terms = rewards.rrl_code_reward_terms("door", base)
    assert set(terms) == {"open_door", "bonus_0.2", "bonus_1.0", "bonus_1.35"}  # no hand-to-handle, no velocity
    assert terms["open_door"] == pytest.approx(-0.1 * (hinge - 1.57) ** 2)
    assert terms["bonus_0.2"] + terms["bonus_1.0"] + terms["bonus_1.35"] == expected_bonus
    assert rewards.rrl_code_success("door", base) is success_rrl_code

    # Through the wrapper: a step from that state reports the goal test and the reward of the state it reaches.
    for reward, expected in (("rrl_code", success_rrl_code), ("sparse", success_sparse)):
        env, base = _env("door", reward)
        base.data.qpos[base.door_hinge_addrs] = hinge
        _forward(base)
        _, r, *_, info = env.step(np.zeros(env.action_space.shape, np.float32))
        reached = float(base.data.qpos[base.door_hinge_addrs])
        assert abs(reached - hinge) < 0.01
        if reward == "rrl_code":
            assert info["success"] is (reached > 1.4) is expected
            assert r == pytest.approx(sum(rewards.rrl_code_reward_terms("door", base).values()))
        else:
            assert info["success"] is (reached >= 1.35) is expected
            assert r == (10.0 if expected else -0.1)


def test_door_episode_that_never_moves_the_hinge():
    """200 random steps with the hinge held at 0 (a constructed door: huge hinge damping; the real door drifts
    about 0.01 rad at rest): 200 x (-0.1 x 1.57^2) = -49.3, and no success."""
    env, base = _env("door")
    base.model.dof_damping[base.model.jnt_dofadr[base.model.joint("door_hinge").id]] = 1e8
    env.action_space.seed(0)
    total, successes = 0.0, 0
    for _ in range(200):
        _, r, terminated, truncated, info = env.step(env.action_space.sample())
        total += r
        successes += info["success"]
        assert abs(float(base.data.qpos[base.door_hinge_addrs])) < 1e-4
    assert truncated and not terminated
    assert total == pytest.approx(200 * -0.1 * 1.57**2, abs=1e-3)
    assert round(total, 1) == -49.3 and successes == 0


def _set_nail_distance(base, distance: float) -> float:
    """Slide the nail along its joint until it is ``distance`` from the goal; returns the distance reached."""
    adr = base.model.jnt_qposadr[mujoco.mj_name2id(base.model, mujoco.mjtObj.mjOBJ_JOINT, "nail_dir")]
    best = None
    for q in np.linspace(-0.15, 0.15, 30001):
        base.data.qpos[adr] = q
        mujoco.mj_kinematics(base.model, base.data)
        d = float(np.linalg.norm(base.data.site_xpos[base.target_obj_site_id] - base.data.site_xpos[base.goal_site_id]))
        if best is None or abs(d - distance) < best[0]:
            best = (abs(d - distance), q, d)
    base.data.qpos[adr] = best[1]
    _forward(base)
    return best[2]


@pytest.mark.parametrize(
    "distance,bonus,success", [(0.05, 0.0, False), (0.015, 25.0, False), (0.005, 100.0, True)]
)
def test_hammer_terms_and_goal_test(distance, bonus, success):
    _, base = _env("hammer")
    reached = _set_nail_distance(base, distance)
    assert reached == pytest.approx(distance, abs=2e-4)
    terms = rewards.rrl_code_reward_terms("hammer", base)
    assert set(terms) == {"nail_in", "bonus_0.02", "bonus_0.01"}  # no hand-to-hammer, head-to-nail, lift, velocity
    assert terms["nail_in"] == pytest.approx(-10 * reached)
    assert terms["bonus_0.02"] + terms["bonus_0.01"] == bonus
    assert rewards.rrl_code_success("hammer", base) is success


def _pen_state(base, tilt: float, shift: float) -> tuple[float, float]:
    """Target orientation = the pen's; then tilt the pen by ``tilt`` rad and move it ``shift`` m along x.
    Returns (orientation similarity, distance to the target position)."""
    target = mujoco.mj_name2id(base.model, mujoco.mjtObj.mjOBJ_BODY, "target")
    assert base.model.body_parentid[target] == 0  # a child of the world: body_quat is its world orientation
    _forward(base)
    base.model.body_quat[target] = base.data.xquat[base.obj_body_id]
    base.data.qpos[27] += tilt  # OBJRx
    base.data.qpos[24] += shift  # OBJTx
    _forward(base)
    obj, desired = rewards._pen_orientations(base)
    dist = float(np.linalg.norm(base.data.xpos[base.obj_body_id] - base.data.site_xpos[base.eps_ball_site_id]))
    return float(np.dot(obj, desired)), dist


@pytest.mark.parametrize(
    "tilt,shift,bonus,success",
    [
        (0.0, 0.0, 50.0, True),
        (0.2, 0.0, 50.0, True),  # similarity cos(0.2) = 0.98
        (0.4, 0.0, 0.0, False),  # similarity cos(0.4) = 0.92
        (0.0, 0.2, 0.0, True),  # far from the target position: RRL's code no longer checks it
    ],
)
def test_pen_terms_and_goal_test(tilt, shift, bonus, success):
    _, base = _env("pen")
    similarity, dist = _pen_state(base, tilt, shift)
    assert similarity == pytest.approx(np.cos(tilt), abs=1e-6)
    assert (dist < 0.075) is (shift == 0.0)
    assert rewards.rrl_code_reward_terms("pen", base) == {"bonus_0.95": bonus}
    assert rewards.rrl_code_success("pen", base) is success


def _put_object_at(base, pos: np.ndarray) -> None:
    """Place relocate's ball at world position ``pos`` with its slide joints OBJTx/y/z (qpos 30-32)."""
    base.data.qpos[30:33] = pos - base.model.body_pos[base.obj_body_id]
    _forward(base)
    np.testing.assert_allclose(base.data.xpos[base.obj_body_id], pos, atol=1e-9)


@pytest.mark.parametrize("offset,bonus,success", [(0.2, 0.0, False), (0.07, 10.0, True), (0.03, 30.0, True)])
def test_relocate_terms_and_goal_test(offset, bonus, success):
    _, base = _env("relocate")
    target = base.data.site_xpos[base.target_obj_site_id].copy()
    _put_object_at(base, target + np.array([0.0, offset, 0.0]))
    terms = rewards.rrl_code_reward_terms("relocate", base)
    assert terms == {"bonus_0.1": 10.0 * (offset < 0.1), "bonus_0.05": 20.0 * (offset < 0.05)}
    assert sum(terms.values()) == bonus
    assert rewards.rrl_code_success("relocate", base) is success


def test_relocate_target_height_is_fixed_on_every_reset():
    env = make_env(EnvConfig(task="relocate", obs_mode="state", reward="rrl_code"))
    sparse = make_env(EnvConfig(task="relocate", obs_mode="state", reward="sparse"))
    base, heights, xy = env.unwrapped, [], []
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        target = base.data.site_xpos[base.target_obj_site_id]
        assert target[2] == pytest.approx(0.25, abs=1e-12)
        # the state observation already sees the fixed target: its last part is object - target
        np.testing.assert_allclose(obs[-3:], base.data.xpos[base.obj_body_id] - target, atol=1e-6)
        xy.append(target[:2].copy())
        sparse.reset(seed=seed)
        heights.append(float(sparse.unwrapped.data.site_xpos[sparse.unwrapped.target_obj_site_id][2]))
        np.testing.assert_allclose(sparse.unwrapped.data.site_xpos[sparse.unwrapped.target_obj_site_id][:2], xy[-1])
    for _ in range(3):  # episodes after the first, without a seed, keep the height too
        env.reset()
        assert base.data.site_xpos[base.target_obj_site_id][2] == pytest.approx(0.25, abs=1e-12)
    assert len({round(h, 6) for h in heights}) == 6 and all(0.15 <= h <= 0.35 for h in heights)
