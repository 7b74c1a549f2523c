"""Visual demonstrations: exact re-rendering from recorded states, batched encoding, the feature cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import rrl  # noqa: F401  (sets MUJOCO_GL)
from rrl.demos import DemoSet, demo_proprio, load_expert_policy, make_expert_demos, visual_features
from rrl.envs import EnvConfig, get_sim_state, make_env, render_state


class FakeEncoder:
    """Same interface as rrl.encoders: per camera, the mean colour and the mean of the centre pixel (D=4)."""

    def __init__(self, fingerprint: str = "fake-v1") -> None:
        self.fingerprint = fingerprint
        self.calls: list[int] = []

    def encode_views(self, pixels: np.ndarray) -> np.ndarray:
        assert pixels.dtype == np.uint8 and pixels.ndim == 5
        self.calls.append(len(pixels))
        n, c, h, w, _ = pixels.shape
        mean = pixels.reshape(n, c, -1, 3).mean(axis=2)
        centre = pixels[:, :, h // 2, w // 2, :1].astype(np.float64)
        return np.concatenate([mean, centre], axis=2).reshape(n, c * 4).astype(np.float32)


def _short(demos: DemoSet, steps: int) -> DemoSet:
    def cut(v):
        return {kk: vv[:steps].copy() for kk, vv in v.items()} if isinstance(v, dict) else v[:steps].copy()

    trajs = [{k: cut(v) for k, v in t.items()} for t in demos.trajectories]
    return DemoSet(trajectories=trajs, metadata=dict(demos.metadata), episode_info=list(demos.episode_info))


@pytest.fixture(scope="module")
def door_short():
    return _short(make_expert_demos("door", n=1, seed=0), 10)


@pytest.mark.parametrize("task", ["door", "hammer", "pen", "relocate"])
def test_rerendered_state_equals_live_frame(task):
    """Frames rendered live during a rollout equal frames re-rendered from the recorded states in a fresh env."""
    cfg = EnvConfig(task=task, obs_mode="rgb", render_size=64, crop_size=None)
    policy = load_expert_policy(task)
    live = make_env(cfg)
    obs, _ = live.reset(seed=5)
    frames, states = [obs["pixels"]], [get_sim_state(live)]
    for _ in range(6):
        obs, *_ = live.step(policy(live.unwrapped._get_obs()))
        frames.append(obs["pixels"])
        states.append(get_sim_state(live))
    live.close()
    fresh = make_env(cfg)
    fresh.reset(seed=777)  # different randomisation: the state must carry it
    for t, (frame, state) in enumerate(zip(frames, states)):
        np.testing.assert_array_equal(render_state(fresh, state), frame, err_msg=f"{task} step {t}")
    fresh.close()


def test_features_are_batched_and_match_unbatched(door_short, tmp_path):
    cfg = EnvConfig(task="door", obs_mode="rgb", render_size=48, crop_size=40)
    small, big = FakeEncoder(), FakeEncoder()
    a = visual_features(door_short, small, cfg, batch_size=4, cache=False)
    b = visual_features(door_short, big, cfg, batch_size=64, cache=False)
    assert small.calls == [4, 4, 2] and big.calls == [10]
    assert len(a) == 1 and a[0].shape == (10, 4) and a[0].dtype == np.float32
    np.testing.assert_array_equal(a[0], b[0])


def test_features_equal_encoding_of_live_frames(door_short):
    cfg = EnvConfig(task="door", obs_mode="rgb", render_size=48, crop_size=40)
    enc = FakeEncoder()
    feats = visual_features(door_short, enc, cfg, cache=False)[0]
    # replay the recorded actions live from the episode's reset seed and encode what the env shows
    live = make_env(cfg)
    obs, _ = live.reset(seed=door_short.episode_info[0]["reset_seed"])
    pixels = [obs["pixels"]]
    for a in door_short.trajectories[0]["actions"][:-1]:
        obs, *_ = live.step(a)
        pixels.append(obs["pixels"])
    live.close()
    np.testing.assert_array_equal(enc.encode_views(np.stack(pixels)), feats)


def test_cache_hits_and_invalidates(door_short, tmp_path):
    cfg = EnvConfig(task="door", obs_mode="rgb", render_size=48, crop_size=40)
    enc = FakeEncoder()
    first = visual_features(door_short, enc, cfg, cache_dir=tmp_path)
    assert enc.calls == [10]
    cached = list(tmp_path.glob("door-*.npz"))
    assert len(cached) == 1
    second = visual_features(door_short, enc, cfg, cache_dir=tmp_path)
    assert enc.calls == [10]  # hit: nothing rendered or encoded
    np.testing.assert_array_equal(first[0], second[0])

    def misses(demos, encoder, config) -> bool:
        before = len(encoder.calls)
        visual_features(demos, encoder, config, cache_dir=tmp_path)
        return len(encoder.calls) > before

    assert misses(door_short, FakeEncoder("fake-v2"), cfg)  # other weights/preprocessing
    assert misses(door_short, enc, dataclasses.replace(cfg, cameras=("vil_camera",)))
    assert misses(door_short, enc, dataclasses.replace(cfg, render_size=64))
    assert misses(door_short, enc, dataclasses.replace(cfg, crop_size=32))
    assert not misses(door_short, enc, dataclasses.replace(cfg, reward="dense", proprio_noise=0.1))  # not visual
    changed = _short(door_short, 10)
    changed.trajectories[0]["sim_states"]["qpos"][3, 5] += 1e-3
    assert misses(changed, enc, cfg)  # other demonstrations
    assert not misses(door_short, enc, cfg)  # the original entry is still there
    cached[0].write_bytes(b"damaged")
    assert misses(door_short, enc, cfg)  # a damaged entry is recomputed, not trusted


def test_visual_features_reject_state_config_and_other_task(door_short):
    with pytest.raises(ValueError, match="pixel env config"):
        visual_features(door_short, FakeEncoder(), EnvConfig(task="door"), cache=False)
    with pytest.raises(ValueError, match="distractor"):
        visual_features(door_short, FakeEncoder(), EnvConfig(task="door", obs_mode="rgb", distractor="object_color"))
    with pytest.raises(ValueError, match="task 'hammer'"):
        visual_features(door_short, FakeEncoder(), EnvConfig(task="hammer", obs_mode="rgb"), cache=False)


def test_demo_proprio_matches_env_proprioception(door_short):
    cfg = EnvConfig(task="door", obs_mode="rgb+proprio", render_size=32, crop_size=None)
    proprio = demo_proprio(door_short, cfg)[0]
    assert proprio.shape == (10, 24) and proprio.dtype == np.float32
    env = make_env(cfg)
    env.reset(seed=0)
    states = door_short.trajectories[0]["sim_states"]
    for t in (0, 9):
        render_state(env, {k: v[t] for k, v in states.items()})
        np.testing.assert_array_equal(env.get_wrapper_attr("proprioception")(), proprio[t])
    env.close()


def test_real_encoder_features_and_cache(door_short, tmp_path):
    encoders = pytest.importorskip("rrl.encoders")
    enc = encoders.make_encoder("efficientnet_lite0")
    cfg = EnvConfig(task="door", obs_mode="rgb")  # paper: render 256, crop 224
    short = _short(door_short, 3)
    feats = visual_features(short, enc, cfg, batch_size=2, cache_dir=tmp_path)[0]
    assert feats.shape[0] == 3 and feats.ndim == 2 and feats.dtype == np.float32
    assert np.all(np.isfinite(feats)) and not np.allclose(feats[0], 0)
    again = visual_features(short, enc, cfg, cache_dir=tmp_path)[0]
    np.testing.assert_array_equal(again, feats)


def test_feature_cache_key_separates_devices_backends_and_camera_poses(door_short, monkeypatch):
    import rrl.tasks
    from rrl.demos.visual import features_cache_key

    cfg = EnvConfig(task="door", obs_mode="rgb", render_size=64, crop_size=56)
    cpu, gpu, onnx = FakeEncoder(), FakeEncoder(), FakeEncoder()
    cpu.backend, cpu.device = "torch", "cpu"
    gpu.backend, gpu.device = "torch", "cuda:0"
    onnx.backend, onnx.device = "onnxruntime", "cpu"
    keys = {features_cache_key(door_short, e, cfg) for e in (cpu, gpu, onnx)}
    assert len(keys) == 3  # same weights, different numerics: features made on one never serve the other
    assert features_cache_key(door_short, cpu, cfg) == features_cache_key(door_short, cpu, cfg)
    spec = rrl.tasks.get_task("door")
    wider = dataclasses.replace(spec.cameras[0], fovy=spec.cameras[0].fovy + 1.0)
    monkeypatch.setitem(rrl.tasks.TASKS, "door", dataclasses.replace(spec, cameras=(wider, *spec.cameras[1:])))
    assert features_cache_key(door_short, cpu, cfg) not in keys  # a camera's field of view changed: new key
