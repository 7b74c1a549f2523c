"""How far a run's BC policy gets on door at several exploration noise levels (state runs).

For the behaviour-cloned policy of a run folder (``bc_policy.pt``), roll out ``--episodes`` episodes with the
mean action (std 0) and with each action std of ``--stds`` (the same std in every action dimension), and report
per level the median over episodes of: the largest latch angle, the largest hinge angle, the smallest palm-to-
handle distance, and the share of episodes whose hinge passes 0.2 rad (where the RRL-code reward starts to pay).
The demonstrations' own values are printed first.

    python scripts/bc_exploration_probe.py runs/state/dapg_door_human_rrlcode_s0 --stds 0.05,0.135,0.29
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from rrl.evaluate import load_run_config
from rrl.sampling import make_state_sampler
from rrl.train import load_demo_set, load_state_demos, make_policy


def episode_stats(obs: np.ndarray, lengths: list[int], spec) -> np.ndarray:
    latch, hinge = spec.state_part_columns("latch"), spec.state_part_columns("door_hinge")
    palm_to_handle = spec.state_part_columns("palm_to_handle")
    rows, start = [], 0
    for n in lengths:
        o = obs[start : start + n]
        start += n
        reach = np.linalg.norm(o[:, palm_to_handle], axis=1).min()
        rows.append((np.abs(o[:, latch]).max(), o[:, hinge].max(), reach))
    return np.array(rows)


def line(label: str, s: np.ndarray) -> str:
    latch, hinge, reach = (float(np.median(s[:, i])) for i in range(3))
    opened = 100 * float(np.mean(s[:, 1] > 0.2))
    return (f"{label:>12}  max|latch| {latch:5.2f}  max hinge {hinge:6.3f}  min palm-handle {reach:6.3f} m  "
            f"hinge > 0.2: {opened:5.1f}%")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--stds", default="0.05,0.135,0.29")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    cfg = load_run_config(args.run_dir)
    if cfg.task != "door" or cfg.obs != "state":
        raise SystemExit("the probe reads door's state vector: give a door run from state")
    spec = cfg.task_spec
    demo_set = load_demo_set(cfg, args.run_dir)
    demos = load_state_demos(cfg, demo_set)
    print(line("demos", episode_stats(demos.observations, [len(t["actions"]) for t in demo_set.trajectories], spec)))
    policy = make_policy(cfg, demos.observations.shape[1], demos.actions.shape[1])
    policy.load_state_dict(torch.load(args.run_dir / "bc_policy.pt", weights_only=True))
    sampler = make_state_sampler("door", reward=cfg.reward)
    try:
        for std in [0.0] + [float(x) for x in args.stds.split(",")]:
            if std > 0:
                with torch.no_grad():
                    policy.log_std.fill_(math.log(std))
            batch = sampler.collect(policy, args.episodes, seed=args.seed, deterministic=std == 0)
            print(line(f"std {std:g}", episode_stats(batch.observations, list(batch.lengths), spec)))
    finally:
        sampler.close()


if __name__ == "__main__":
    main()
