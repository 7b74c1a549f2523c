"""The human door demonstrations rebuilt as simulator states from their recorded observations."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

import rrl  # noqa: F401  (sets MUJOCO_GL)
from rrl.demos import human_door_demos, load_demos, open_loop_replay, save_demos
from rrl.demos.human import load_raw_human_door, rebuild_door_qpos
from rrl.envs import EnvConfig, make_env, set_sim_state


@pytest.fixture(scope="module")
def raw():
    return load_raw_human_door()


@pytest.fixture(scope="module")
def human():
    return human_door_demos()


def test_rebuild_recovers_a_known_state():
    """A state from the simulator, observed, rebuilt: qpos comes back (ARTz by the 1-D search)."""
    env = make_env(EnvConfig(task="door"))
    env.reset(seed=4)
    base = env.unwrapped
    rng = np.random.default_rng(0)
    lo, hi = base.model.jnt_range[:, 0], base.model.jnt_range[:, 1]
    qpos = lo + (hi - lo) * rng.uniform(0.2, 0.8, size=lo.shape)
    base.data.qpos[:] = qpos
    mujoco.mj_forward(base.model, base.data)
    rebuilt = rebuild_door_qpos(base.model, base.data, base._get_obs().copy())
    np.testing.assert_allclose(rebuilt, qpos, atol=1e-8)
    env.close()


def test_human_demos_match_recorded_observations(human, raw):
    assert len(human) == 25 and human.metadata["source"] == "human" and human.task == "door"
    for traj, demo, info in zip(human.trajectories, raw, human.episode_info):
        np.testing.assert_array_equal(traj["actions"], demo["actions"])  # actions kept as recorded
        np.testing.assert_array_equal(traj["recorded_observations"], demo["observations"])
        # joint angles are copied, the rest is recomputed by the simulator from the rebuilt state
        np.testing.assert_array_equal(traj["observations"][:, :29], demo["observations"][:, :29])
        err = np.abs(traj["observations"] - demo["observations"]).max(axis=1)
        np.testing.assert_allclose(traj["reconstruction_error"], err)
        assert info["max_reconstruction_error"] == pytest.approx(err.max())
        assert err.max() < 0.01
        assert traj["sim_states"]["qpos"].shape == (len(demo["actions"]), 30)
        door_pos = traj["sim_states"]["model.body_pos.frame"]
        np.testing.assert_array_equal(door_pos, np.tile(demo["init_state_dict"]["door_body_pos"], (len(door_pos), 1)))
    assert 0.0 < human.metadata["max_reconstruction_error"] < 0.01


def test_human_states_restore_to_their_observations(human):
    env = make_env(EnvConfig(task="door"))
    env.reset(seed=9)
    traj = human.trajectories[3]
    for t in (0, 100, len(traj["actions"]) - 1):
        set_sim_state(env, {k: v[t] for k, v in traj["sim_states"].items()})
        np.testing.assert_array_equal(env.unwrapped._get_obs(), traj["observations"][t])
    env.close()


def test_human_successes_follow_the_hinge(human):
    for traj in human.trajectories:
        hinge_next = np.append(traj["sim_states"]["qpos"][1:, 28], traj["sim_states"]["qpos"][-1, 28])
        np.testing.assert_array_equal(traj["successes"], hinge_next >= 1.35)
        np.testing.assert_array_equal(traj["rewards"], np.where(traj["successes"], 10.0, -0.1))


def test_human_set_round_trips_through_the_file(human, tmp_path):
    path = save_demos(human, tmp_path / "door-human.h5")
    loaded = load_demos(path, task="door")
    assert loaded.fingerprint() == human.fingerprint()
    assert loaded.metadata["source"] == "human" and loaded.metadata["seed"] is None
    assert loaded.metadata["demos_sha256"] == human.metadata["demos_sha256"]


def test_open_loop_replay_diverges_from_some_recordings():
    results = open_loop_replay()
    assert len(results) == 25 and all(r["length"] >= 223 for r in results)
    assert 0 < sum(r["success"] for r in results) < 25
