"""The actor and the critics of a ``--algo sac`` run (state or features) on its demonstrations' states: how far the
actor's mean action is from the demonstrated one, how many action dimensions sit past the tanh's knee, and the
critics' values of the demonstrated and of the actor's actions beside the demonstrations' discounted return.

    python scripts/diagnose_sac.py runs/sac/RUN [RUN ...]
"""

from __future__ import annotations

import sys

import h5py
import numpy as np
import torch

from rrl.algos.sac import SACAgent
from rrl.checkpoint import read_checkpoint, read_run_meta
from rrl.train_sac import SACPolicy, sac_config


def diagnose(run: str) -> dict[str, float]:
    """The numbers above for the run folder ``run`` (its last checkpoint and its ``demos.h5``)."""
    _, cfg = read_run_meta(run)
    state = read_checkpoint(f"{run}/checkpoint.pt")
    policy = SACPolicy.from_state(state["policy"], cfg.policy_size, cfg.sac_max_log_std, cfg.sac_min_log_std)
    with h5py.File(f"{run}/demos.h5", "r") as f:
        episodes = [{k: f["episodes"][e][k][:] for k in ("observations", "actions", "rewards")} for e in f["episodes"]]
    obs = torch.as_tensor(np.concatenate([e["observations"] for e in episodes]), dtype=torch.float32)
    act = torch.as_tensor(np.clip(np.concatenate([e["actions"] for e in episodes]), -1, 1), dtype=torch.float32)
    agent = SACAgent(obs.shape[1], act.shape[1], sac_config(cfg))
    agent.load_state_dict(state["baseline"])
    x = policy.normalize(obs)
    with torch.no_grad():
        mu, _ = agent.actor.distribution(x)
        q_demo = torch.min(*agent.critic(x, act))
        q_pi = torch.min(*agent.critic(x, torch.tanh(mu)))
    discount = cfg.sac_gamma ** np.arange(max(len(e["rewards"]) for e in episodes))
    returns = [float(discount[: len(e["rewards"])] @ e["rewards"]) for e in episodes]
    return {
        "share of |mu| > 2": float((mu.abs() > 2).float().mean()),
        "mean |tanh(mu) - a_demo|": float((torch.tanh(mu) - act).abs().mean()),
        "mean Q(s, a_demo)": float(q_demo.mean()),
        "mean Q(s, tanh(mu))": float(q_pi.mean()),
        "mean Q(s_0, a_demo)": float(q_demo[np.cumsum([0] + [len(e["actions"]) for e in episodes[:-1]])].mean()),
        "demos' discounted return from s_0 (recorded reward)": float(np.mean(returns)),
    }


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(arg)
        for name, value in diagnose(arg).items():
            print(f"  {name}: {value:.3f}")
