"""FERM throughput at a preset (``rrl train --algo ferm``): environment steps/s, updates/s, and the share of a
sample's cost spent rendering, acting (the encoder + actor on the centre crop) and updating.

It drives the real pieces of a run: the pixel sampler with raw frames, :class:`rrl.train_ferm.FERMTrainer`'s
policy, agent and replay buffer (filled from the collected episodes; no demonstrations, no CURL warm-up).
Rendering is the collection time minus the time the policy takes on the same observations (one env group, so
nothing overlaps).

    python bench/ferm.py                          # the cpu preset on door
    python bench/ferm.py --preset paper --threads 2 --json ferm_paper.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch


def bench(task: str, preset: str, episodes: int, updates: int, overrides: dict) -> dict:
    from rrl.config import TrainConfig
    from rrl.run.assembly import make_default_sampler, make_run_encoder
    from rrl.train_ferm import FERMTrainer, replay_memory

    cfg = TrainConfig.from_preset(preset, task, algo="ferm", demos="none", n_groups=1, **overrides)
    sampler = make_default_sampler(cfg, make_run_encoder(cfg))
    try:
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = FERMTrainer(cfg, sampler, None, run_dir)
            sampler.collect(trainer.policy, 1, seed=0)  # warm-up: worker start, first GL context
            t0 = time.perf_counter()
            batch = sampler.collect(trainer.policy, episodes, seed=1)
            t_collect = time.perf_counter() - t0
            actor = trainer.policy.numpy_actor()
            t0 = time.perf_counter()
            for lo in range(0, len(batch.observations), cfg.n_envs):
                actor.mean(batch.observations[lo : lo + cfg.n_envs])
            t_act = time.perf_counter() - t0
            trainer.store(batch, 0)
            rng = np.random.default_rng(0)
            trainer.agent.update(trainer.replay_batch(rng))  # warm-up
            t0 = time.perf_counter()
            for _ in range(updates):
                trainer.agent.update(trainer.replay_batch(rng))
            t_update = (time.perf_counter() - t0) / updates
    finally:
        sampler.close()
    n = batch.n_samples
    per_sample = {"render": (t_collect - t_act) / n, "act": t_act / n, "update": cfg.sac_updates_per_sample * t_update}
    total = sum(per_sample.values())
    return {
        "task": task, "preset": preset, "render_size": cfg.render_size, "image_size": cfg.image_size,
        "batch": cfg.sac_batch_size, "hidden": list(cfg.policy_size), "updates_per_sample": cfg.sac_updates_per_sample,
        "samples": n, "env_steps_per_s": n / t_collect, "updates_per_s": 1 / t_update, "samples_per_s": 1 / total,
        "share": {k: v / total for k, v in per_sample.items()}, "s_per_sample": per_sample,
        "replay_gb_at_capacity": replay_memory(cfg, sampler.act_dim) / 1e9, "torch_threads": torch.get_num_threads(),
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="door")
    p.add_argument("--preset", default="cpu", choices=("smoke", "cpu", "paper"))
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--updates", type=int, default=20)
    p.add_argument("--horizon", type=int, default=None, help="shorter episodes for a quick look")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {"horizon": args.horizon} if args.horizon else {}
    r = bench(args.task, args.preset, args.episodes, args.updates, overrides)
    share = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["share"].items())
    print(f"FERM {r['preset']} on {r['task']} ({r['render_size']} px -> {r['image_size']}, batch {r['batch']}, "
          f"{r['updates_per_sample']} updates/sample): {r['env_steps_per_s']:.0f} env steps/s, "
          f"{r['updates_per_s']:.1f} updates/s, {r['samples_per_s']:.1f} samples/s in training ({share}); "
          f"replay {r['replay_gb_at_capacity']:.2f} GB at capacity (torch threads {r['torch_threads']})")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
