"""The actor and the critics of a ``--algo sac`` run (state or frozen features) or of a ``--algo ferm`` run (its frames
re-rendered from the demonstrations' simulator states) on its demonstrations' states: how far the actor's mean
action is from the demonstrated one, how many action dimensions sit past the tanh's knee, and the critics' values
of the demonstrated and of the actor's actions beside the demonstrations' discounted return. For an AWAC run
(``--sac-actor awac``), also how much of the actor's loss the demonstrations' rows carry (:func:`awac_demo_share`).

    python scripts/diagnose_sac.py runs/sac/RUN [runs/ferm/RUN ...]
    python scripts/diagnose_sac.py --bc runs/sac/RUN    # the run's behaviour-cloning fit (bc_policy.pt) instead
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from rrl.algos.sac import SACAgent, effective_share
from rrl.checkpoint import read_checkpoint, read_run_meta
from rrl.train_sac import SACPolicy, sac_config


def diagnose(run: str, bc: bool = False) -> dict[str, float]:
    """The numbers above for the run folder ``run`` (its last checkpoint and its ``demos.h5``; ``bc``: the actor of
    its behaviour-cloning fit, ``bc_policy.pt``, beside the checkpoint's critics)."""
    _, cfg = read_run_meta(run)
    state = read_checkpoint(f"{run}/checkpoint.pt")
    if cfg.algo == "ferm":
        return diagnose_ferm(run, cfg, state)
    policy = _policy(cfg, torch.load(f"{run}/bc_policy.pt", weights_only=True) if bc else state["policy"])
    episodes = _demo_episodes(run, cfg)
    obs = torch.as_tensor(np.concatenate([e["observations"] for e in episodes]), dtype=torch.float32)
    act = torch.as_tensor(np.clip(np.concatenate([e["actions"] for e in episodes]), -1, 1), dtype=torch.float32)
    agent = SACAgent(obs.shape[1], act.shape[1], sac_config(cfg))
    agent.load_state_dict(state["baseline"])
    x = policy.normalize(obs)
    with torch.no_grad():
        mu, log_std = policy.actor.distribution(x)
        q_demo = torch.min(*agent.critic(x, act))
        q_pi = torch.min(*agent.critic(x, torch.tanh(mu)))
    lengths = [len(e["actions"]) for e in episodes]
    rewards = [e["rewards"] for e in episodes]
    numbers = _numbers(mu, act, q_demo, q_pi, lengths, rewards, cfg.sac_gamma, f"{cfg.reward} reward")
    numbers |= awac_weight_spread(q_demo - q_pi, cfg.sac_batch_size)
    if not bc and Path(f"{run}/bc_policy.pt").exists():  # how far the actor moved from its BC fit
        fit = _policy(cfg, torch.load(f"{run}/bc_policy.pt", weights_only=True))
        with torch.no_grad():
            moved = (torch.tanh(mu) - torch.tanh(fit.actor.distribution(fit.normalize(obs))[0])).abs()
        numbers["mean |tanh(mu) - tanh(mu_BC fit)|"] = float(moved.mean())
    if cfg.sac_actor == "awac":
        share = cfg.sac_demo_fraction if cfg.sac_awac_demo_rows else 0.0  # the rows its actor learns from
        numbers |= awac_demo_share(mu, log_std, act, share)
    return numbers


def _policy(cfg, weights: dict) -> SACPolicy:
    """The run's SAC policy with ``weights`` (a checkpoint's or ``bc_policy.pt``)."""
    return SACPolicy.from_state(weights, cfg.policy_size, cfg.sac_max_log_std, cfg.sac_min_log_std)


def awac_demo_share(mu: torch.Tensor, log_std: torch.Tensor, act: torch.Tensor, demo_fraction: float) -> dict:
    """The data term of AWAC's unweighted negative log-likelihood per row, ``sum_d (x_d - m_d)^2 / (2 sigma_d^2)``
    (``x = atanh(a)``, ``m = mu`` before the tanh; ``x = a``, ``m = tanh(mu)`` in the action space), on the
    demonstrations' rows and on the actor's own actions at the same states (``a = tanh(mu + sigma eps)`` in float32,
    as the buffer stores them; one draw per state, seed 0), and the demonstrations' share of the loss in a batch
    with ``demo_fraction`` of demo rows. The ``log sigma`` term is the same for every row at a state; where the
    demonstrations' share is near 1 the actor's update is behaviour cloning on them, whatever the weights."""
    sigma = log_std.exp()
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
    own = torch.tanh(mu + sigma * eps).float()
    bound = 1 - 1e-6  # awac_actor_loss clips before the atanh

    def data_term(a: torch.Tensor, space: str) -> torch.Tensor:
        x, m = (torch.atanh(a.clamp(-bound, bound)), mu) if space == "pretanh" else (a, torch.tanh(mu))
        return (((x - m) / sigma) ** 2 / 2).sum(-1)

    out = {"share of demonstrated action entries at |a| >= 1": float((act.abs() >= 1).float().mean())}
    for space in ("pretanh", "action"):
        demo, mine = float(data_term(act, space).median()), float(data_term(own, space).median())
        share = demo_fraction * demo / (demo_fraction * demo + (1 - demo_fraction) * mine)
        out[f"AWAC NLL data term per row, {space}: demonstrations' rows (median)"] = demo
        out[f"AWAC NLL data term per row, {space}: the actor's own actions (median)"] = mine
        out[f"AWAC: demonstrations' share of the unweighted loss, {space}, {demo_fraction:.0%} demo rows"] = share
    return out


def _demo_episodes(run: str, cfg) -> list[dict[str, np.ndarray]]:
    """The run's demonstrations as its demo buffer holds them: per trajectory the observations (the state, or the
    encoder's features and hand joints from the feature cache or the frames re-rendered), the actions and the
    run's reward of each step (the last step left out, as in the buffer)."""
    from rrl.demos import load_demos
    from rrl.run.assembly import RUN_DEMOS, load_visual_demos, make_run_encoder
    from rrl.train_sac import demo_rewards

    demo_set = load_demos(f"{run}/{RUN_DEMOS}", task=cfg.task)
    if cfg.obs == "state":
        observations = [t["observations"] for t in demo_set.trajectories]
    else:
        features = load_visual_demos(cfg, make_run_encoder(cfg), demo_set=demo_set).observations
        observations = np.split(features, np.cumsum([len(t["actions"]) for t in demo_set.trajectories])[:-1])
    return [{"observations": o[:-1], "actions": t["actions"][:-1], "rewards": r}
            for o, t, r in zip(observations, demo_set.trajectories, demo_rewards(cfg, demo_set))]  # fmt: skip


def awac_weight_spread(advantage: torch.Tensor, batch_size: int, betas: tuple[float, ...] = (0.5, 5.0)) -> dict:
    """The advantages ``A = Q(s, a_demo) - Q(s, tanh mu)`` on the demonstrations' states (their std) and, for each
    AWAC temperature ``beta``, the effective sample size ``1 / sum w^2`` of ``w = softmax(A / beta)`` over random
    batches of ``batch_size`` of them (mean of 50 batches, seed 0): how many rows AWAC's actor learns from."""
    rng = np.random.default_rng(0)
    batches = [advantage[rng.integers(0, len(advantage), batch_size)] for _ in range(50)]
    out = {"std of A(s, a_demo)": float(advantage.std())}
    for beta in betas:
        ess = [len(a) * effective_share(torch.softmax(a / beta, 0)) for a in batches]
        out[f"AWAC weights' effective size of {batch_size} at beta {beta:g}"] = float(np.mean(ess))
    return out


def _numbers(
    mu: torch.Tensor, act: torch.Tensor, q_demo: torch.Tensor, q_pi: torch.Tensor, lengths: list[int],
    rewards: list[np.ndarray], gamma: float, reward_label: str,
) -> dict[str, float]:
    """The numbers above from the actor's means ``mu``, the demonstrated actions and the critics' values on the
    demonstrations' steps (episodes of ``lengths`` steps, in order), and each episode's ``rewards``."""
    discount = gamma ** np.arange(max(len(r) for r in rewards))
    returns = [discount[: len(r)] @ r for r in rewards]
    starts = np.cumsum([0] + lengths[:-1])
    return {
        "share of |mu| > 2": float((mu.abs() > 2).float().mean()),
        "mean |tanh(mu) - a_demo|": float((torch.tanh(mu) - act).abs().mean()),
        "mean Q(s, a_demo)": float(q_demo.mean()),
        "mean Q(s, tanh(mu))": float(q_pi.mean()),
        "mean Q(s_0, a_demo)": float(q_demo[starts].mean()),
        f"demos' discounted return from s_0 ({reward_label})": float(np.mean(returns)),
    }


def diagnose_ferm(run: str, cfg, state: dict) -> dict[str, float]:
    """:func:`diagnose` for a FERM run: centre-cropped frames through the actor and the critic's encoder; the
    demonstrations' return under the run's reward (what its replay buffer holds)."""
    from rrl.algos.ferm import FERMAgent, center_crop, split_observation
    from rrl.demos import load_demos
    from rrl.run.assembly import RUN_DEMOS, load_visual_demos, make_run_encoder
    from rrl.train_ferm import ferm_config, frame_shape
    from rrl.train_sac import demo_rewards

    demo_set = load_demos(f"{run}/{RUN_DEMOS}", task=cfg.task)
    demos = load_visual_demos(cfg, make_run_encoder(cfg), demo_set=demo_set)
    channels = frame_shape(cfg)[0]
    frames, proprio = split_observation(demos.observations, channels // 3, cfg.render_size)
    frames, proprio = center_crop(torch.from_numpy(frames), cfg.image_size), torch.from_numpy(proprio)
    act = torch.as_tensor(np.clip(demos.actions, -1, 1), dtype=torch.float32)
    agent = FERMAgent(channels, proprio.shape[1], act.shape[1], ferm_config(cfg), seed=cfg.seed)
    agent.load_state_dict(state["baseline"])
    with torch.no_grad():  # in chunks: every demo frame through the conv trunk at once would take GBs
        chunks = [slice(i, i + 256) for i in range(0, len(act), 256)]
        mu = torch.cat([agent.actor.pi.distribution(agent.actor.features(frames[c], proprio[c]))[0] for c in chunks])
        critic_in = torch.cat([agent._critic_in(frames[c], proprio[c]) for c in chunks])
        q_demo = torch.min(*agent.critic(critic_in, act))
        q_pi = torch.min(*agent.critic(critic_in, torch.tanh(mu)))
    lengths = [len(t["actions"]) for t in demo_set.trajectories]
    return _numbers(mu, act, q_demo, q_pi, lengths, demo_rewards(cfg, demo_set), cfg.sac_gamma, f"{cfg.reward} reward")


if __name__ == "__main__":
    bc = "--bc" in sys.argv[1:]
    for arg in (a for a in sys.argv[1:] if a != "--bc"):
        print(arg + (" (behaviour-cloning fit)" if bc else ""))
        for name, value in diagnose(arg, bc=bc).items():
            print(f"  {name}: {value:.3f}")
