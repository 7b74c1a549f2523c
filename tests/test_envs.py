"""The ADROIT task suite: tasks, observation modes, rewards, cameras, vector envs (real MuJoCo)."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import gymnasium_robotics
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rrl.envs import EnvConfig, env_fn, get_sim_state, make_env, render_state, rewards, set_sim_state
from rrl.tasks import TASKS, get_task

gym.register_envs(gymnasium_robotics)

SMALL = dict(render_size=64, crop_size=56)
STATE_DIMS = {"door": 39, "hammer": 46, "pen": 45, "relocate": 39}
ACTION_DIMS = {"door": 28, "hammer": 26, "pen": 24, "relocate": 30}


@pytest.mark.parametrize(
    "task,part,value",
    [
        ("door", "handle_pos", lambda e: e.data.site_xpos[e.handle_site_id]),
        ("hammer", "nail_pos", lambda e: e.data.site_xpos[e.target_obj_site_id]),
        ("pen", "pen_pos", lambda e: e.data.xpos[e.obj_body_id]),
        ("relocate", "object_to_target", lambda e: e.data.xpos[e.obj_body_id] - e.data.site_xpos[e.target_obj_site_id]),
    ],
)
def test_state_layout_names_the_state_vector(task, part, value):
    """``TaskSpec.state_layout`` covers the state vector exactly, and a named part holds that quantity."""
    spec = get_task(task)
    env = make_env(EnvConfig(task=task))
    obs, _ = env.reset(seed=1)
    assert spec.state_dim == obs.shape[0] == STATE_DIMS[task]
    kept = spec.state_columns((part,))
    hidden = np.setdiff1d(np.arange(spec.state_dim), kept)
    assert len(hidden) == 3
    np.testing.assert_allclose(obs[hidden], value(env.unwrapped))
    assert list(spec.state_columns((f"{part}.y",))) == [i for i in range(spec.state_dim) if i != hidden[1]]
    with pytest.raises(ValueError, match="unknown state part"):
        spec.state_columns((f"{part}.w",))
    with pytest.raises(ValueError, match="unknown state part 'hand_qpos.x'"):
        spec.state_columns(("hand_qpos.x",))
    # the hand joints are where the layout says (the policy's proprioception in pixel runs)
    hand = np.setdiff1d(np.arange(spec.state_dim), spec.state_columns(("hand_qpos",)))
    qpos = [env.unwrapped.data.joint(name).qpos[0] for name in spec.hand_joints]
    np.testing.assert_allclose(obs[hand], qpos)


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("mode", ["state", "rgb+proprio", "rgb"])
def test_reset_and_step_shapes(task, mode):
    env = make_env(EnvConfig(task=task, obs_mode=mode, **SMALL))
    obs, _ = env.reset(seed=0)
    assert env.action_space.shape == (ACTION_DIMS[task],)
    for _ in range(3):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert obs in env.observation_space
        assert isinstance(info["success"], bool) and not terminated and not truncated
        assert reward == pytest.approx(-0.1)
    if mode == "state":
        assert obs.shape == (STATE_DIMS[task],)
    else:
        assert obs["pixels"].shape == (1, 56, 56, 3) and obs["pixels"].dtype == np.uint8
        assert ("proprio" in obs) == (mode == "rgb+proprio")
        if mode == "rgb+proprio":
            assert obs["proprio"].shape == (24,) and obs["proprio"].dtype == np.float32
    env.close()


def test_default_render_is_paper_size():
    env = make_env(EnvConfig(task="door", obs_mode="rgb+proprio"))
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (1, 224, 224, 3)
    env.close()


def test_horizon_truncates():
    env = make_env(EnvConfig(task="pen", obs_mode="state"))
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        *_, truncated, _ = env.step(np.zeros(env.action_space.shape, np.float32))
        steps += 1
    assert steps == get_task("pen").horizon == 100


@pytest.mark.parametrize("task", list(TASKS))
def test_model_edits_keep_physics_identical(task):
    """Added cameras and colour edits must not change the dynamics of the Gymnasium-Robotics model."""
    ours = make_env(EnvConfig(task=task, obs_mode="state"))
    ref = gym.make(get_task(task).env_id)
    o1, _ = ours.reset(seed=3)
    o2, _ = ref.reset(seed=3)
    np.testing.assert_array_equal(o1, o2)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.uniform(-1, 1, ours.action_space.shape).astype(np.float32)
        o1, r1, *_ = ours.step(a)
        o2, r2, *_ = ref.step(a)
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2  # sparse rewards agree


@pytest.mark.parametrize("task", ["door", "hammer", "relocate", "pen"])
def test_dense_reward_fixes_the_hand_to_object_sign(task):
    """rrl's dense reward equals Gymnasium-Robotics 1.4.2's except for the sign of the hand-to-object term."""
    ours = make_env(EnvConfig(task=task, obs_mode="state", reward="dense"))
    ref = gym.make(get_task(task).dense_env_id)
    ours.reset(seed=1)
    ref.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(10):
        a = rng.uniform(-1, 1, ours.action_space.shape).astype(np.float32)
        _, r_ours, *_ = ours.step(a)
        _, r_ref, *_ = ref.step(a)
        terms = rewards.dense_reward_terms(task, ours.unwrapped)
        assert r_ours == pytest.approx(sum(terms.values()))
        hand_term = {"door": "get_to_handle", "hammer": "get_to_hammer", "relocate": "get_to_object"}.get(task)
        if hand_term is None:  # pen has no such term and no bug
            assert r_ours == pytest.approx(r_ref)
        else:
            assert terms[hand_term] < 0
            assert r_ours == pytest.approx(r_ref + 2 * terms[hand_term])


def test_dense_terms_by_hand():
    palm, handle = np.zeros(3), np.array([0.3, 0.4, 0.0])  # distance 0.5
    t = rewards.door_terms(palm, handle, hinge=1.4, qvel=np.full(3, 10.0))
    assert t["get_to_handle"] == pytest.approx(-0.05)
    assert t["open_door"] == pytest.approx(-0.1 * 0.17**2)
    assert t["velocity"] == pytest.approx(-1e-5 * 300)
    assert (t["bonus_0.2"], t["bonus_1.0"], t["bonus_1.35"]) == (2.0, 8.0, 10.0)
    assert rewards.door_terms(palm, handle, hinge=0.1, qvel=np.zeros(3))["bonus_0.2"] == 0.0

    hammer = rewards.hammer_terms(
        palm=np.zeros(3), hammer=np.array([0.0, 0.0, 0.05]), head=np.array([0.0, 0.0, 0.05]),
        nail=np.array([0.0, 0.0, 0.1]), goal=np.array([0.0, 0.0, 0.095]), qvel=np.array([3.0, 4.0]),
    )  # fmt: skip
    assert hammer["get_to_hammer"] == pytest.approx(-0.005)
    assert hammer["head_to_nail"] == pytest.approx(-0.05)
    assert hammer["nail_in"] == pytest.approx(-0.05)
    assert hammer["velocity"] == pytest.approx(-0.05)
    assert (hammer["lift_bonus"], hammer["bonus_0.02"], hammer["bonus_0.01"]) == (2.0, 25.0, 75.0)

    reloc = rewards.relocate_terms(palm=np.zeros(3), obj=np.array([0.0, 0.0, 0.1]), target=np.array([0.0, 0.0, 0.14]))
    assert reloc["get_to_object"] == pytest.approx(-0.01)
    assert reloc["lift_bonus"] == 1.0
    assert reloc["palm_to_target"] == pytest.approx(-0.07)
    assert reloc["object_to_target"] == pytest.approx(-0.02)
    assert (reloc["bonus_0.1"], reloc["bonus_0.05"]) == (10.0, 20.0)
    on_table = rewards.relocate_terms(np.zeros(3), np.array([0.0, 0.0, 0.03]), np.array([0.0, 0.0, 0.5]))
    assert on_table["palm_to_target"] == 0.0 and on_table["lift_bonus"] == 0.0

    pen = rewards.pen_terms(np.array([0.0, 0.0, 0.05]), np.zeros(3), np.array([1.0, 0, 0]), np.array([1.0, 0, 0]))
    assert pen["position"] == pytest.approx(-0.05) and pen["orientation"] == pytest.approx(1.0)
    assert (pen["bonus_0.9"], pen["bonus_0.95"], pen["drop_penalty"]) == (10.0, 50.0, -5.0)


def test_sparse_reward_and_success_flag():
    env = make_env(EnvConfig(task="door", obs_mode="state"))
    env.reset(seed=0)
    base = env.unwrapped
    base.data.qpos[base.door_hinge_addrs] = 1.5  # door wide open
    mujoco.mj_forward(base.model, base.data)
    _, reward, *_, info = env.step(np.zeros(28, np.float32))
    assert info["success"] is True and reward == 10.0


@pytest.mark.parametrize(
    "n_success,pen,expected",
    [(25, False, False), (26, False, True), (20, True, False), (21, True, True), (0, False, False)],
)
def test_success_rule_on_hand_made_trajectories(n_success, pen, expected):
    spec = get_task("pen" if pen else "door")
    flags = np.zeros(spec.horizon, bool)
    flags[:n_success] = True
    np.random.default_rng(0).shuffle(flags)
    assert spec.is_success(flags) is expected


@pytest.mark.parametrize("task,hand_slice", [("door", slice(4, -2)), ("relocate", slice(6, -6))])
def test_proprio_is_the_hand_joint_slice(task, hand_slice):
    env = make_env(EnvConfig(task=task, obs_mode="rgb+proprio", **SMALL))
    env.reset(seed=0)
    obs, *_ = env.step(env.action_space.sample())
    np.testing.assert_array_equal(obs["proprio"], env.unwrapped.data.qpos[hand_slice].astype(np.float32))


@pytest.mark.parametrize("task", list(TASKS))
def test_arm_joints_are_the_models_arm_joints(task):
    """``TaskSpec.arm_joints`` (the proprioception's arm part with ``include_arm``) lists the model's arm joints."""
    model = make_env(EnvConfig(task=task)).unwrapped.model
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(model.njnt)]
    assert get_task(task).arm_joints == tuple(n for n in names if n.startswith("AR"))
    env = make_env(EnvConfig(task=task, obs_mode="rgb+proprio", include_arm=True, **SMALL))
    obs, _ = env.reset(seed=0)
    assert obs["proprio"].shape == (len(get_task(task).arm_joints) + 24,)


@pytest.mark.parametrize("task", list(TASKS))
def test_proprio_has_no_object_state(task):
    """Moving every non-hand, non-arm joint and the randomised object/goal leaves proprioception unchanged."""
    env = make_env(EnvConfig(task=task, obs_mode="rgb+proprio", include_arm=True, **SMALL))
    env.reset(seed=0)
    env.step(env.action_space.sample())
    base = env.unwrapped
    wrapper_proprio = env.get_wrapper_attr("proprioception")
    before = wrapper_proprio().copy()
    frames_before = env.get_wrapper_attr("render_pixels")().copy()
    state = get_sim_state(env)
    proprio_names = set(env.get_wrapper_attr("proprio_joints"))
    moved = state["qpos"].copy()
    for j in range(base.model.njnt):
        name = mujoco.mj_id2name(base.model, mujoco.mjtObj.mjOBJ_JOINT, j)
        if name not in proprio_names:
            moved[base.model.jnt_qposadr[j]] += 0.05
    state["qpos"] = moved
    for field in get_task(task).randomised:
        state[field.key] = state[field.key] + 0.05
    set_sim_state(env, state)
    np.testing.assert_array_equal(wrapper_proprio(), before)
    assert not np.array_equal(env.get_wrapper_attr("render_pixels")(), frames_before)  # the scene did change
    # and a hand joint does show up
    state["qpos"][base.model.jnt_qposadr[base.model.joint("FFJ1").id]] += 0.3
    set_sim_state(env, state)
    assert not np.array_equal(wrapper_proprio(), before)


def test_proprio_noise_is_scaled_and_seeded():
    cfg = EnvConfig(task="door", obs_mode="rgb+proprio", proprio_noise=0.02, **SMALL)
    env = make_env(cfg)
    clean = env.get_wrapper_attr("proprioception")
    samples = []
    obs, _ = env.reset(seed=7)
    first = obs["proprio"].copy()
    for _ in range(200):
        samples.append(obs["proprio"] - clean())
        obs, *_ = env.step(np.zeros(28, np.float32))
    err_std = np.std(samples, axis=0)
    model = env.unwrapped.model
    ranges = np.array([np.diff(model.joint(n).range)[0] for n in env.get_wrapper_attr("proprio_joints")])
    np.testing.assert_allclose(err_std, 0.02 * ranges, rtol=0.25)
    obs2, _ = env.reset(seed=7)
    np.testing.assert_array_equal(obs2["proprio"], first)


def test_state_noise_is_one_offset_per_episode_on_the_named_parts_only():
    """``state_noise``: every step of an episode carries the same offset on exactly the named entries (std as
    given, over episodes); the next episode draws a new one; the same seed gives the same offsets."""
    spec = get_task("door")
    noise = ("palm_pos.x=0.03", "handle_pos=0.01")
    env = make_env(EnvConfig(task="door", state_noise=noise))
    noisy = np.flatnonzero(spec.state_noise_std(noise))
    np.testing.assert_array_equal(noisy, spec.state_part_columns("palm_pos.x") + spec.state_part_columns("handle_pos"))
    offsets = []
    for episode in range(300):
        obs, _ = env.reset(seed=3 if episode == 0 else None)
        errors = [obs - env.unwrapped._get_obs()]
        for _ in range(3):
            obs, *_ = env.step(env.action_space.sample())
            errors.append(obs - env.unwrapped._get_obs())
        errors = np.array(errors)
        np.testing.assert_allclose(errors, errors[:1].repeat(4, 0), atol=1e-12)  # constant within the episode
        assert np.all(errors[:, np.setdiff1d(np.arange(spec.state_dim), noisy)] == 0)  # nothing else changes
        offsets.append(errors[0, noisy])
    offsets = np.array(offsets)
    assert len(np.unique(offsets[:, 0])) == 300  # a fresh draw per episode
    np.testing.assert_allclose(offsets.std(0), [0.03, 0.01, 0.01, 0.01], rtol=0.2)
    first, _ = env.reset(seed=3)
    np.testing.assert_allclose(first[noisy] - env.unwrapped._get_obs()[noisy], offsets[0])
    with pytest.raises(ValueError, match="obs_mode='state' only"):
        EnvConfig(task="door", obs_mode="rgb", state_noise=noise)
    with pytest.raises(ValueError, match="'part=std'"):
        EnvConfig(task="door", state_noise=("palm_pos.x",))
    with pytest.raises(ValueError, match="unknown state part 'palm'"):
        EnvConfig(task="door", state_noise=("palm=0.1",))


@pytest.mark.parametrize("task", list(TASKS))
def test_rendering_is_not_blank_and_camera_dependent(task):
    spec = get_task(task)
    frames = {}
    for cam in spec.camera_names[:3]:
        env = make_env(EnvConfig(task=task, obs_mode="rgb", cameras=(cam,), **SMALL))
        obs, _ = env.reset(seed=0)
        px = obs["pixels"][0].astype(float)
        assert px.std() > 5.0, f"{task}/{cam} frame is blank"
        frames[cam] = px
        env.close()
    cams = list(frames)
    for a in range(len(cams)):
        for b in range(a + 1, len(cams)):
            assert np.abs(frames[cams[a]] - frames[cams[b]]).mean() > 3.0


def test_multiple_cameras_stack_in_order():
    env = make_env(EnvConfig(task="relocate", obs_mode="rgb", cameras=("cam1", "cam2", "cam3"), **SMALL))
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (3, 56, 56, 3)
    single = make_env(EnvConfig(task="relocate", obs_mode="rgb", cameras=("cam2",), **SMALL))
    obs2, _ = single.reset(seed=0)
    np.testing.assert_array_equal(obs["pixels"][1], obs2["pixels"][0])


def test_renderer_reused_and_resets_do_not_leak():
    env = make_env(EnvConfig(task="hammer", obs_mode="rgb", **SMALL))
    obs_a, _ = env.reset(seed=5)
    renderer = env.get_wrapper_attr("_renderer")
    for _ in range(5):
        env.step(env.action_space.sample())
    obs_b, _ = env.reset(seed=5)
    assert env.get_wrapper_attr("_renderer") is renderer
    np.testing.assert_array_equal(obs_a["pixels"], obs_b["pixels"])


def test_sim_state_round_trip_rerenders_exactly():
    env = make_env(EnvConfig(task="relocate", obs_mode="rgb+proprio", **SMALL))
    env.reset(seed=2)
    for _ in range(10):
        obs, *_ = env.step(env.action_space.sample())
    state = get_sim_state(env)
    env.reset(seed=9)  # different object and target
    np.testing.assert_array_equal(render_state(env, state), obs["pixels"])


@pytest.mark.parametrize("mode", ["state", "rgb+proprio"])
def test_check_env(mode):
    env = make_env(EnvConfig(task="door", obs_mode=mode, proprio_noise=0.02, **SMALL))
    check_env(env, skip_render_check=True)


def test_sync_vector_env():
    cfg = EnvConfig(task="door", obs_mode="rgb+proprio", **SMALL)
    envs = gym.vector.SyncVectorEnv([env_fn(cfg)] * 2)
    obs, _ = envs.reset(seed=[0, 1])
    assert obs["pixels"].shape == (2, 1, 56, 56, 3) and obs["proprio"].shape == (2, 24)
    obs, rew, term, trunc, info = envs.step(envs.action_space.sample())
    assert rew.shape == (2,) and info["success"].shape == (2,)
    envs.close()


def test_async_vector_env_spawn_matches_sync():
    cfg = EnvConfig(task="door", obs_mode="rgb+proprio", **SMALL)
    asy = gym.vector.AsyncVectorEnv([env_fn(cfg)] * 2, context="spawn")
    syn = gym.vector.SyncVectorEnv([env_fn(cfg)] * 2)
    oa, _ = asy.reset(seed=[3, 4])
    os_, _ = syn.reset(seed=[3, 4])
    actions = np.random.default_rng(0).uniform(-1, 1, (2, 28)).astype(np.float32)
    oa, *_ = asy.step(actions)
    os_, *_ = syn.step(actions)
    np.testing.assert_array_equal(oa["pixels"], os_["pixels"])
    np.testing.assert_array_equal(oa["proprio"], os_["proprio"])
    asy.close()
    syn.close()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(task="drawer"), "valid tasks: door, hammer, pen, relocate"),
        (dict(task="door", obs_mode="depth"), "valid: state"),
        (dict(task="door", cameras=("cam1",)), "valid cameras: top"),
        (dict(task="door", render_size=64, crop_size=128), "crop_size"),
        (dict(task="door", reward="shaped"), "valid: sparse, dense"),
    ],
)
def test_bad_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EnvConfig(**kwargs)


def _rrl(*args):
    return subprocess.run([sys.executable, "-m", "rrl.cli", *args], capture_output=True, text=True, timeout=120)


def test_cli_tasks_and_render(tmp_path):
    out = _rrl("tasks")
    assert out.returncode == 0 and "AdroitHandDoorSparse-v1" in out.stdout
    png = tmp_path / "door.png"
    out = _rrl("render", "--task", "door", "--camera", "top", "--size", "64", "--out", str(png))
    assert out.returncode == 0, out.stderr
    import imageio.v3 as iio

    assert iio.imread(png).shape == (64, 64, 3)


def test_cli_unknown_names_exit_nonzero_with_choices(tmp_path):
    out = _rrl("render", "--task", "drawer", "--out", str(tmp_path / "x.png"))
    assert out.returncode != 0 and "door, hammer, pen, relocate" in out.stderr
    out = _rrl("render", "--task", "door", "--camera", "side", "--out", str(tmp_path / "x.png"))
    assert out.returncode != 0 and "top, fixed, vil_camera" in out.stderr
    assert not (tmp_path / "x.png").exists()


def test_rendering_does_not_change_dynamics():
    pixels = make_env(EnvConfig(task="hammer", obs_mode="rgb+proprio", **SMALL))
    state = make_env(EnvConfig(task="hammer", obs_mode="state"))
    pixels.reset(seed=4)
    o_state, _ = state.reset(seed=4)
    rng = np.random.default_rng(4)
    for _ in range(15):
        a = rng.uniform(-1, 1, state.action_space.shape).astype(np.float32)
        pixels.step(a)
        state.step(a)
        np.testing.assert_array_equal(pixels.unwrapped.data.qpos, state.unwrapped.data.qpos)
        np.testing.assert_array_equal(pixels.unwrapped.data.qvel, state.unwrapped.data.qvel)


DISTRACTOR_FIELDS = {
    "light_position": ("light_pos", "light_dir"),  # light_dir: mirrored below the scene for relocate's cam1
    "light_direction": ("light_dir",),
    "object_color": ("geom_rgba", "geom_matid"),
    "random_object": ("geom_rgba", "geom_type", "geom_size", "geom_pos", "geom_quat", "geom_rbound"),
}
VISUAL_FIELDS = ("light_pos", "light_dir", "geom_rgba", "geom_matid", "geom_type", "geom_size", "geom_pos", "geom_quat")


@pytest.mark.parametrize("name", list(DISTRACTOR_FIELDS))
@pytest.mark.parametrize("task", ["door", "hammer", "pen", "relocate"])  # relocate's cam1 looks up from below
def test_distractor_changes_frame_and_only_its_property(task, name):
    clean = make_env(EnvConfig(task=task, obs_mode="rgb", **SMALL))
    noisy = make_env(EnvConfig(task=task, obs_mode="rgb", distractor=name, **SMALL))
    model = noisy.unwrapped.model
    before = {f: getattr(model, f).copy() for f in VISUAL_FIELDS}
    for seed in range(5):  # every draw is visible, not just a lucky one (e.g. an object behind the door frame)
        o_clean, _ = clean.reset(seed=seed)
        o_noisy, _ = noisy.reset(seed=seed)
        changed_pixels = (np.abs(o_clean["pixels"].astype(int) - o_noisy["pixels"]).max(-1) > 10).sum()
        assert changed_pixels >= 5, (seed, changed_pixels)
    clean.reset(seed=0)
    noisy.reset(seed=0)
    changed = {f for f in VISUAL_FIELDS if not np.array_equal(getattr(model, f), before[f])}
    assert DISTRACTOR_FIELDS[name][0] in changed
    assert changed <= set(DISTRACTOR_FIELDS[name]), changed
    # physics untouched
    for act in np.random.default_rng(0).uniform(-1, 1, (10, clean.action_space.shape[0])).astype(np.float32):
        clean.step(act)
        noisy.step(act)
    np.testing.assert_array_equal(clean.unwrapped.data.qpos, noisy.unwrapped.data.qpos)


@pytest.mark.parametrize("name", list(DISTRACTOR_FIELDS))
def test_distractor_resamples_every_episode(name):
    env = make_env(EnvConfig(task="door", obs_mode="rgb", distractor=name, **SMALL))
    field = DISTRACTOR_FIELDS[name][0]
    env.reset(seed=0)
    first = getattr(env.unwrapped.model, field).copy()
    env.reset()
    second = getattr(env.unwrapped.model, field).copy()
    assert not np.array_equal(first, second)
    env.reset(seed=0)  # seeded: the same draw again
    np.testing.assert_array_equal(getattr(env.unwrapped.model, field), first)
