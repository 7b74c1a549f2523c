"""SAC update throughput (``rrl.algos.sac``): updates/s and the seconds per environment sample they cost.

Inputs are synthetic, shaped like rrl's policy inputs: the state (39), the ``cpu`` preset's EfficientNet-Lite0
features + hand joints (1,304) or ResNet-34's (536); 28-dim actions; batches drawn from a filled replay buffer
(float16 above 256 inputs, as ``--algo sac`` stores them), 25% of each batch from a demo buffer.

    python bench/sac.py                                  # 39, 536 and 1304 inputs, (256, 256), batch 128
    python bench/sac.py --obs-dims 1304 --hidden 1024,1024 --threads 2
    python bench/sac.py --actors sac,awac                # SAC's actor step against AWAC's (--sac-actor)
    python bench/sac.py --trunk-dim 50                   # with DrQ-v2's trunks (--sac-trunk-dim)
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from rrl.algos.sac import ReplayBuffer, SACAgent, SACConfig


def bench(
    obs_dim: int, act_dim: int, hidden: tuple[int, ...], batch: int, updates: int, buffer: int, actor: str = "sac",
    trunk_dim: int = 0,
) -> dict:
    rng = np.random.default_rng(0)
    dtype = np.float16 if obs_dim > 256 else np.float32
    buf, demo = ReplayBuffer(obs_dim, act_dim, buffer, dtype), ReplayBuffer(obs_dim, act_dim, 1000, dtype)
    for b in (buf, demo):
        n = b.capacity
        b.add(rng.standard_normal((n, obs_dim)), rng.uniform(-1, 1, (n, act_dim)), rng.standard_normal(n),
              rng.standard_normal((n, obs_dim)), np.zeros(n))  # fmt: skip
    agent = SACAgent(obs_dim, act_dim, SACConfig(hidden=hidden, batch_size=batch, actor=actor, trunk_dim=trunk_dim,
                                                       learn_temperature=actor == "sac"))  # fmt: skip
    n_demo = batch // 4

    def one() -> None:
        parts = [buf.sample(batch - n_demo, rng), demo.sample(n_demo, rng)]
        agent.update({k: torch.cat([p[k] for p in parts]) for k in parts[0]})

    one()  # warm-up
    t0 = time.perf_counter()
    for _ in range(updates):
        one()
    dt = (time.perf_counter() - t0) / updates
    return {"obs_dim": obs_dim, "actor": actor, "trunk_dim": trunk_dim, "hidden": list(hidden), "batch": batch,
            "updates": updates, "s_per_update": dt, "updates_per_s": 1 / dt,
            "buffer_mb": buf.nbytes / 2**20}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--obs-dims", default="39,536,1304")
    p.add_argument("--act-dim", type=int, default=28)
    p.add_argument("--hidden", default="256,256")
    p.add_argument("--actors", default="sac", help="actor objectives to time, comma-separated: sac, awac")
    p.add_argument("--trunk-dim", type=int, default=0, help="DrQ-v2 trunks to this many features (0: none)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--updates", type=int, default=200)
    p.add_argument("--buffer", type=int, default=20_000)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    dims = [int(d) for d in args.obs_dims.split(",")]
    rows = [bench(d, args.act_dim, hidden, args.batch, args.updates, args.buffer, actor, args.trunk_dim)
            for actor in args.actors.split(",") for d in dims]  # fmt: skip
    for r in rows:
        trunk = f", trunk {r['trunk_dim']}" if r["trunk_dim"] else ""
        print(f"SAC update ({r['actor']} actor): {r['obs_dim']} inputs{trunk}, hidden {r['hidden']}, "
              f"batch {r['batch']}: {1000 * r['s_per_update']:.2f} ms/update, {r['updates_per_s']:.0f} updates/s "
              f"(torch threads {torch.get_num_threads()})")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": torch.get_num_threads(), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
