"""The trainer of BC, NPG and DAPG runs (paper Algorithm 1): behaviour cloning on the demonstrations, then per
iteration: sample, evaluate, advantages against the value baseline, the DAPG update
(:func:`rrl.algos.dapg.dapg_update`, Eq. 6-9), the baseline fit. :func:`rrl.run.loop.train` drives it.

Iteration ``k`` (row ``k`` of the log): collect ``trajectories`` stochastic rollouts with the policy
``theta_k`` (training success), evaluate ``theta_k`` deterministically (evaluation success), then update
``theta_k -> theta_{k+1}`` and fit the baseline on the batch's returns (Algorithm 1 line 14). Row 0 of a DAPG
run therefore describes the BC policy.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rrl.algos.bc import behavior_clone
from rrl.algos.dapg import DAPGSettings, NonFiniteError, dapg_update
from rrl.algos.gae import compute_gae, discounted_returns
from rrl.baseline import ValueBaseline
from rrl.checkpoint import (
    CHECKPOINT,
    CHECKPOINT_FORMAT,
    parse_rng,
    raise_diverged,
    set_rng,
    training_state,
    write_checkpoint,
)
from rrl.config import TrainConfig
from rrl.errors import one_line
from rrl.run.assembly import RUN_DEMOS, check_demos_finite, input_scale_floor, make_policy
from rrl.run.bc_selection import select_bc_fit
from rrl.sampling import DemoData, Sampler, TrajectoryBatch, evaluate_policy
from rrl.seeding import STREAM_BC_SELECT, STREAM_EVAL, STREAM_FVP, STREAM_TRAIN, STREAM_VF, stream_seed


def dapg_settings(cfg: TrainConfig) -> DAPGSettings:
    """The update settings of a run config (``use_demos``: DAPG; NPG and BC runs have none)."""
    return DAPGSettings(
        use_demos=cfg.algo == "dapg", lam_0=cfg.lam_0, lam_1=cfg.lam_1, demo_weight=cfg.demo_weight,
        step_size=cfg.rl_step_size, cg_iters=cfg.cg_iters, cg_damping=cfg.cg_damping,
        fvp_sample_frac=cfg.fvp_sample_frac, fvp_precision=cfg.fvp_precision, step_norm=cfg.step_norm,
        max_kl_ratio=cfg.max_kl_ratio, frozen_layers=cfg.rl_frozen_layers,
    )  # fmt: skip


class Trainer:
    """State of one run (policy, baseline, counters) and one method per stage of Algorithm 1."""

    def __init__(self, cfg: TrainConfig, sampler: Sampler, demos: DemoData | None, run_dir: Path) -> None:
        self.cfg, self.sampler, self.demos, self.run_dir = cfg, sampler, demos, Path(run_dir)
        self.task = cfg.task_spec
        if demos is not None and demos.observations.shape[1] != sampler.obs_dim:
            raise ValueError(
                f"demo observations have {demos.observations.shape[1]} features but the sampler's policy input has "
                f"{sampler.obs_dim}; featurize the demos the way the sampler featurizes observations"
            )
        if demos is not None and demos.actions.shape[1] != sampler.act_dim:
            raise ValueError(f"demo actions have {demos.actions.shape[1]} dims, the env {sampler.act_dim}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.policy = make_policy(cfg, sampler.obs_dim, sampler.act_dim)
            self.baseline = ValueBaseline(
                sampler.critic_dim if cfg.critic_input == "state" else sampler.obs_dim,
                horizon=cfg.effective_horizon,
                hidden_sizes=cfg.vf_size,
                lr=cfg.vf_lr,
                weight_decay=cfg.vf_weight_decay,
                batch_size=cfg.vf_batch_size,
                epochs=cfg.vf_epochs,
            )
        self.next_iteration = 0
        self.samples = 0
        self.demo_obs = torch.as_tensor(demos.observations) if demos is not None else None
        self.demo_act = torch.as_tensor(demos.actions) if demos is not None else None

    # ------------------------------------------------------------------------------------ BC stage
    def behavior_clone(self) -> dict[str, Any]:
        """Fit shift/scale (and log-std) to the demos and run BC (Eq. 5), choosing between ``cfg.bc_candidates``
        fits (:func:`rrl.run.bc_selection.select_bc_fit`). No-op without demos."""
        if self.demos is None:
            return {"bc_losses": []}
        check_demos_finite(self.demos, self.cfg.demos)
        info, samples = select_bc_fit(self._bc_fit, self.policy, self.sampler, self.task, self.cfg)
        self.samples += samples
        return info

    def _bc_fit(self, candidate: int) -> dict[str, Any]:
        """One BC fit; ``candidate`` 0 draws its minibatches from the run's seed, others from their own."""
        self.policy.fit_to_demos(
            self.demos.observations,
            self.demos.actions,
            set_log_std=self.cfg.init_log_std is None,
            scale_floor=input_scale_floor(self.cfg, self.demos.observations),
        )
        losses = behavior_clone(
            self.policy,
            self.demos.observations,
            self.demos.actions,
            epochs=self.cfg.bc_epochs,
            batch_size=self.cfg.bc_batch_size,
            lr=self.cfg.bc_lr,
            seed=self.cfg.seed if candidate == 0 else stream_seed(self.cfg.seed, candidate, STREAM_BC_SELECT),
        )
        if not all(bool(torch.isfinite(p).all()) for p in self.policy.state_dict().values() if p.is_floating_point()):
            raise ValueError(
                f"behaviour cloning gave non-finite policy weights (losses {losses[-3:]}); lower --bc-lr or check "
                f"the demonstrations ({self.cfg.demos})"
            )
        return {"bc_losses": losses}

    # ------------------------------------------------------------------------------------ iteration
    def iteration(self, k: int) -> dict[str, float]:
        """Sample, evaluate and (unless BC-only) update; returns the log row. Raises on non-finite values."""
        cfg, row = self.cfg, {"iteration": k}
        t_start = time.perf_counter()
        batch = self.sampler.collect(self.policy, cfg.trajectories, stream_seed(cfg.seed, k, STREAM_TRAIN))
        self.samples += batch.n_samples
        row.update(samples=self.samples, success_train=batch.success_rate(self.task))
        row["return_train"] = float(batch.trajectory_returns().mean())
        row["t_sample"] = time.perf_counter() - t_start

        t0 = time.perf_counter()
        if cfg.eval_episodes > 0 and k % cfg.eval_every == 0:
            ev = evaluate_policy(
                self.sampler, self.policy, self.task, cfg.eval_episodes, stream_seed(cfg.seed, 0, STREAM_EVAL)
            )
            row.update(success_eval=ev.success_rate, return_eval=ev.mean_return)
        else:
            row.update(success_eval=math.nan, return_eval=math.nan)
        row["t_eval"] = time.perf_counter() - t0

        if cfg.algo != "bc":
            row.update(self.update(batch, k))
        row["log_std_mean"] = float(self.policy.log_std.detach().mean())
        row["t_iteration"] = time.perf_counter() - t_start
        return row

    def critic_observations(self, batch: TrajectoryBatch) -> np.ndarray:
        """What the value baseline sees: the policy input, or the recorded state (``critic_input='state'``)."""
        if self.cfg.critic_input == "policy":
            return batch.observations
        if batch.critic_observations is None:
            raise ValueError("critic_input='state' needs a sampler that records critic_observations")
        return batch.critic_observations

    def advantages(self, batch: TrajectoryBatch) -> np.ndarray:
        """GAE advantages of ``batch`` under the current baseline, standardised if ``normalize_advantages``."""
        cfg = self.cfg
        values = self.baseline.predict(self.critic_observations(batch), batch.timesteps)
        adv = compute_gae(batch.rewards, values, batch.lengths, cfg.rl_gamma, cfg.rl_gae)
        return (adv - adv.mean()) / (adv.std() + 1e-8) if cfg.normalize_advantages else adv

    def update(self, batch: TrajectoryBatch, k: int) -> dict[str, float]:
        """Advantages, one DAPG/NPG update (Eq. 4-9, :func:`rrl.algos.dapg.dapg_update`) and the baseline fit,
        timed by phase."""
        cfg, out = self.cfg, {}
        t0 = time.perf_counter()
        adv = self.advantages(batch)
        returns = discounted_returns(batch.rewards, batch.lengths, cfg.rl_gamma)
        if not np.all(np.isfinite(adv)):
            raise_diverged(k, "advantages", self.run_dir)
        t1 = time.perf_counter()
        out["t_advantages"] = t1 - t0

        fvp_generator = torch.Generator().manual_seed(stream_seed(cfg.seed, k, STREAM_FVP))
        obs, act = torch.as_tensor(batch.observations), torch.as_tensor(batch.actions)
        try:
            stats = dapg_update(self.policy, obs, act, adv, self.demo_obs, self.demo_act, k, dapg_settings(cfg),
                                fvp_generator)  # fmt: skip
        except NonFiniteError as err:
            raise_diverged(k, err.what, self.run_dir)
        out.update(stats)
        t4 = time.perf_counter()

        vf = self.baseline.fit(
            self.critic_observations(batch),
            batch.timesteps,
            returns,
            np.random.default_rng(stream_seed(cfg.seed, k, STREAM_VF)),
        )
        if not self.baseline.parameters_finite() or not all(math.isfinite(v) for v in vf.values()):
            raise_diverged(k, "value baseline after its fit", self.run_dir)
        out.update(vf, t_vf=time.perf_counter() - t4)
        return out

    # ----------------------------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        return training_state(self, baseline=self.baseline.state_dict())

    def _check_demos(self, state: dict[str, Any], adopt_demos: bool = False) -> None:
        """A resumed run must learn from the demonstrations it started with (the DAPG term, Eq. 8).

        The demonstrations themselves (simulator states, actions) must be equal. Their policy inputs may differ
        by rounding when the encoder's device or backend changed (a run moved from a GPU box to a CPU): a note.
        Checkpoints without ``demo_set_fingerprint`` (written before rrl recorded it) compare policy inputs only;
        ``adopt_demos`` accepts the demonstrations loaded now for such a checkpoint (the user vouches for them).
        """
        inputs = self.demos.fingerprint() if self.demos is not None else None
        saved_set = state.get("demo_set_fingerprint")
        have_set = self.demos.source_fingerprint if self.demos is not None else None
        if saved_set is not None and have_set is not None:
            if saved_set != have_set:
                raise ValueError(
                    f"the demonstrations differ from those the run was trained with (simulator states or actions); "
                    f"the run's own copy is {self.run_dir / RUN_DEMOS}: restore it there, or start a new run"
                )
            if state["demo_fingerprint"] != inputs:
                print(
                    "note: the demonstrations' policy inputs differ from the checkpoint's by rounding (the encoder's "
                    "device or backend changed); continuing with these",
                    file=sys.stderr,
                )
        elif state["demo_fingerprint"] != inputs:
            if adopt_demos:
                print(
                    "note: --adopt-demos: the checkpoint predates the run's own demos.h5 and its demonstrations' "
                    "policy inputs differ from these; continuing with these and keeping them as the run's demos",
                    file=sys.stderr,
                )
                return
            raise ValueError(
                "the demonstrations' policy inputs differ from those the run was trained with (fingerprint mismatch): "
                "other demonstrations, or features from another encoder device or backend. This checkpoint predates "
                "the run folder's own demos.h5: if these are the same demonstrations (same demo file, or expert "
                "rollouts with the same demo seed) featurized on another device or backend, resume with "
                "--adopt-demos; otherwise start a new run"
            )

    def load_state_dict(self, state: dict[str, Any], adopt_demos: bool = False) -> None:
        """Restore a state from :func:`rrl.checkpoint.read_checkpoint` (:func:`_check_identity` first)."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint format {state.get('format')!r}, this rrl reads {CHECKPOINT_FORMAT}")
        self._check_demos(state, adopt_demos)
        try:
            self.policy.load_state_dict(state["policy"])
            self.baseline.load_state_dict(state["baseline"])
            rng = parse_rng(state["rng"])
        except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as err:
            raise ValueError(
                f"the checkpoint in {self.run_dir} does not fit this run ({one_line(err)}); it belongs to another run "
                "or is damaged: resume from a copy that holds the run's own checkpoint.pt"
            ) from None
        self.next_iteration = int(state["next_iteration"])
        self.samples = int(state["samples"])
        set_rng(rng)

    def save_checkpoint(self) -> Path:
        """Write ``checkpoint.pt`` atomically with its checksum (:func:`rrl.checkpoint.write_checkpoint`)."""
        return write_checkpoint(self.run_dir / CHECKPOINT, self.state_dict())
