"""scripts/npg_agreement.py: the batch-agreement diagnostic runs the real update and leaves the trainer as it was."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("npg_agreement", ROOT / "scripts" / "npg_agreement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _started_trainer(tmp_path: Path):
    """A tiny door trainer after BC and one iteration (the diagnostics' starting point); closes its sampler."""
    from rrl.config import TrainConfig
    from rrl.demos import make_expert_demos
    from rrl.train import Trainer, load_state_demos, make_default_sampler

    demo_set = make_expert_demos("door", n=2, seed=0)
    cfg = TrainConfig(task="door", n_demos=2, horizon=30, trajectories=4, policy_size=(8, 8), vf_size=(8, 8), seed=1)
    sampler = make_default_sampler(cfg)
    try:
        trainer = Trainer(cfg, sampler, load_state_demos(cfg, demo_set), tmp_path)
        trainer.behavior_clone()
        trainer.iteration(0)
        yield trainer
    finally:
        sampler.close()


def test_agreement_is_seeded_restores_the_trainer_and_writes_a_row(tmp_path: Path) -> None:
    from rrl.demos import make_expert_demos, save_demos

    mod = _script()
    demo_file = save_demos(make_expert_demos("door", n=2, seed=0), tmp_path / "demos.h5")
    out = tmp_path / "agreement.csv"
    args = ["--label", "tiny", "--task", "door", "--demos", str(demo_file), "--n-demos", "2", "--horizon", "30",
            "--trajectories", "4", "--policy-size", "8,8", "--vf-size", "8,8", "--batches", "3", "--seed", "2",
            "--state-embed", "16", "--out", str(out)]  # fmt: skip
    assert mod.main(args) == 0 and mod.main(args) == 0
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and rows[0]["cos_mean"] == rows[1]["cos_mean"]  # seeded: the same batches, the same steps
    assert rows[0]["obs_dim"] == "16" and -1 <= float(rows[0]["cos_min"]) <= float(rows[0]["cos_max"]) <= 1
    assert float(rows[0]["step_rms"]) > 0 and "--state-embed 16" in rows[0]["command"]
    assert mod.main(["--plot", str(out)]) == 0 and out.with_suffix(".png").stat().st_size > 0


def test_agreement_leaves_policy_and_baseline_unchanged(tmp_path: Path) -> None:
    import torch

    mod = _script()
    with _started_trainer(tmp_path) as trainer:
        before = trainer.policy.flat_params().clone()
        vf_before = [p.detach().clone() for p in trainer.baseline.model.parameters()]
        result = mod.agreement(trainer, batches=2, demo_term=False, seed=1)
    assert torch.equal(trainer.policy.flat_params(), before) and trainer.demo_obs is not None
    assert all(torch.equal(a, b) for a, b in zip(trainer.baseline.model.parameters(), vf_before))
    assert np.isfinite(result["cos_mean"]) and result["cos_min"] == result["cos_max"]  # one pair


def test_step_check_measures_the_demo_share_and_cg(tmp_path: Path) -> None:
    """``--step-check``: the demo term's share of the step follows its weight (lam_0), and more CG iterations
    resolve F^-1 g better than one (the first entry's direction has cosine 1 with itself)."""
    from rrl.demos import make_expert_demos, save_demos

    mod = _script()
    demo_file = save_demos(make_expert_demos("door", n=2, seed=0), tmp_path / "demos.h5")
    out = tmp_path / "step.csv"
    base = ["--task", "door", "--demos", str(demo_file), "--n-demos", "2", "--horizon", "30", "--trajectories", "4",
            "--policy-size", "8,8", "--vf-size", "8,8", "--seed", "2", "--step-check", "--cg-iters-list", "1,40",
            "--out", str(out)]  # fmt: skip
    for lam_0 in ("1e-9", "1000"):
        assert mod.main(["--label", f"lam_0 {lam_0}", "--lam-0", lam_0, *base]) == 0
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert [(r["label"], r["cg_iters"]) for r in rows] == [
        ("lam_0 1e-9", "1"), ("lam_0 1e-9", "40"), ("lam_0 1000", "1"), ("lam_0 1000", "40")
    ]
    tiny, huge = float(rows[0]["demo_share"]), float(rows[2]["demo_share"])
    assert 0 <= tiny < 1e-6 and 0.9 < huge <= 1.0
    for r in rows:
        assert float(r["kl_full_step"]) > 0 and float(r["kl_predicted"]) == 0.025 and "--step-check" in r["command"]
    assert float(rows[0]["cos_to_first"]) == pytest.approx(1.0, abs=1e-5)
    assert float(rows[1]["cg_residual"]) < float(rows[0]["cg_residual"])


def test_generalisation_scores_each_update_on_its_own_and_other_batches(tmp_path: Path) -> None:
    """``--generalisation``: a step raises the surrogate of the batch it was fitted to (first order: alpha g^T F^-1 g
    > 0); the row holds that and the mean over the other batches, and the trainer is left as it was."""
    import torch

    mod = _script()
    with _started_trainer(tmp_path) as trainer:
        before = trainer.policy.flat_params().clone()
        (result,) = mod.generalisation(trainer, batches=3, seed=1)
        (again,) = mod.generalisation(trainer, batches=3, seed=1)
    assert torch.equal(trainer.policy.flat_params(), before)
    assert result == again  # seeded
    assert result["self_gain"] > 0 and np.isfinite(result["cross_gain"])
    assert result["cross_over_self"] == result["cross_gain"] / result["self_gain"]
    assert 0 < result["kl"] <= trainer.cfg.max_kl_ratio * trainer.cfg.rl_step_size  # the updates' own KL


def test_generalisation_scores_several_step_settings_on_the_same_batches(tmp_path: Path) -> None:
    """Variants step from the same start on the same batches: a repeated setting gives the identical result, a
    different one (damping 10, Fisher norm) another; the trainer's config and policy are restored."""
    import torch

    mod = _script()
    with _started_trainer(tmp_path) as trainer:
        cfg, before = trainer.cfg, trainer.policy.flat_params().clone()
        damped = mod.parse_step_settings("cg_damping=10,step_norm=fisher", cfg)
        assert damped == {"cg_damping": 10.0, "step_norm": "fisher"}
        base, other, repeat = mod.generalisation(trainer, batches=2, seed=1, variants=[{}, damped, {}])
        (alone,) = mod.generalisation(trainer, batches=2, seed=1)
        assert trainer.cfg is cfg and torch.equal(trainer.policy.flat_params(), before)
    assert base == repeat == alone  # the same batches whatever else is scored beside them
    assert other["self_gain"] > 0 and other != base
    for bad in ("seed=3", "cg_damping", "step_norm=sideways"):
        with pytest.raises((SystemExit, ValueError)):
            mod.parse_step_settings(bad, cfg)


def test_generalisation_flag_writes_its_own_row(tmp_path: Path) -> None:
    from rrl.demos import make_expert_demos, save_demos

    mod = _script()
    demo_file = save_demos(make_expert_demos("door", n=2, seed=0), tmp_path / "demos.h5")
    out = tmp_path / "gen.csv"
    assert mod.main(["--label", "tiny", "--task", "door", "--demos", str(demo_file), "--n-demos", "2", "--horizon",
                     "30", "--trajectories", "4", "--policy-size", "8,8", "--vf-size", "8,8", "--batches", "2",
                     "--generalisation", "--out", str(out), "--also", "cg_damping=10", "--also-label", "damped"]) == 0
    with open(out) as f:
        row, damped = list(csv.DictReader(f))  # fmt: skip
    assert list(row) == mod.GEN_COLUMNS and row["batches"] == "2" and float(row["self_gain"]) > 0
    assert (row["label"], damped["label"]) == ("tiny", "damped") and damped["self_gain"] != row["self_gain"]
    with pytest.raises(SystemExit, match="--also-label"):
        mod.main(["--label", "x", "--generalisation", "--also", "cg_damping=10"])
    assert mod.main(["--plot", str(out)]) == 0 and out.with_suffix(".png").stat().st_size > 0
    old = tmp_path / "old.csv"
    old.write_text("label,seed\nx,0\n")
    with pytest.raises(SystemExit, match="pass another --out"):  # never appends rows under another header
        mod._append_rows(old, mod.GEN_COLUMNS, [row])
    assert old.read_text() == "label,seed\nx,0\n"


def test_from_run_starts_from_the_runs_checkpoint(tmp_path: Path) -> None:
    """``--from-run``: the diagnostic starts from a run's last policy and baseline, under the run's own config and
    demonstrations with the step settings given; a folder without a checkpoint, or a change to what defines the
    policy, is a clear error."""
    import torch

    from rrl.config import TrainConfig
    from rrl.demos import make_expert_demos, save_demos
    from rrl.train import CHECKPOINT, train

    mod = _script()
    demo_file = save_demos(make_expert_demos("door", n=2, seed=0), tmp_path / "demos.h5")
    run = tmp_path / "run"
    cfg = TrainConfig(task="door", demos=str(demo_file), n_demos=2, horizon=30, trajectories=4, policy_size=(8, 8),
                      vf_size=(8, 8), iterations=2, eval_episodes=0, seed=3, out=str(run))  # fmt: skip
    train(cfg, progress=False)
    got = mod.run_config(run, {"cg_damping": 10.0, "step_norm": "fisher", "seed": 5})
    assert (got.cg_damping, got.step_norm, got.seed, got.policy_size) == (10.0, "fisher", 5, (8, 8))
    with pytest.raises(SystemExit, match="cannot change"):
        mod.run_config(run, {"policy_size": (16, 16)})
    with pytest.raises(SystemExit, match="config.json not found: .* is not a finished-or-running rrl run folder"):
        mod.run_config(tmp_path, {})

    seen = {}
    real = mod.generalisation

    def spy(trainer, *args):  # the start the diagnostic measures from
        seen["policy"] = {k: v.clone() for k, v in trainer.policy.state_dict().items()}
        seen["next_iteration"] = trainer.next_iteration
        return real(trainer, *args)

    mod.generalisation = spy
    out = tmp_path / "gen.csv"
    assert mod.main(["--label", "from run", "--from-run", str(run), "--batches", "2", "--generalisation",
                     "--cg-damping", "10", "--step-norm", "fisher", "--out", str(out)]) == 0  # fmt: skip
    from rrl.checkpoint import read_checkpoint

    ckpt = read_checkpoint(run / CHECKPOINT)
    assert seen["next_iteration"] == 2
    assert seen["policy"].keys() == ckpt["policy"].keys()
    assert all(torch.equal(seen["policy"][k], ckpt["policy"][k]) for k in seen["policy"])
    with open(out) as f:
        (row,) = list(csv.DictReader(f))
    assert row["label"] == "from run" and float(row["self_gain"]) > 0 and "--from-run" in row["command"]


def test_bc_exploration_probe_runs_on_a_real_run(tmp_path, capsys):
    """scripts/bc_exploration_probe.py (docs/rewards.md's exploration finding) on a tiny door run from state."""
    from rrl.config import TrainConfig
    from rrl.train import train

    run = train(TrainConfig(task="door", demos="human", n_demos=2, iterations=1, trajectories=2, horizon=20,
                            eval_episodes=1, policy_size=(8, 8), vf_size=(8, 8), out=str(tmp_path / "run")),
                progress=False)  # fmt: skip
    spec = importlib.util.spec_from_file_location("probe", ROOT / "scripts" / "bc_exploration_probe.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    probe.main([str(run), "--stds", "0.1", "--episodes", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["demos", "std", "std"] and "hinge > 0.2" in lines[-1]
