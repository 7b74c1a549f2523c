"""Safe loading of the hand_dapg pickles, the expert policy, the demo file format and expert rollouts."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest

import rrl  # noqa: F401  (sets MUJOCO_GL)
from rrl.demos import (
    CorruptPickleError,
    DemoFormatError,
    ForbiddenGlobalError,
    load_demos,
    load_expert_policy,
    make_expert_demos,
    safe_load,
    save_demos,
)
from rrl.demos.safe_pickle import _Storage, _strided_view, safe_loads
from rrl.paths import hand_dapg_dir

DATA = hand_dapg_dir()
POLICY_LAYERS = {
    "door": (39, 32, 32, 28),
    "hammer": (46, 32, 32, 26),
    "pen": (45, 64, 64, 24),
    "relocate": (39, 32, 32, 30),
}


# --------------------------------------------------------------------------- safe unpickler


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_calling_os_system_is_rejected_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pickle"
    evil.write_bytes(pickle.dumps({"policy": _RunsShell(marker)}, protocol=3))
    with pytest.raises(ForbiddenGlobalError, match=r"posix\.system|nt\.system") as err:
        safe_load(evil)
    assert str(evil) in str(err.value)
    assert not marker.exists()
    # the same payload through plain pickle would have run the command (proves the test pickle is live)
    pickle.loads(evil.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize(
    "payload, forbidden",
    [
        (b"\x80\x03cbuiltins\neval\nX\x04\x00\x00\x001+1q\x00\x85R.", "builtins.eval"),
        (b"\x80\x03csubprocess\nPopen\n)R.", "subprocess.Popen"),
        (b"\x80\x03ccopyreg\n_reconstructor\n)R.", "copyreg._reconstructor"),
    ],
)
def test_other_globals_are_rejected_by_name(payload, forbidden):
    with pytest.raises(ForbiddenGlobalError, match=forbidden.replace(".", r"\.")):
        safe_loads(payload)


def test_getattr_only_works_on_inert_holders():
    # getattr(collections.OrderedDict, "fromkeys"): a real object, so refused
    payload = b"\x80\x03cbuiltins\ngetattr\ncollections\nOrderedDict\nX\x08\x00\x00\x00fromkeys\x86R."
    with pytest.raises(ForbiddenGlobalError, match="inert"):
        safe_loads(payload)


def test_rebuild_functions_cannot_be_mutated_by_build():
    # GLOBAL torch._utils._rebuild_parameter, then BUILD with a state dict
    payload = b"\x80\x03ctorch._utils\n_rebuild_parameter\n}X\x01\x00\x00\x00xK\x01sb."
    with pytest.raises(CorruptPickleError, match="set state"):
        safe_loads(payload)


def test_torch_tensors_rebuild_as_numpy_without_torch_load():
    torch = pytest.importorskip("torch")
    t = torch.arange(12.0).reshape(3, 4).t()  # non-contiguous view
    lin = torch.nn.Linear(3, 2)
    data = pickle.dumps({"t": t, "w": lin.weight, "i": torch.arange(5), "v": t[1:, 2:]}, protocol=3)
    out = safe_loads(data)
    np.testing.assert_array_equal(out["t"], t.numpy())
    np.testing.assert_array_equal(out["w"], lin.weight.detach().numpy())
    np.testing.assert_array_equal(out["i"], np.arange(5))
    np.testing.assert_array_equal(out["v"], t[1:, 2:].numpy())


def test_tensor_views_are_bounds_checked():
    storage = _Storage(np.dtype("<f4"), 6)
    assert _strided_view(storage, 0, (2, 3), (3, 1)).shape == (2, 3)
    with pytest.raises(CorruptPickleError, match="overruns"):
        _strided_view(storage, 1, (2, 3), (3, 1))
    with pytest.raises(CorruptPickleError, match="geometry"):
        _strided_view(storage, 0, (2, 3), (-3, 1))


@pytest.mark.parametrize("name", ["policies/door-v0.pickle", "demonstrations/door-v0_demos.pickle"])
def test_truncated_file_gives_clear_error(tmp_path, name):
    data = (DATA / name).read_bytes()
    bad = tmp_path / "truncated.pickle"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptPickleError, match="truncated or damaged") as err:
        safe_load(bad)
    assert str(bad) in str(err.value)


def test_missing_pickle_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pickle"):
        safe_load(tmp_path / "nothing.pickle")


def test_door_demo_file_loads_with_documented_shapes():
    demos = safe_load(DATA / "demonstrations" / "door-v0_demos.pickle")
    assert isinstance(demos, list) and len(demos) == 25
    lengths = []
    for d in demos:
        t = len(d["observations"])
        lengths.append(t)
        assert d["observations"].shape == (t, 39) and d["actions"].shape == (t, 28) and d["rewards"].shape == (t,)
        init = d["init_state_dict"]
        assert init["qpos"].shape == (30,) and init["qvel"].shape == (30,) and init["door_body_pos"].shape == (3,)
    assert min(lengths) == 223 and max(lengths) == 300


# --------------------------------------------------------------------------- expert policy


@pytest.mark.parametrize("task", list(POLICY_LAYERS))
def test_real_policy_files_load(task):
    policy = load_expert_policy(task)
    assert policy.layer_sizes == POLICY_LAYERS[task]
    assert policy.nonlinearity == "tanh"
    assert np.all(np.isfinite(policy.log_std)) and np.all(policy.log_std < 0)
    obs = np.zeros((3, policy.obs_dim))
    assert policy.mean_action(obs).shape == (3, policy.act_dim)


def test_mean_action_matches_a_torch_fcnetwork():
    """Independent check of the scaling: torch layers in float32, (x - shift) / (scale + 1e-8), tanh, out affine."""
    torch = pytest.importorskip("torch")
    policy = load_expert_policy("door")
    x = np.random.default_rng(0).normal(size=(8, policy.obs_dim))

    def f32(a):
        return torch.tensor(a, dtype=torch.float32)

    with torch.no_grad():
        z = (f32(x) - f32(policy.in_shift)) / (f32(policy.in_scale) + 1e-8)
        for i, (w, b) in enumerate(zip(policy.weights, policy.biases)):
            z = torch.nn.functional.linear(z, f32(w), f32(b))
            if i < len(policy.weights) - 1:
                z = torch.tanh(z)
        ref = z * f32(policy.out_scale) + f32(policy.out_shift)
    np.testing.assert_allclose(policy.mean_action(x), ref.numpy(), atol=1e-4)


def test_wrong_observation_size_is_a_clear_error():
    with pytest.raises(ValueError, match="expects 39"):
        load_expert_policy("door").mean_action(np.zeros(45))


@pytest.mark.parametrize("task", ["door", "hammer", "relocate"])
def test_expert_mean_action_solves_task(task):
    demos = make_expert_demos(task, n=2, seed=0, max_episodes=2)  # raises unless both episodes succeed
    assert len(demos) == 2 and demos.metadata["attempts"] == 2


def test_expert_solves_pen_most_of_the_time():
    demos = make_expert_demos("pen", n=3, seed=0, max_episodes=6)
    assert len(demos) == 3


# --------------------------------------------------------------------------- expert demonstrations


@pytest.fixture(scope="module")
def door2():
    return make_expert_demos("door", n=2, seed=0)


def test_expert_demos_record_every_step(door2):
    assert len(door2) == 2 and door2.lengths == [200, 200]
    traj = door2.trajectories[0]
    assert traj["observations"].shape == (200, 39) and traj["actions"].shape == (200, 28)
    assert traj["rewards"].shape == (200,) and traj["successes"].dtype == bool
    assert set(traj["sim_states"]) == {"qpos", "qvel", "model.body_pos.frame"}
    assert traj["sim_states"]["qpos"].shape == (200, 30)
    np.testing.assert_array_equal(traj["rewards"], np.where(traj["successes"], 10.0, -0.1))
    assert np.all(np.abs(traj["actions"]) <= 1.0)
    md = door2.metadata
    assert md["source"] == "expert" and md["env_id"] == "AdroitHandDoorSparse-v1" and md["seed"] == 0
    assert md["versions"]["mujoco"] and md["versions"]["gymnasium-robotics"]


@pytest.mark.parametrize("task", ["door", "hammer", "pen", "relocate"])
def test_recorded_state_restores_exactly(task):
    from rrl.envs import EnvConfig, get_sim_state, make_env, set_sim_state

    demos = make_expert_demos(task, n=1, seed=1, max_episodes=6)
    traj = demos.trajectories[0]
    env = make_env(EnvConfig(task=task))
    env.reset(seed=12345)  # another episode: the randomised model fields must come from the state
    for t in (0, len(traj["actions"]) // 2, len(traj["actions"]) - 1):
        state = {k: v[t] for k, v in traj["sim_states"].items()}
        set_sim_state(env, state)
        restored = get_sim_state(env)
        for key in state:
            np.testing.assert_array_equal(restored[key], state[key])
        if task == "door":  # qpos part of the observation (hand, latch, hinge) is reproduced exactly
            np.testing.assert_array_equal(env.unwrapped._get_obs()[:29], traj["observations"][t][:29])
    env.close()


def test_seeds_make_runs_reproducible_and_distinct(door2):
    again = make_expert_demos("door", n=2, seed=0)
    other = make_expert_demos("door", n=2, seed=1)
    assert again.fingerprint() == door2.fingerprint()
    assert other.fingerprint() != door2.fingerprint()


def test_action_noise_changes_actions(door2):
    noisy = make_expert_demos("door", n=1, seed=0, action_noise=0.05)
    assert noisy.metadata["action_noise"] == 0.05
    assert not np.allclose(noisy.trajectories[0]["actions"], door2.trajectories[0]["actions"])


def test_sampled_demos_draw_from_the_experts_gaussian(door2):
    """``actions="sampled"`` (FERM's demonstrations): each action is the expert's mean at the recorded observation plus
    noise of the expert's own std, per dimension (checked where the clip to [-1, 1] did not act)."""
    expert = load_expert_policy("door")
    sampled = make_expert_demos("door", n=2, seed=0, actions="sampled")
    assert sampled.metadata["expert_actions"] == "sampled" and door2.metadata["expert_actions"] == "mean"
    obs = np.concatenate([t["observations"] for t in sampled.trajectories])
    act = np.concatenate([t["actions"] for t in sampled.trajectories])
    mean = np.stack([expert.mean_action(o) for o in obs])
    inside = (np.abs(act) < 1) & (np.abs(mean) < 0.5)  # unclipped, and a clip of the noise is unlikely
    z = (act - mean) / np.exp(expert.log_std)
    assert inside.sum() > 2000
    assert abs(z[inside].std() - 1) < 0.1 and abs(z[inside].mean()) < 0.1
    np.testing.assert_allclose(
        np.stack([expert.mean_action(o) for o in door2.trajectories[0]["observations"]]).clip(-1, 1),
        door2.trajectories[0]["actions"], atol=1e-12,
    )  # fmt: skip
    assert make_expert_demos("door", n=2, seed=0, actions="sampled").fingerprint() == sampled.fingerprint()


def test_sampled_expert_demos_are_a_run_setting_of_their_own(tmp_path, monkeypatch, door2):
    """A run with --expert-demo-actions sampled makes (and caches apart) sampled demonstrations, refuses a cached
    file acted otherwise, and `rrl demos make --expert-actions sampled` writes the same file."""
    import rrl.demos as rd
    from rrl.cli import main
    from rrl.config import IDENTITY_FIELDS, TrainConfig
    from rrl.demos import default_demo_path
    from rrl.run.assembly import load_demo_set

    monkeypatch.setenv("RRL_CACHE_DIR", str(tmp_path / "cache"))
    sampled_path = default_demo_path("door", n=2, seed=0, actions="sampled")
    assert sampled_path.name == "door-expert-n2-seed0-sampled.h5"
    assert default_demo_path("door", n=2, seed=0).name == "door-expert-n2-seed0.h5"
    assert "expert_demo_actions" in IDENTITY_FIELDS
    with pytest.raises(ValueError, match="expert_demo_actions"):
        TrainConfig(expert_demo_actions="noisy")
    calls = []
    real = rd.make_expert_demos
    monkeypatch.setattr(rd, "make_expert_demos", lambda *a, **k: calls.append(k) or real(*a, **k))
    cfg = TrainConfig(task="door", n_demos=2, expert_demo_actions="sampled")
    made = load_demo_set(cfg)
    assert calls[-1]["actions"] == "sampled" and made.metadata["expert_actions"] == "sampled" and sampled_path.is_file()
    assert load_demo_set(cfg).fingerprint() == made.fingerprint() and len(calls) == 1  # from the cache
    out = tmp_path / "cli.h5"
    assert main(["demos", "make", "--task", "door", "--n", "2", "--expert-actions", "sampled", "--out", str(out)]) == 0
    assert load_demos(out).fingerprint() == made.fingerprint()
    sampled_path.unlink()
    save_demos(door2, sampled_path)  # mean-action demonstrations under the sampled name
    with pytest.raises(ValueError, match="acted with the mean action.*--expert-demo-actions sampled"):
        load_demo_set(cfg)


# --------------------------------------------------------------------------- storage


def test_save_load_roundtrip(tmp_path, door2):
    path = save_demos(door2, tmp_path / "door.h5")
    loaded = load_demos(path, task="door")
    assert loaded.fingerprint() == door2.fingerprint()
    for a, b in zip(loaded.trajectories, door2.trajectories):
        for key in ("observations", "actions", "rewards", "successes"):
            np.testing.assert_array_equal(a[key], b[key])
            assert a[key].dtype == b[key].dtype
        for key in b["sim_states"]:
            np.testing.assert_array_equal(a["sim_states"][key], b["sim_states"][key])
    assert loaded.episode_info == door2.episode_info
    for key in ("task", "env_id", "source", "seed", "action_noise", "policy_sha256", "versions"):
        assert loaded.metadata[key] == door2.metadata[key]
    assert loaded.metadata["format_version"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_wrong_task_is_a_clear_error(tmp_path, door2):
    path = save_demos(door2, tmp_path / "door.h5")
    with pytest.raises(DemoFormatError, match="holds 'door' demonstrations, expected task 'hammer'"):
        load_demos(path, task="hammer")


def test_wrong_format_version_is_a_clear_error(tmp_path, door2):
    path = save_demos(door2, tmp_path / "door.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(DemoFormatError, match="format version 99"):
        load_demos(path)


def test_missing_and_corrupt_files_are_clear_errors(tmp_path, door2):
    with pytest.raises(FileNotFoundError, match="rrl demos make"):
        load_demos(tmp_path / "absent.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not hdf5" * 100)
    with pytest.raises(DemoFormatError, match="not a readable HDF5"):
        load_demos(garbage)
    good = save_demos(door2, tmp_path / "good.h5").read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(DemoFormatError, match="cut.h5"):
        load_demos(cut)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(DemoFormatError, match="not an rrl demo file"):
        load_demos(other)


def test_damaged_data_fails_its_checksum(tmp_path, door2):
    path = save_demos(door2, tmp_path / "door.h5")
    with h5py.File(path, "r") as f:
        info = f["episodes/ep_000000/actions"].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DemoFormatError, match="damaged"):
        load_demos(path)


def test_existing_file_is_never_clobbered(tmp_path, door2):
    path = save_demos(door2, tmp_path / "door.h5")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        save_demos(door2, path)
    broken = type(door2)(trajectories=door2.trajectories, metadata={**door2.metadata, "bad": object()})
    with pytest.raises(TypeError, match="not JSON serialisable"):
        save_demos(broken, path, overwrite=True)  # fails half way through writing
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["door.h5"]


def test_cli_make_and_show(tmp_path, capsys):
    from rrl.cli import main

    out = tmp_path / "d.h5"
    assert main(["demos", "make", "--task", "door", "--n", "1", "--seed", "3", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(["demos", "make", "--task", "door", "--n", "1", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["demos", "show", "--task", "hammer", "--path", str(out)]) == 2
    assert "expected task 'hammer'" in capsys.readouterr().err
    sheet = tmp_path / "sheet.png"
    args = ["demos", "show", "--task", "door", "--path", str(out), "--out", str(sheet), "--size", "32", "--frames", "3"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "episodes 1" in text and "successful (goal on > 25 steps): 1/1" in text
    import imageio.v3 as iio

    assert iio.imread(sheet).shape == (32, 96, 3)


def test_get_demos_makes_once_then_loads(tmp_path, monkeypatch):
    from rrl.demos import get_demos

    monkeypatch.setenv("RRL_CACHE_DIR", str(tmp_path))
    first = get_demos("door", n=1, seed=2)
    path = tmp_path / "demos" / "door-expert-n1-seed2.h5"
    assert first.path == path and path.is_file()
    stamp = path.stat().st_mtime_ns
    again = get_demos("door", n=1, seed=2)
    assert path.stat().st_mtime_ns == stamp and again.fingerprint() == first.fingerprint()
    with pytest.raises(ValueError, match="door only"):
        get_demos("hammer", source="human")
