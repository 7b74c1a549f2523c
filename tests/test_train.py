"""The training loop on door from state: repeatability, resume, NaN guard, BC-only from the CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import rrl.train as train_mod
from rrl.algos.npg import NPGStep
from rrl.checkpoint import read_checkpoint
from rrl.sampling import DemoData
from rrl.train import LOG_COLUMNS, TrainConfig, TrainingDivergedError, make_default_sampler, read_log, resume, train

NON_TIMING = [c for c in LOG_COLUMNS if not c.startswith("t_") and c not in ("wall_time", "rss_peak_mb")]


@pytest.fixture(scope="module")
def expert_demo_set():
    from rrl.demos import make_expert_demos

    return make_expert_demos("door", n=3, seed=0)


@pytest.fixture(scope="module")
def demos(expert_demo_set) -> DemoData:
    return DemoData.from_trajectories(expert_demo_set.trajectories)


def _cfg(out: Path, **kw) -> TrainConfig:
    base = dict(
        task="door", algo="dapg", seed=3, iterations=2, trajectories=4, horizon=40, eval_episodes=2,
        policy_size=(32, 32), vf_size=(32, 32), n_demos=3, out=str(out),
    )  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def _rows(run_dir: Path) -> list[dict[str, str]]:
    return [{c: r[c] for c in NON_TIMING} for r in read_log(run_dir / "log.csv")]


def _params(run_dir: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(run_dir / "checkpoint.pt")["policy"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dapg_two_iterations_on_door_are_repeatable(tmp_path: Path, demos: DemoData) -> None:
    a = train(_cfg(tmp_path / "a"), demos=demos, progress=False)
    b = train(_cfg(tmp_path / "b"), demos=demos, progress=False)
    rows = _rows(a)
    assert len(rows) == 2 and rows == _rows(b)
    for name, value in _params(a).items():
        assert torch.equal(value, _params(b)[name]), name
    # the update did something sensible: KL near delta/2, demo weight decaying per Eq. 9
    for r in rows:
        assert 0.5 * 0.025 < float(r["kl"]) < 2 * 0.025
        assert int(r["samples"]) == 4 * 40 * (int(r["iteration"]) + 1)
    assert float(rows[1]["demo_weight"]) > 0
    # run folder contents
    for name in ("config.json", "log.csv", "curve.png", "checkpoint.pt", "bc.json", "bc_policy.pt", "summary.json"):
        assert (a / name).exists(), name
    assert any((a / "tb").iterdir())
    meta = json.loads((a / "config.json").read_text())
    assert TrainConfig.from_json(meta["config"]) == _cfg(tmp_path / "a")
    # another seed gives another run
    c = train(_cfg(tmp_path / "c", seed=4), demos=demos, progress=False)
    assert _rows(c) != rows


def test_training_loop_weights_demos_by_eq9(tmp_path: Path, demos: DemoData, monkeypatch) -> None:
    """The loop passes iteration k and its advantages to Eq. 9: w_k = lam_0 lam_1^k max(A_k), decaying in k."""
    calls = []
    import rrl.algos.dapg as dapg_mod

    real = dapg_mod.demo_weight

    def spy(adv, k, lam_0, lam_1, variant):
        w = real(adv, k, lam_0, lam_1, variant)
        calls.append((k, float(np.max(adv)), w))
        return w

    monkeypatch.setattr(dapg_mod, "demo_weight", spy)
    run = train(_cfg(tmp_path / "w", iterations=3, eval_episodes=0), demos=demos, progress=False)
    assert [k for k, _, _ in calls] == [0, 1, 2]
    for (k, max_adv, w), row in zip(calls, read_log(run / "log.csv")):
        assert w == pytest.approx(0.01 * 0.95**k * max_adv) and float(row["demo_weight"]) == pytest.approx(w)
    # the mjrl variant's weight is the decay alone: logged exactly
    run = train(_cfg(tmp_path / "m", iterations=3, eval_episodes=0, demo_weight="mjrl"), demos=demos, progress=False)
    assert [float(r["demo_weight"]) for r in read_log(run / "log.csv")] == pytest.approx([0.01, 0.0095, 0.009025])


class _Killed(Exception):
    pass


def test_resume_gives_the_same_next_iteration(tmp_path: Path, demos: DemoData, monkeypatch) -> None:
    full = train(_cfg(tmp_path / "full", iterations=3), demos=demos, progress=False)

    original = train_mod.Trainer.iteration

    def dies_at_2(self, k):
        if k == 2:
            raise _Killed()
        return original(self, k)

    monkeypatch.setattr(train_mod.Trainer, "iteration", dies_at_2)
    with pytest.raises(_Killed):
        train(_cfg(tmp_path / "killed", iterations=3), demos=demos, progress=False)
    assert len(read_log(tmp_path / "killed" / "log.csv")) == 2
    monkeypatch.setattr(train_mod.Trainer, "iteration", original)

    # an override equal to the recorded setting changes nothing and is not recorded as a change
    resumed = resume(tmp_path / "killed", demos=demos, progress=False, iterations=3)
    assert "resumed_with" not in json.loads((resumed / "config.json").read_text())
    assert _rows(resumed) == _rows(full)
    walls = [float(r["wall_time"]) for r in read_log(resumed / "log.csv")]
    assert walls == sorted(walls) and walls[2] > walls[1]  # the resumed iteration continues the run's clock
    for name, value in _params(full).items():
        assert torch.equal(value, _params(resumed)[name]), name
    ck_full = read_checkpoint(full / "checkpoint.pt")
    ck_res = read_checkpoint(resumed / "checkpoint.pt")
    for name, value in ck_full["baseline"]["model"].items():
        assert torch.equal(value, ck_res["baseline"]["model"][name]), name
    # resuming a finished run with more iterations extends it; identity fields cannot change
    resume(resumed, demos=demos, progress=False, iterations=4)
    assert [r["iteration"] for r in read_log(resumed / "log.csv")] == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="seed"):
        resume(resumed, demos=demos, progress=False, seed=9)
    with pytest.raises(ValueError, match="fingerprint"):
        other = DemoData(demos.observations + 1, demos.actions, demos.n_trajectories)
        resume(resumed, demos=other, progress=False, iterations=5)


def test_run_folder_keeps_its_demos_so_a_moved_run_resumes(tmp_path: Path, expert_demo_set, capsys) -> None:
    """The run's own demos.h5 wins over a regenerated source (another machine); other demos are refused."""
    from rrl.demos import load_demos, save_demos
    from rrl.demos.storage import DemoSet

    def perturbed(demo_set: DemoSet) -> DemoSet:  # same layout, other actions: "regenerated elsewhere"
        trajs = [{**t, "actions": t["actions"] * 0.5} for t in demo_set.trajectories]
        return DemoSet(trajs, demo_set.metadata, demo_set.episode_info)

    source = save_demos(expert_demo_set, tmp_path / "source.h5")
    run_dir = train(_cfg(tmp_path / "run", demos=str(source), iterations=1), progress=False)
    own = run_dir / train_mod.RUN_DEMOS
    assert load_demos(own).fingerprint() == expert_demo_set.fingerprint()
    ckpt = read_checkpoint(run_dir / "checkpoint.pt")
    assert ckpt["demo_set_fingerprint"] == expert_demo_set.fingerprint()

    save_demos(perturbed(expert_demo_set), source, overwrite=True)  # the source changed under the run
    resume(run_dir, progress=False, iterations=2)  # learns from its own copy
    assert len(read_log(run_dir / "log.csv")) == 2 and load_demos(own).fingerprint() == expert_demo_set.fingerprint()

    save_demos(perturbed(expert_demo_set), own, overwrite=True)  # the run's copy replaced: refused, clearly
    with pytest.raises(ValueError, match="simulator states or actions.*demos.h5"):
        resume(run_dir, progress=False, iterations=3)
    save_demos(expert_demo_set, own, overwrite=True)

    # same demonstrations, policy inputs off by rounding (the encoder moved to another device): a note, no error
    demos = train_mod.load_state_demos(_cfg(run_dir), load_demos(own))
    nudged = dataclasses.replace(demos, observations=demos.observations + np.float32(1e-6))
    resume(run_dir, demos=nudged, progress=False, iterations=3)
    assert "differ from the checkpoint's by rounding" in capsys.readouterr().err
    assert len(read_log(run_dir / "log.csv")) == 3

    # a checkpoint from before run folders kept demos.h5, featurized elsewhere: refused unless adopted
    ckpt = read_checkpoint(run_dir / "checkpoint.pt")
    del ckpt["demo_set_fingerprint"]
    ckpt["demo_fingerprint"] = "features-from-another-device"
    torch.save(ckpt, run_dir / "checkpoint.pt")
    own.unlink()
    save_demos(expert_demo_set, source, overwrite=True)
    with pytest.raises(ValueError, match="--adopt-demos"):
        resume(run_dir, progress=False, iterations=4)
    assert len(read_log(run_dir / "log.csv")) == 3 and not own.exists()
    resume(run_dir, progress=False, iterations=4, adopt_demos=True)
    assert "--adopt-demos" in capsys.readouterr().err
    assert len(read_log(run_dir / "log.csv")) == 4 and load_demos(own).fingerprint() == expert_demo_set.fingerprint()
    assert (
        read_checkpoint(run_dir / "checkpoint.pt")["demo_set_fingerprint"]
        == expert_demo_set.fingerprint()
    )
    assert json.loads((run_dir / "config.json").read_text())["resumed_with"][-1]["adopt_demos"] is True


def test_nan_in_update_stops_and_keeps_last_checkpoint(tmp_path: Path, demos: DemoData, monkeypatch) -> None:
    run_dir = tmp_path / "nan"
    calls, sha_before = [], []
    import rrl.algos.dapg as dapg_mod

    original = dapg_mod.npg_step

    def nan_on_second_update(policy, *args, **kwargs):
        step = original(policy, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # iteration 1; the checkpoint of iteration 0 is on disk now
            sha_before.append(_sha(run_dir / "checkpoint.pt"))
            return NPGStep(step.direction * float("nan"), step.step_size, step.new_params * float("nan"))
        return step

    monkeypatch.setattr(dapg_mod, "npg_step", nan_on_second_update)
    with pytest.raises(TrainingDivergedError, match="iteration 1.*intact"):
        train(_cfg(run_dir, iterations=3), demos=demos, progress=False)
    assert _sha(run_dir / "checkpoint.pt") == sha_before[0]
    ckpt = read_checkpoint(run_dir / "checkpoint.pt")
    assert ckpt["next_iteration"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["policy"].values())
    assert len(read_log(run_dir / "log.csv")) == 1
    # the kept checkpoint is usable: resuming without the fault finishes the run
    monkeypatch.setattr(dapg_mod, "npg_step", original)
    resume(run_dir, demos=demos, progress=False)
    assert len(read_log(run_dir / "log.csv")) == 3


def test_npg_without_demos_keeps_identity_scales(tmp_path: Path) -> None:
    run_dir = train(_cfg(tmp_path / "npg", algo="npg", iterations=1), progress=False)
    cfg = json.loads((run_dir / "config.json").read_text())["config"]
    assert cfg["demos"] == "none"
    state = _params(run_dir)
    assert torch.equal(state["in_shift"], torch.zeros(39)) and torch.equal(state["out_scale"], torch.ones(28))
    row = read_log(run_dir / "log.csv")[0]
    assert float(row["demo_weight"]) == 0.0 and 0.5 * 0.025 < float(row["kl"]) < 2 * 0.025


def test_cli_bc_only_run_from_a_demo_file(tmp_path: Path, expert_demo_set, capsys) -> None:
    from rrl.cli import main
    from rrl.demos import save_demos

    demo_file = save_demos(expert_demo_set, tmp_path / "door_demos.h5")
    out = tmp_path / "bc_run"
    args = ["train", "--task", "door", "--algo", "bc", "--demos", str(demo_file), "--n-demos", "3",
            "--trajectories", "2", "--horizon", "40", "--eval-episodes", "2", "--policy-size", "32,32",
            "--bc-epochs", "3", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert cfg["algo"] == "bc" and cfg["policy_size"] == [32, 32] and cfg["bc_epochs"] == 3
    assert set(cfg) == {f.name for f in dataclasses.fields(TrainConfig)}  # every hyper-parameter recorded
    rows = read_log(out / "log.csv")
    assert len(rows) == 1 and rows[0]["kl"] == ""  # BC only: no RL update
    assert len(json.loads((out / "bc.json").read_text())["bc_losses"]) == 3
    assert "run folder" in capsys.readouterr().out
    # the same folder cannot be started again; identity fields cannot change on resume
    assert main(args) == 3
    assert main(["train", "--resume", str(out), "--seed", "1", "--no-progress"]) == 2


def test_state_hide_removes_a_part_from_policy_baseline_and_demos(tmp_path: Path, expert_demo_set) -> None:
    """``state_hide``: the door handle position and the z of the palm-to-handle vector (4 of 39 entries) are gone
    from the policy input, the baseline input and the demonstrations; the run trains and resumes as usual."""
    from rrl.demos import save_demos
    from rrl.tasks import get_task

    demo_file = save_demos(expert_demo_set, tmp_path / "door_demos.h5")
    hide, noise = ("handle_pos", "palm_to_handle.z"), ("palm_pos.x=0.02",)
    cfg = _cfg(tmp_path / "hide", demos=str(demo_file), iterations=1, state_hide=hide, state_noise=noise)
    run_dir = train(cfg, progress=False)
    state = _params(run_dir)
    columns = get_task("door").state_columns(hide)
    assert len(columns) == 35 and state["in_shift"].shape == (35,)
    # the policy's input normalisation was fitted to the demos without the hidden columns (and without noise)
    demo_obs = np.concatenate([t["observations"] for t in expert_demo_set.trajectories])[:, columns]
    np.testing.assert_allclose(state["in_shift"].numpy(), demo_obs.mean(0), rtol=1e-4, atol=1e-5)
    baseline = read_checkpoint(run_dir / "checkpoint.pt")["baseline"]
    assert baseline["in_shift"].shape == (35,)
    # the run's sampler reads the states through the noise (training and evaluation rollouts alike)
    sampler = make_default_sampler(cfg)
    noisy = np.flatnonzero(sampler.envs.envs[0].get_wrapper_attr("noise").std)
    assert list(noisy) == get_task("door").state_part_columns("palm_pos.x")
    sampler.close()
    recorded = json.loads((run_dir / "config.json").read_text())["config"]
    assert recorded["state_hide"] == list(hide) and recorded["state_noise"] == list(noise)
    resume(run_dir, iterations=2, progress=False)
    assert len(read_log(run_dir / "log.csv")) == 2
    from rrl.evaluate import write_video

    assert write_video(run_dir, tmp_path / "v.gif")["steps"] == 40  # the video's policy sees the same 35 inputs
    with pytest.raises(ValueError, match="define the run"):
        resume(run_dir, state_hide=("handle_pos",), progress=False)
    with pytest.raises(ValueError, match="define the run"):
        resume(run_dir, state_noise=(), progress=False)
    recorded_before = (run_dir / "config.json").read_text()
    with pytest.raises(ValueError, match=r"\['bc_lr'\] act in behaviour cloning"):
        resume(run_dir, bc_lr=1e-2, progress=False)
    assert (run_dir / "config.json").read_text() == recorded_before  # the refusal wrote nothing


def test_state_embed_feeds_random_features_to_policy_baseline_and_demos(tmp_path: Path, expert_demo_set) -> None:
    """``state_embed``: the policy sees 64 fixed ReLU features of the (visible) state plus the raw hand joints;
    the features are a deterministic function of the state, standardised by the demos, and the same map serves
    the demos, the sampler and ``rrl eval``, so evaluation and resume see what training saw."""
    from rrl.demos import save_demos
    from rrl.evaluate import evaluate_run
    from rrl.tasks import get_task
    from rrl.train import state_featurizer

    demo_file = save_demos(expert_demo_set, tmp_path / "door_demos.h5")
    cfg = _cfg(tmp_path / "emb", demos=str(demo_file), iterations=1, state_embed=64, state_embed_keep=("hand_qpos",),
               state_hide=("handle_pos.z",))  # fmt: skip
    featurize = state_featurizer(cfg)
    demo_obs = np.concatenate([t["observations"] for t in expert_demo_set.trajectories])
    feats = featurize(demo_obs)
    hand = get_task("door").state_part_columns("hand_qpos")
    assert feats.shape == (len(demo_obs), 64 + 24) and feats.dtype == np.float32
    np.testing.assert_array_equal(feats[:, 64:], demo_obs[:, hand].astype(np.float32))
    assert (feats[:, :64] >= 0).all() and 0.1 < (feats[:, :64] > 0).mean() < 0.9  # ReLU features, not all dead
    hidden = get_task("door").state_part_columns("handle_pos.z")
    moved = demo_obs.copy()
    moved[:, hidden] += 1.0  # a hidden part does not reach the features
    np.testing.assert_array_equal(featurize(moved), feats)
    np.testing.assert_array_equal(state_featurizer(cfg)(demo_obs), feats)  # a fixed map for a fixed seed
    assert not np.allclose(state_featurizer(dataclasses.replace(cfg, seed=4))(demo_obs)[:, :64], feats[:, :64])
    run_dir = train(cfg, progress=False)
    state = _params(run_dir)
    assert state["in_shift"].shape == (88,)
    np.testing.assert_allclose(state["in_shift"].numpy(), feats.mean(0), rtol=1e-4, atol=1e-5)
    assert read_checkpoint(run_dir / "checkpoint.pt")["baseline"]["in_shift"].shape == (88,)
    assert evaluate_run(run_dir, episodes=1).episodes == 1  # a raw-state sampler would not fit the 88 inputs
    resume(run_dir, iterations=2, progress=False)
    assert len(read_log(run_dir / "log.csv")) == 2


def test_input_pca_run_trains_evaluates_and_resumes(tmp_path: Path, expert_demo_set) -> None:
    """``input_pca``: the policy's first layer sees 8 principal components of the 64 embedded features plus the
    24 raw hand joints; the projection is fitted on the run's demos, saved with the policy and used by eval and
    resume. Pixel runs leave their proprioception raw."""
    from rrl.demos import save_demos
    from rrl.evaluate import evaluate_run
    from rrl.train import make_policy

    demo_file = save_demos(expert_demo_set, tmp_path / "door_demos.h5")
    cfg = _cfg(tmp_path / "pca", demos=str(demo_file), iterations=1, state_embed=64, state_embed_keep=("hand_qpos",),
               input_pca=8)  # fmt: skip
    run_dir = train(cfg, progress=False)
    state = _params(run_dir)
    assert state["in_shift"].shape == (88,) and state["in_proj"].shape == (64, 8)
    assert state["net.0.weight"].shape == (32, 8 + 24)
    assert evaluate_run(run_dir, episodes=1).episodes == 1
    resume(run_dir, iterations=2, progress=False)
    assert len(read_log(run_dir / "log.csv")) == 2
    torch.testing.assert_close(_params(run_dir)["in_proj"], state["in_proj"])  # fixed, not trained
    pixel = TrainConfig(obs="rgb+proprio", input_pca=16, policy_size=(32,), proprio_arm=True)
    assert pixel.raw_input_tail == pixel.proprio_dim == 28  # 24 hand + 4 arm joints of door
    assert make_policy(pixel, 1280 + 28, 28).net[0].in_features == 16 + 28
    assert make_policy(TrainConfig(input_pca=16), 39, 28).net[0].in_features == 16  # plain state: all of it
    with pytest.raises(ValueError, match="input_pca\\) must be >= 0"):
        TrainConfig(input_pca=-1)
    with pytest.raises(ValueError, match="input_pca fits its projection on the demonstrations; it needs --demos"):
        TrainConfig(algo="npg", input_pca=8)


def test_privileged_critic_sees_the_state_the_policy_does_not(tmp_path: Path, expert_demo_set) -> None:
    """``critic_input='state'``: the value baseline regresses on the full 39-dim state while the policy sees 64
    random features plus the hand joints; the recorded states are those the policy's inputs were computed from.
    Eval and resume work, and the critic input cannot change on resume."""
    from rrl.demos import save_demos
    from rrl.evaluate import evaluate_run
    from rrl.train import state_featurizer

    demo_file = save_demos(expert_demo_set, tmp_path / "door_demos.h5")
    cfg = _cfg(tmp_path / "pc", demos=str(demo_file), iterations=1, state_embed=64, state_embed_keep=("hand_qpos",),
               critic_input="state")  # fmt: skip
    with make_default_sampler(cfg) as sampler:
        assert (sampler.obs_dim, sampler.critic_dim) == (88, 39)
        batch = sampler.collect(train_mod.make_policy(cfg, 88, 28), 2, seed=0)
    # float32 rounding only: the sampler featurizes one step of all envs at a time, this call the whole batch
    np.testing.assert_allclose(state_featurizer(cfg)(batch.critic_observations), batch.observations, atol=1e-5)
    run_dir = train(cfg, progress=False)
    ck = read_checkpoint(run_dir / "checkpoint.pt")
    assert ck["baseline"]["in_shift"].shape == (39,) and ck["policy"]["in_shift"].shape == (88,)
    assert ck["baseline"]["model"]["0.weight"].shape == (32, 39 + 4)  # state + 4 time features
    assert evaluate_run(run_dir, episodes=1).episodes == 1
    with pytest.raises(ValueError, match="critic_input"):
        resume(run_dir, iterations=2, progress=False, critic_input="policy")
    resume(run_dir, iterations=2, progress=False)
    assert len(read_log(run_dir / "log.csv")) == 2
    blind = train(dataclasses.replace(cfg, critic_input="policy", out=str(tmp_path / "blind")), progress=False)
    assert read_checkpoint(blind / "checkpoint.pt")["baseline"]["in_shift"].shape == (88,)
    with pytest.raises(ValueError, match="critic_input must be one of"):
        TrainConfig(critic_input="value")


def test_input_scale_floor_covers_features_not_raw_measurements() -> None:
    """The feature scale floor (0.1 x the median feature std) lifts rarely-moving features of pixel and
    ``state_embed`` runs, never the proprioception / kept state parts, and nothing of a plain state run."""
    from rrl.train import input_scale_floor

    rng = np.random.default_rng(0)
    feats = rng.normal(0.0, 2.0, (300, 20))
    feats[:, 0] *= 1e-3  # a feature that barely moves on the demos
    obs = np.concatenate([feats, rng.normal(0.0, 1e-3, (300, 24))], axis=1)  # + 24 still joints
    embedded = TrainConfig(state_embed=20, state_embed_keep=("hand_qpos",))
    pixel = TrainConfig(obs="rgb+proprio")
    for cfg in (embedded, pixel):  # 20 features, then 24 hand joints (kept raw / proprioception)
        floor = input_scale_floor(cfg, obs)
        assert floor[:20] == pytest.approx(0.1 * np.median(feats.std(0)))
        assert not floor[20:].any()
    assert input_scale_floor(TrainConfig(), obs[:, :39]) == 0.0
    assert input_scale_floor(dataclasses.replace(embedded, feature_scale_floor=0.0), obs) == 0.0


def test_state_embed_validation_messages() -> None:
    with pytest.raises(ValueError, match="state_embed\\) must be >= 0"):
        TrainConfig(state_embed=-1)
    with pytest.raises(ValueError, match="obs='state' runs only"):
        TrainConfig(obs="rgb+proprio", state_embed=8)
    with pytest.raises(ValueError, match="set --state-embed N"):
        TrainConfig(state_embed_keep=("hand_qpos",))
    with pytest.raises(ValueError, match="needs --demos"):
        TrainConfig(algo="npg", state_embed=8)
    with pytest.raises(ValueError, match="hidden by state_hide"):
        TrainConfig(state_embed=8, state_hide=("hand_qpos",), state_embed_keep=("hand_qpos",))
    with pytest.raises(ValueError, match="unknown state part"):
        TrainConfig(state_embed=8, state_embed_keep=("hand",))


def test_config_validation_messages() -> None:
    with pytest.raises(ValueError, match="unknown state part 'handle' .*valid: arm_qpos .*, hand_qpos, latch"):
        TrainConfig(state_hide=("handle",))
    with pytest.raises(ValueError, match="obs='state' runs only"):
        TrainConfig(obs="rgb+proprio", state_hide=("handle_pos",))
    with pytest.raises(ValueError, match="state_noise applies to obs='state' runs only"):
        TrainConfig(obs="rgb+proprio", state_noise=("handle_pos=0.01",))
    with pytest.raises(ValueError, match="std >= 0"):
        TrainConfig(state_noise=("handle_pos=-1",))
    with pytest.raises(ValueError, match="needs demonstrations"):
        TrainConfig(algo="dapg", demos="none")
    with pytest.raises(ValueError, match="door only"):
        TrainConfig(task="hammer", demos="human")
    with pytest.raises(ValueError, match="unknown algo"):
        TrainConfig(algo="ppo")
    assert TrainConfig(algo="npg").demos == "none" and TrainConfig().demos == "expert"
    assert np.isclose(TrainConfig().rl_step_size, 0.05)


@pytest.mark.parametrize(
    "field,value",
    [("bc_batch_size", 0), ("vf_batch_size", 0), ("vf_epochs", -1), ("rl_gamma", 1.5), ("rl_gae", -2.0),
     ("cg_damping", -1.0), ("lam_0", -1.0), ("lam_1", 2.0), ("threads", 0), ("bc_epochs", -3), ("min_log_std", 5.0),
     ("max_kl_ratio", 0.5), ("horizon", 0)],
)  # fmt: skip
def test_config_rejects_out_of_range_numbers(field: str, value: float) -> None:
    flag = "--" + field.replace("_", "-")
    with pytest.raises(ValueError, match=f"^{flag} \\({field}\\) must be"):
        TrainConfig(**{field: value})


def test_command_line_reproduces_the_config() -> None:
    import argparse
    import shlex

    from rrl.config import add_config_arguments, config_overrides

    cfg = TrainConfig.from_preset(
        "cpu", "door", normalize_advantages=False, proprio_arm=True, policy_size=(32, 32), cg_damping=1.0, seed=4
    )
    argv = shlex.split(cfg.command_line())
    assert argv[:2] == ["rrl", "train"] and "--no-normalize-advantages" in argv and "--proprio-arm" in argv
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    overrides = config_overrides(parser.parse_args(argv[2:]))
    preset, task = overrides.pop("preset", None), overrides.pop("task")
    assert TrainConfig.from_preset(preset, task, **overrides) == cfg


def test_every_config_field_is_a_flag_and_backend_is_an_alias() -> None:
    import argparse

    from rrl.config import add_config_arguments, config_overrides

    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    args = parser.parse_args(["--backend", "ray", "--policy-size", "32,32", "--no-normalize-advantages"])
    assert config_overrides(args) == {"sampler_backend": "ray", "policy_size": (32, 32), "normalize_advantages": False}
    assert config_overrides(parser.parse_args(["--sampler-backend", "ray"])) == {"sampler_backend": "ray"}
    assert config_overrides(parser.parse_args([])) == {}
    from rrl.config import FLAG_HELP

    assert set(FLAG_HELP) == {f.name for f in dataclasses.fields(TrainConfig)}  # every flag says what it does


def test_kl_safety_net_halves_an_overshooting_step(tmp_path: Path, demos: DemoData) -> None:
    # 1 trajectory of 5 steps for a (64, 64) policy: the Fisher has rank <= 140 for ~7k parameters and the demo
    # term of Eq. 8 points into its null space, so the normalised step overshoots the trust region.
    small = dict(iterations=1, trajectories=1, horizon=5, policy_size=(64, 64), eval_episodes=0)
    raw = read_log(train(_cfg(tmp_path / "raw", max_kl_ratio=0.0, **small), demos=demos, progress=False) / "log.csv")[0]
    net = read_log(train(_cfg(tmp_path / "net", **small), demos=demos, progress=False) / "log.csv")[0]
    assert float(raw["kl"]) > 2 * 0.05 and int(raw["step_backtracks"]) == 0
    assert 0 < float(net["kl"]) <= 2 * 0.05 and int(net["step_backtracks"]) >= 1
    assert np.isclose(float(net["step_size"]), float(raw["step_size"]) * 0.5 ** int(net["step_backtracks"]))


def test_frozen_layers_keep_their_bc_weights_through_rl(tmp_path: Path, demos: DemoData) -> None:
    run = train(_cfg(tmp_path / "frozen", rl_frozen_layers=1), demos=demos, progress=False)
    bc, final = torch.load(run / "bc_policy.pt", weights_only=True), _params(run)
    assert torch.equal(final["net.0.weight"], bc["net.0.weight"]) and torch.equal(final["net.0.bias"], bc["net.0.bias"])
    assert not torch.equal(final["net.2.weight"], bc["net.2.weight"])  # the second layer learns
    assert not torch.equal(final["net.4.weight"], bc["net.4.weight"])  # so does the output layer
    for r in read_log(run / "log.csv"):
        assert 0.5 * 0.025 < float(r["kl"]) < 2 * 0.025  # the trust region holds for the smaller step
    with pytest.raises(ValueError, match="rl_frozen_layers must be in \\[0, 2\\]"):
        _cfg(tmp_path / "bad", rl_frozen_layers=3)


def test_video_of_a_state_run_shows_the_task_camera(tmp_path: Path, demos: DemoData) -> None:
    from rrl.evaluate import evaluate_run, write_video

    run_dir = train(_cfg(tmp_path / "bc", algo="bc", eval_episodes=2), demos=demos, progress=False)
    info = write_video(run_dir, tmp_path / "v.gif")
    import imageio.v3 as iio

    frames = iio.imread(tmp_path / "v.gif", index=None)
    assert info["steps"] == 40 and frames.shape[:3] == (40, 256, 256)  # the RRL camera at 256 px, full frame
    summary = json.loads((run_dir / "summary.json").read_text())["final_policy_eval"]
    assert evaluate_run(run_dir, episodes=2).success_rate == summary["success_rate"]
    with pytest.raises(ValueError, match="only rendered frames"):
        evaluate_run(run_dir, episodes=1, distractor="object_color")


def test_eval_of_the_bc_policy_scores_where_rl_started(tmp_path: Path, demos: DemoData) -> None:
    from rrl.evaluate import evaluate_run, write_video

    run_dir = train(_cfg(tmp_path / "run", eval_episodes=3, reward="dense"), demos=demos, progress=False)
    first = read_log(run_dir / "log.csv")[0]  # iteration 0 scored the BC policy, before its update
    bc = evaluate_run(run_dir, episodes=3, policy="bc")
    assert bc.mean_return == pytest.approx(float(first["return_eval"]), rel=1e-5)
    assert bc.success_rate == pytest.approx(float(first["success_eval"]))
    final = json.loads((run_dir / "summary.json").read_text())["final_policy_eval"]
    assert evaluate_run(run_dir, episodes=3).mean_return == pytest.approx(final["mean_return"], rel=1e-5)
    assert bc.mean_return != pytest.approx(final["mean_return"], rel=1e-5)  # two policies, not one read twice
    assert write_video(run_dir, tmp_path / "bc.gif", policy="bc")["steps"] == 40
    with pytest.raises(ValueError, match="policy must be one of"):
        evaluate_run(run_dir, episodes=1, policy="best")


def test_asking_for_more_demos_than_the_file_holds_is_an_error(tmp_path: Path, expert_demo_set) -> None:
    from rrl.demos import save_demos
    from rrl.train import load_demo_set

    save_demos(expert_demo_set, tmp_path / "three.h5")
    assert len(load_demo_set(TrainConfig(demos=str(tmp_path / "three.h5"), n_demos=2)).trajectories) == 2
    with pytest.raises(ValueError, match="n_demos=5 but .* hold 3 trajectories; pass --n-demos 3"):
        load_demo_set(TrainConfig(demos=str(tmp_path / "three.h5"), n_demos=5))


def test_a_run_that_cannot_start_leaves_no_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="demo file not found"):
        train(TrainConfig(demos=str(tmp_path / "missing.h5"), out=str(tmp_path / "run")), progress=False)
    assert not (tmp_path / "run").exists()


def test_trajectories_default_to_the_papers_40000_samples_an_iteration() -> None:
    """Appendix 7.1: 40,000 samples an iteration, 200 trajectories of 200 steps, pen 400 of 100 steps; an explicit
    count is kept, recorded and reproduced by the command line."""
    assert TrainConfig(task="door").trajectories == 200 and TrainConfig(task="pen").trajectories == 400
    assert TrainConfig(task="pen").command_line() == "rrl train --task pen"
    half = TrainConfig(task="pen", trajectories=200)
    assert half.command_line() == "rrl train --task pen --trajectories 200"
    assert TrainConfig.from_json(half.to_json()).trajectories == 200
