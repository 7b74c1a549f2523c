"""scripts/npg_agreement.py: the batch-agreement diagnostic runs the real update and leaves the trainer as it was."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("npg_agreement", ROOT / "scripts" / "npg_agreement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_agreement_is_seeded_restores_the_trainer_and_writes_a_row(tmp_path: Path) -> None:
    from rrl.demos import make_expert_demos, save_demos

    mod = _script()
    demo_file = save_demos(make_expert_demos("door", n=2, seed=0), tmp_path / "demos.h5")
    out = tmp_path / "agreement.csv"
    args = ["--label", "tiny", "--task", "door", "--demos", str(demo_file), "--n-demos", "2", "--horizon", "30",
            "--trajectories", "4", "--policy-size", "8,8", "--vf-size", "8,8", "--batches", "3", "--seed", "2",
            "--state-embed", "16", "--out", str(out)]  # fmt: skip
    assert mod.main(args) == 0 and mod.main(args) == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 2 and rows[0]["cos_mean"] == rows[1]["cos_mean"]  # seeded: the same batches, the same steps
    assert rows[0]["obs_dim"] == "16" and -1 <= float(rows[0]["cos_min"]) <= float(rows[0]["cos_max"]) <= 1
    assert float(rows[0]["step_rms"]) > 0 and "--state-embed 16" in rows[0]["command"]
    assert mod.main(["--plot", str(out)]) == 0 and out.with_suffix(".png").stat().st_size > 0


def test_agreement_leaves_policy_and_baseline_unchanged(tmp_path: Path) -> None:
    import torch

    from rrl.config import TrainConfig
    from rrl.demos import make_expert_demos
    from rrl.train import Trainer, load_state_demos, make_default_sampler

    mod = _script()
    demo_set = make_expert_demos("door", n=2, seed=0)
    cfg = TrainConfig(task="door", n_demos=2, horizon=30, trajectories=4, policy_size=(8, 8), vf_size=(8, 8), seed=1)
    sampler = make_default_sampler(cfg)
    try:
        trainer = Trainer(cfg, sampler, load_state_demos(cfg, demo_set), tmp_path)
        trainer.behavior_clone()
        trainer.iteration(0)
        before = trainer.policy.flat_params().clone()
        vf_before = [p.detach().clone() for p in trainer.baseline.model.parameters()]
        result = mod.agreement(trainer, batches=2, demo_term=False, seed=1)
    finally:
        sampler.close()
    assert torch.equal(trainer.policy.flat_params(), before) and trainer.demo_obs is not None
    assert all(torch.equal(a, b) for a, b in zip(trainer.baseline.model.parameters(), vf_before))
    assert np.isfinite(result["cos_mean"]) and result["cos_min"] == result["cos_max"]  # one pair
