"""Time one full DAPG update at paper scale, split by phase, and report peak memory.

One update = advantages (baseline prediction + GAE), the DAPG gradient (Eq. 8-9), conjugate gradient with
Fisher-vector products (Eq. 6-7), the step (+ KL check) and the value-function fit -- exactly
``rrl.run.trainer.Trainer.update``. Inputs are synthetic but shaped like RRL's: 40,000 samples (200 trajectories x
200 steps) of 536-dim policy inputs (512 non-negative "ResNet" features + 24 joint angles), 28-dim actions,
sparse rewards, 25 demonstrations of 200 steps, (256, 256) policy.

    python bench/dapg_update.py                 # paper scale, torch's default threads
    python bench/dapg_update.py --threads 1 --repeats 3
    python bench/dapg_update.py --features 1280 --policy-size 32,32 --rl-frozen-layers 1   # the first layer frozen
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import numpy as np
import torch

from rrl.sampling import DemoData, TrajectoryBatch
from rrl.train import TrainConfig, Trainer

PHASES = ("t_advantages", "t_vf", "t_gradient", "t_cg", "t_step")


class _ShapeOnlySampler:
    """Stands in for a sampler: the trainer only reads its dimensions here."""

    def __init__(self, obs_dim: int, act_dim: int) -> None:
        self.obs_dim, self.act_dim = obs_dim, act_dim

    def collect(self, *args, **kwargs):  # pragma: no cover - never called by the benchmark
        raise NotImplementedError

    def close(self) -> None:
        pass


def synthetic_batch(
    rng: np.random.Generator, n_traj: int, horizon: int, feat_dim: int, proprio_dim: int, act_dim: int
) -> TrajectoryBatch:
    n = n_traj * horizon
    obs = np.concatenate(
        [np.abs(rng.standard_normal((n, feat_dim))), rng.uniform(-1, 1, (n, proprio_dim))], axis=1
    ).astype(np.float32)
    successes = rng.random(n) < 0.3
    return TrajectoryBatch(
        observations=obs,
        actions=rng.uniform(-1, 1, (n, act_dim)).astype(np.float32),
        rewards=np.where(successes, 10.0, -0.1),
        log_probs=np.zeros(n),
        successes=successes,
        timesteps=np.tile(np.arange(horizon), n_traj),
        lengths=np.full(n_traj, horizon),
        terminated=np.zeros(n_traj, dtype=bool),
        seeds=np.arange(n_traj),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trajectories", type=int, default=200)
    p.add_argument("--horizon", type=int, default=200)
    p.add_argument("--features", type=int, default=512)
    p.add_argument("--proprio", type=int, default=24)
    p.add_argument("--act-dim", type=int, default=28)
    p.add_argument("--policy-size", default="256,256")
    p.add_argument("--demos", type=int, default=25, help="demonstration trajectories (of --horizon steps)")
    p.add_argument("--repeats", type=int, default=3, help="timed updates after one warm-up update")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--fvp-sample-frac", type=float, default=1.0)
    p.add_argument("--fvp-precision", default="float32", choices=("float32", "bfloat16"))
    p.add_argument("--rl-frozen-layers", type=int, default=0, help="policy layers kept at their BC weights")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    obs_dim = args.features + args.proprio
    batch = synthetic_batch(rng, args.trajectories, args.horizon, args.features, args.proprio, args.act_dim)
    demo_batch = synthetic_batch(rng, args.demos, args.horizon, args.features, args.proprio, args.act_dim)
    demos = DemoData(demo_batch.observations, demo_batch.actions, args.demos)
    cfg = TrainConfig(
        task="door",
        obs="rgb+proprio",
        policy_size=tuple(int(h) for h in args.policy_size.split(",")),
        horizon=args.horizon,
        fvp_sample_frac=args.fvp_sample_frac,
        fvp_precision=args.fvp_precision,
        rl_frozen_layers=args.rl_frozen_layers,
    )
    trainer = Trainer(cfg, _ShapeOnlySampler(obs_dim, args.act_dim), demos, run_dir=".")
    trainer.behavior_clone()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    trainer.update(batch, 0)  # warm-up (also the baseline's first fit)
    runs = []
    for k in range(1, args.repeats + 1):
        t0 = time.perf_counter()
        out = trainer.update(batch, k)
        out["t_total"] = time.perf_counter() - t0
        runs.append(out)
    result = {
        "samples": batch.n_samples,
        "obs_dim": obs_dim,
        "policy_size": cfg.policy_size,
        "policy_params": trainer.policy.num_params,
        "torch_threads": torch.get_num_threads(),
        "fvp_sample_frac": args.fvp_sample_frac,
        "fvp_precision": args.fvp_precision,
        "rl_frozen_layers": args.rl_frozen_layers,
        "median_s": {k: statistics.median(r[k] for r in runs) for k in (*PHASES, "t_total")},
        "kl": [round(r["kl"], 4) for r in runs],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_updates_mb": rss_before,
    }
    print(f"DAPG update: {batch.n_samples} samples, {obs_dim}-dim inputs, policy {cfg.policy_size} "
          f"({trainer.policy.num_params} parameters, first {args.rl_frozen_layers} layers frozen), "
          f"{torch.get_num_threads()} torch threads")
    for k, v in result["median_s"].items():
        print(f"  {k[2:]:<12s} {v:7.3f} s")
    print(f"  KL per update {result['kl']} (target delta/2 = {cfg.rl_step_size / 2})")
    print(f"  peak RSS {result['peak_rss_mb']:.0f} MB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
