"""Does refitting a reaching BC actor keep the reach? AWAC's likelihood before the tanh against the action space.

Fits SAC's actor by behaviour cloning on the 25 human door demonstrations (fit ``--candidate`` of
``--bc-candidates``: minibatch order from its own seed), collects 10 of its own episodes at the fixed exploration
std of ``--log-std``, then refits the actor for 1,000 Adam steps on minibatches of 96 own and 32 demonstrated
transitions with equal weights: the likelihood AWAC's actor maximises before the tanh (``pretanh``) or around
the squashed mean in the action space (``action``). Prints the deterministic return of 10 fixed episodes after
10, 100 and 1,000 steps (-48.56: a door that never moves).

    python scripts/awac_refit_probe.py --candidate 1 --spaces pretanh,action --lrs 1e-3,1e-4
"""

from __future__ import annotations

import argparse
import copy
import tempfile

import numpy as np
import torch

from rrl.config import TrainConfig
from rrl.run.assembly import load_state_demos, make_default_sampler
from rrl.seeding import STREAM_BC_SELECT, stream_seed
from rrl.train_sac import SACTrainer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--candidate", type=int, default=1, help="the BC fit (0: the run's usual one)")
    p.add_argument("--spaces", default="pretanh,action")
    p.add_argument("--lrs", default="1e-3,1e-4")
    p.add_argument("--log-std", type=float, default=-3.5)
    p.add_argument("--demo-rows", type=int, default=32, help="demonstrated rows per minibatch of 128")
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig(task="door", algo="sac", demos="human", reward="rrl_code", policy_size=(256, 256),
                      sac_min_log_std=args.log_std, sac_max_log_std=args.log_std, threads=1)  # fmt: skip
    demos = load_state_demos(cfg)
    sampler = make_default_sampler(cfg)
    try:
        trainer = SACTrainer(cfg, sampler, demos, tempfile.mkdtemp())
        trainer._bc_fit(args.candidate)
        policy, actor = trainer.policy, trainer.agent.actor
        start = copy.deepcopy(policy.state_dict())
        seed = stream_seed(cfg.seed, 0, STREAM_BC_SELECT)

        def det_return() -> float:
            return float(sampler.collect(policy, 10, seed, deterministic=True).trajectory_returns().mean())

        print(f"BC fit {args.candidate}: deterministic return {det_return():.1f}")
        own = sampler.collect(policy, 10, 12345)
        own_return = float(own.trajectory_returns().mean())
        print(f"its own episodes at log std {args.log_std}: return {own_return:.1f}")
        obs = [policy.normalize(torch.as_tensor(x, dtype=torch.float32))
               for x in (own.observations, demos.observations)]  # fmt: skip
        act = [torch.as_tensor(np.clip(a, -1, 1), dtype=torch.float32) for a in (own.actions, demos.actions)]
        for space in args.spaces.split(","):
            for lr in (float(v) for v in args.lrs.split(",")):
                policy.load_state_dict(start)
                opt = torch.optim.Adam(actor.parameters(), lr=lr)
                gen = torch.Generator().manual_seed(0)
                out = []
                for step in range(1, 1001):
                    i = torch.randint(0, len(obs[0]), (128 - args.demo_rows,), generator=gen)
                    j = torch.randint(0, len(obs[1]), (args.demo_rows,), generator=gen)
                    x, a = torch.cat([obs[0][i], obs[1][j]]), torch.cat([act[0][i], act[1][j]])
                    mu, log_std = actor.distribution(x)
                    target = a if space == "action" else torch.atanh(a.clamp(-1 + 1e-6, 1 - 1e-6))
                    mean = torch.tanh(mu) if space == "action" else mu
                    loss = -(-0.5 * ((target - mean) / log_std.exp()) ** 2 - log_std).sum(-1).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    if step in (10, 100, 1000):
                        out.append(f"{step}: {det_return():.1f}")
                print(f"{space:8s} lr {lr:g}: " + ", ".join(out), flush=True)
    finally:
        sampler.close()


if __name__ == "__main__":
    main()
