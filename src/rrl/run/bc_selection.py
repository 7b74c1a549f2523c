"""Choosing between behaviour-cloning fits by their own rollouts (``--bc-candidates``).

From 25 human demonstrations the BC policy (Eq. 5) is a draw: on door with the RRL-code reward, whether its mean
action brings the palm to the handle at all depends on the minibatch order and the initial weights, and a policy
that never touches the handle earns no reward until exploration stumbles on it (docs/findings.md, "Behaviour
cloning from the human door demonstrations is a draw"). :func:`select_bc_fit` fits BC several times and keeps
the fit whose deterministic episodes return most. The episodes are environment samples and are counted on the
run's curve, so the choice is paid for like any other interaction.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from torch import nn

from rrl.config import TrainConfig
from rrl.sampling import Sampler
from rrl.seeding import STREAM_BC_SELECT, stream_seed
from rrl.tasks import TaskSpec


def select_bc_fit(
    fit: Callable[[int], dict[str, Any]], policy: nn.Module, sampler: Sampler, task: TaskSpec, cfg: TrainConfig
) -> tuple[dict[str, Any], int]:
    """``fit(c)`` for ``c < cfg.bc_candidates``, each from the same starting weights of ``policy`` (``fit(0)`` is
    the run's one BC fit; the others draw their minibatch orders from their own seeds), each rolled out with its
    mean action for ``cfg.bc_select_episodes`` episodes from the same start states; ``policy`` keeps the fit with
    the highest mean return. Returns that fit's info with the table of all fits (``bc_candidates``) and the index
    kept (``bc_chosen``), and the environment samples spent. With one candidate: ``fit(0)``, no rollouts."""
    if cfg.bc_candidates == 1:
        return fit(0), 0
    start = copy.deepcopy(policy.state_dict())
    seed = stream_seed(cfg.seed, 0, STREAM_BC_SELECT)
    table: list[dict[str, Any]] = []
    best: tuple[float, int, dict[str, Any], dict[str, Any]] | None = None
    samples = 0
    for c in range(cfg.bc_candidates):
        policy.load_state_dict(start)
        info = fit(c)
        batch = sampler.collect(policy, cfg.bc_select_episodes, seed, deterministic=True)
        samples += batch.n_samples
        mean_return = float(batch.trajectory_returns().mean())
        losses = info.get("bc_losses") or [float("nan")]
        table.append({"candidate": c, "mean_return": mean_return, "success": batch.success_rate(task),
                      "bc_loss": float(losses[-1])})  # fmt: skip
        if best is None or mean_return > best[0]:
            best = (mean_return, c, info, copy.deepcopy(policy.state_dict()))
    assert best is not None
    policy.load_state_dict(best[3])
    return {**best[2], "bc_candidates": table, "bc_chosen": best[1], "bc_selection_samples": samples}, samples
