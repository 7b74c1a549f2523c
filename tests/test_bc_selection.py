"""Choosing between behaviour-cloning fits by their rollouts (``--bc-candidates``, rrl.run.bc_selection)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

TINY_BC = dict(task="door", algo="bc", demos="expert", n_demos=2, reward="rrl_code", horizon=30, trajectories=2,
               iterations=1, eval_episodes=1, policy_size=(32, 32), n_envs=2, n_groups=1, threads=1)  # fmt: skip


def test_the_kept_fit_is_the_one_whose_episodes_returned_most(tmp_path):
    from rrl.config import TrainConfig
    from rrl.run.assembly import make_default_sampler, make_policy
    from rrl.seeding import STREAM_BC_SELECT, stream_seed
    from rrl.train import read_log, train

    cfg = TrainConfig(**TINY_BC, bc_candidates=3, bc_select_episodes=2, out=str(tmp_path / "three"))
    run = train(cfg, progress=False)
    bc = json.loads((run / "bc.json").read_text())
    table = bc["bc_candidates"]
    assert [r["candidate"] for r in table] == [0, 1, 2]
    assert len({r["bc_loss"] for r in table}) == 3  # three different fits
    assert bc["bc_chosen"] == int(np.argmax([r["mean_return"] for r in table]))
    assert bc["bc_selection_samples"] == 3 * 2 * 30
    assert int(read_log(run / "log.csv")[0]["samples"]) == 3 * 2 * 30 + 2 * 30  # the choice's samples are counted
    sampler = make_default_sampler(cfg)  # the kept policy replays the chosen fit's episodes
    try:
        policy = make_policy(cfg, sampler.obs_dim, sampler.act_dim)
        policy.load_state_dict(torch.load(run / "bc_policy.pt", weights_only=True))
        batch = sampler.collect(policy, 2, stream_seed(cfg.seed, 0, STREAM_BC_SELECT), deterministic=True)
    finally:
        sampler.close()
    assert float(batch.trajectory_returns().mean()) == pytest.approx(table[bc["bc_chosen"]]["mean_return"], rel=1e-9)

    one = train(TrainConfig(**TINY_BC, out=str(tmp_path / "one")), progress=False)  # the default: one fit, no rollouts
    assert "bc_candidates" not in json.loads((one / "bc.json").read_text())
    assert int(read_log(one / "log.csv")[0]["samples"]) == 2 * 30


def test_sac_chooses_between_actor_fits_and_ferm_refuses(tmp_path):
    from rrl.config import TrainConfig
    from rrl.train import read_log, train

    sac = dict(TINY_BC, algo="sac", sac_updates_per_sample=0.1, sac_batch_size=16)
    run = train(TrainConfig(**sac, bc_candidates=2, bc_select_episodes=1, out=str(tmp_path / "sac")), progress=False)
    bc = json.loads((run / "bc.json").read_text())
    assert len(bc["bc_candidates"]) == 2 and bc["bc_selection_samples"] == 2 * 30 and bc["demo_transitions"] > 0
    assert int(read_log(run / "log.csv")[0]["samples"]) == 2 * 30 + 2 * 30
    with pytest.raises(ValueError, match="--bc-candidates does not act on --algo ferm"):
        TrainConfig(task="door", algo="ferm", obs="rgb+proprio", bc_candidates=2)
