"""Do independent batches agree on the policy update? A diagnostic for slow learning from high-dimensional inputs.

From one starting policy (BC on the demonstrations, then one ordinary DAPG iteration that fits the value baseline),
run the real update (``Trainer.update``: Eq. 4-9, the trust region, the KL safety net) on ``--batches``
independent batches of ``--trajectories`` trajectories each, every time from the same policy and baseline. Each
update changes the policy's mean action on a fixed set of reference states (one more batch); the cosine between
two such changes says how much two batches agree on where to move the behaviour (1: the same direction, 0: no
common direction, i.e. the step is mostly sampling noise). Action-space changes are comparable across inputs
(state, random features of it, pixel features), parameter vectors are not. ``--no-demo-term`` drops the
demonstration term of Eq. 8, which is the same for every batch and so agrees with itself.

    python scripts/npg_agreement.py --label state --task door --demos human --reward dense --policy-size 32,32 \
        --demo-weight mjrl --trajectories 40 --seed 1 --out results/npg_agreement_door_human/agreement.csv

Takes every ``rrl train`` flag (``--state-embed``, ``--preset cpu --encoder ...``); appends one CSV row.
``--plot CSV`` draws the rows of a CSV (mean cosine per input, seed and batch size) next to it as a PNG.

``--step-check`` looks inside one update instead (one batch from the same start; rows to ``--out``, one per
``--cg-iters-list`` entry): how much of the natural-gradient step is the demonstration term of Eq. 8
(``demo_share``: its share of ``g^T F^-1 g``, with the RL and demo parts' Fisher norms and their Fisher-metric
cosine), and how well conjugate gradient resolves ``F^-1 g`` with that many iterations (relative residual,
``g^T F^-1 g``, the KL measured after the full step of Eq. 6 against the ``delta / 2`` it predicts, and the
Fisher-metric cosine to the direction of the first entry).

``--generalisation`` asks whether a step's improvement carries over to states it was not computed on: each of
``--batches`` updates (the real one, from the same start) is scored by the importance-weighted surrogate
``mean((pi_new / pi_old - 1) * A)`` on its own batch (``self_gain``, what the step was fitted to) and on the
other batches (``cross_gain``: fresh states and actions of the same policy, so an estimate of the true first-order
improvement). ``cross_over_self`` near 1: the step generalises; near 0: it fits its batch's noise. ``kl`` is
the mean KL the updates measured after their step (a first-order gain grows with the step's length, about
``sqrt(kl)``, so compare gains at equal ``kl`` when a setting such as ``--cg-damping`` changes it).
``--also cg_damping=10,step_norm=fisher --also-label LABEL`` (repeatable) scores more update settings on the
same batches from the same start, one row each: a paired comparison that costs no extra sampling (most of a
pixel run's cost). The start's one ordinary iteration uses the main settings (``--cg-damping`` etc.), so rows of
runs with different main settings start from slightly different policies: compare settings within one run.

``--from-run RUN_DIR`` starts any of the three from a run's last checkpoint (its policy and fitted baseline,
e.g. after 40 iterations) instead of the BC start: the run's own config and demonstrations, with the settings
given here replacing its own (``--cg-damping``, ``--step-norm``, ``--seed`` and ``--trajectories`` for the
batches; not what defines the policy's input or shape).
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import itertools
import math
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rrl.algos.dapg import dapg_gradient, demo_weight, policy_advantages
from rrl.algos.npg import conjugate_gradient, make_fisher_vector_product, mean_kl
from rrl.checkpoint import read_checkpoint
from rrl.config import IDENTITY_FIELDS, TrainConfig, add_config_arguments, config_overrides
from rrl.evaluate import load_run_config
from rrl.paths import git_commit
from rrl.train import (
    CHECKPOINT,
    Trainer,
    load_demo_set,
    load_state_demos,
    load_visual_demos,
    make_default_sampler,
    make_run_encoder,
    stream_seed,
)

COLUMNS = ["label", "trajectories", "demo_term", "batches", "cos_mean", "cos_std", "cos_min", "cos_max",
           "step_rms", "obs_dim", "n_params", "seed", "command", "commit", "seconds"]  # fmt: skip


def _mean_actions(trainer: Trainer, observations: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return trainer.policy(torch.as_tensor(observations)).numpy().astype(np.float64)


def agreement(trainer: Trainer, batches: int, demo_term: bool, seed: int) -> dict[str, float]:
    """Pairwise cosines of the action-space changes of ``batches`` updates from the trainer's current state."""
    cfg = trainer.cfg
    sampler, policy = trainer.sampler, trainer.policy
    reference = sampler.collect(policy, max(4, cfg.trajectories // 4), stream_seed(seed, 0, 99)).observations
    start_policy, start_baseline = copy.deepcopy(policy.state_dict()), copy.deepcopy(trainer.baseline.state_dict())
    demo_obs = trainer.demo_obs
    before = _mean_actions(trainer, reference)
    changes = []
    for j in range(batches):
        policy.load_state_dict(start_policy)
        trainer.baseline.load_state_dict(start_baseline)
        batch = sampler.collect(policy, cfg.trajectories, stream_seed(seed, 1000 + j, 98))
        trainer.demo_obs = demo_obs if demo_term else None
        trainer.update(batch, 1)
        changes.append((_mean_actions(trainer, reference) - before).ravel())
    trainer.demo_obs = demo_obs
    policy.load_state_dict(start_policy)
    trainer.baseline.load_state_dict(start_baseline)
    cos = [a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300) for a, b in itertools.combinations(changes, 2)]
    return dict(
        cos_mean=float(np.mean(cos)), cos_std=float(np.std(cos)), cos_min=float(np.min(cos)),
        cos_max=float(np.max(cos)), step_rms=float(np.mean([np.sqrt(np.mean(c**2)) for c in changes])),
    )  # fmt: skip


STEP_COLUMNS = ["label", "trajectories", "seed", "cg_iters", "demo_share", "g_rl_fisher", "g_demo_fisher",
                "cos_rl_demo", "cg_residual", "g_finv_g", "kl_full_step", "kl_predicted", "cos_to_first", "obs_dim",
                "command", "commit", "seconds"]  # fmt: skip


def _fisher_cos(fvp, a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ fvp(b)) / math.sqrt(float(a @ fvp(a)) * float(b @ fvp(b)))


def step_check(trainer: Trainer, seed: int, cg_iters: list[int]) -> list[dict[str, float]]:
    """One batch from the trainer's state: the demo term's share of the step and CG's resolution (module doc)."""
    cfg, policy = trainer.cfg, trainer.policy
    batch = trainer.sampler.collect(policy, cfg.trajectories, stream_seed(seed, 3000, 97))
    adv = trainer.advantages(batch)
    use_demos = cfg.algo == "dapg" and trainer.demo_obs is not None
    w = demo_weight(adv, 1, cfg.lam_0, cfg.lam_1, cfg.demo_weight) if use_demos else 0.0
    adv_pi = torch.as_tensor(policy_advantages(adv, cfg.demo_weight) if use_demos else adv, dtype=torch.float32)
    obs, act = torch.as_tensor(batch.observations), torch.as_tensor(batch.actions)
    g = dapg_gradient(policy, obs, act, adv_pi, trainer.demo_obs, trainer.demo_act, w)
    n_demo = len(trainer.demo_obs) if use_demos else 0
    g_rl = dapg_gradient(policy, obs, act, adv_pi, None, None, 0.0) * (len(obs) / (len(obs) + n_demo))
    fvp = make_fisher_vector_product(policy, obs, cfg.cg_damping)
    d_rl = conjugate_gradient(fvp, g_rl, max(cg_iters), residual_tol=0.0)
    n_rl = math.sqrt(float(g_rl @ d_rl))
    n_demo_f, cos_rl_demo = 0.0, float("nan")
    if use_demos:
        g_d = g - g_rl
        d_d = conjugate_gradient(fvp, g_d, max(cg_iters), residual_tol=0.0)
        n_demo_f = math.sqrt(float(g_d @ d_d))
        cos_rl_demo = float(g_rl @ d_d) / (n_rl * n_demo_f)
    total = n_rl**2 + n_demo_f**2 + (2 * cos_rl_demo * n_rl * n_demo_f if use_demos else 0.0)
    theta = policy.flat_params().clone()
    with torch.no_grad():
        old_mean = policy(obs)
    old_log_std = policy.log_std.detach().clone()
    rows, first = [], None
    for iters in cg_iters:
        d = conjugate_gradient(fvp, g, iters, residual_tol=0.0)
        first = d if first is None else first
        quad = float(g @ d)
        policy.set_flat_params(theta + math.sqrt(cfg.rl_step_size / quad) * d)
        kl = mean_kl(policy, obs, old_mean, old_log_std)
        policy.set_flat_params(theta)
        rows.append(dict(
            cg_iters=iters, demo_share=n_demo_f**2 / total, g_rl_fisher=n_rl, g_demo_fisher=n_demo_f,
            cos_rl_demo=cos_rl_demo, cg_residual=float((fvp(d) - g).norm() / g.norm()), g_finv_g=quad,
            kl_full_step=kl, kl_predicted=cfg.rl_step_size / 2, cos_to_first=_fisher_cos(fvp, d, first),
        ))  # fmt: skip
    return rows


GEN_COLUMNS = ["label", "trajectories", "seed", "batches", "self_gain", "cross_gain", "cross_over_self", "obs_dim",
               "command", "commit", "seconds", "kl"]  # fmt: skip


# TrainConfig fields that only shape the update (Eq. 4-9), not the batches or the policy: --also may vary them.
STEP_FIELDS = ("cg_damping", "step_norm", "cg_iters", "rl_step_size", "max_kl_ratio", "fvp_sample_frac",
               "demo_weight", "lam_0", "lam_1", "rl_frozen_layers")  # fmt: skip


def parse_step_settings(text: str, cfg: TrainConfig) -> dict:
    """``cg_damping=10,step_norm=fisher`` -> update settings for :func:`generalisation` (``--also``)."""
    settings = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in STEP_FIELDS:
            raise SystemExit(f"--also {text!r}: expected FIELD=VALUE[,FIELD=VALUE...] with FIELD one of {STEP_FIELDS}")
        kind = type(getattr(cfg, key))
        settings[key] = value.strip() if kind is str else kind(value)
    dataclasses.replace(cfg, **settings)  # validates (e.g. an unknown step norm)
    return settings


def generalisation(trainer: Trainer, batches: int, seed: int, variants: list[dict] | None = None) -> list[dict]:
    """Surrogate gain of each batch's update on its own batch and on the others (module doc), one result per
    update setting in ``variants`` (default: the trainer's own): every setting steps from the same start on the
    same batches, so the settings compare paired."""
    cfg, sampler, policy = trainer.cfg, trainer.sampler, trainer.policy
    variants = variants or [{}]
    start_policy, start_baseline = copy.deepcopy(policy.state_dict()), copy.deepcopy(trainer.baseline.state_dict())
    data, updated, kls = [], [[] for _ in variants], [[] for _ in variants]
    try:
        for j in range(batches):
            batch = sampler.collect(policy, cfg.trajectories, stream_seed(seed, 2000 + j, 96))
            obs, act = torch.as_tensor(batch.observations), torch.as_tensor(batch.actions)
            with torch.no_grad():
                old_logp = policy.log_prob(obs, act)
            data.append((obs, act, old_logp, torch.as_tensor(trainer.advantages(batch), dtype=torch.float32)))
            for v, settings in enumerate(variants):
                trainer.cfg = dataclasses.replace(cfg, **settings)
                kls[v].append(trainer.update(batch, 1)["kl"])
                updated[v].append(policy.flat_params().clone())
                policy.load_state_dict(start_policy)
                trainer.baseline.load_state_dict(start_baseline)
    finally:
        trainer.cfg = cfg
    results = []
    for v in range(len(variants)):
        gains = np.zeros((batches, batches))
        with torch.no_grad():
            for i, params in enumerate(updated[v]):
                policy.set_flat_params(params)
                for j, (obs, act, old_logp, adv) in enumerate(data):
                    gains[i, j] = float(torch.mean(torch.expm1(policy.log_prob(obs, act) - old_logp) * adv))
        policy.load_state_dict(start_policy)
        self_gain = float(np.mean(np.diag(gains)))
        cross_gain = float(np.mean(gains[~np.eye(batches, dtype=bool)]))
        results.append(dict(self_gain=self_gain, cross_gain=cross_gain, cross_over_self=cross_gain / self_gain,
                            kl=float(np.mean(kls[v]))))  # fmt: skip
    return results


def _append_rows(out: Path, columns: list[str], rows: list[dict]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    if not new:
        with open(out, newline="") as f:
            header = next(csv.reader(f), [])
        if header != columns:
            raise SystemExit(f"{out} has columns {header}, this script writes {columns}; pass another --out")
    with open(out, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def plot_generalisation(csv_path: Path) -> Path:
    """``--generalisation`` rows: the true (cross-batch) gain per step and the step's KL per label, a dot per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    labels = sorted({r["label"] for r in rows})  # one input's settings side by side
    fig, axes = plt.subplots(1, 2, figsize=(13, max(5, 0.45 * len(labels) + 1.5)), sharey=True)
    for ax, column, name in ((axes[0], "cross_gain", "gain on the other batches (true improvement per step)"),
                             (axes[1], "kl", "KL of the step")):  # fmt: skip
        for i, label in enumerate(labels):
            vals = [float(r[column]) for r in rows if r["label"] == label and r[column] not in ("", "nan")]
            if vals:
                ax.barh(i, np.mean(vals), 0.7, color="C0" if label.startswith("state") else "C1")
                ax.plot(vals, [i] * len(vals), "k.", ms=5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel(name, fontsize=9)
    axes[0].set_yticks(range(len(labels)), labels, fontsize=7)
    axes[0].invert_yaxis()
    fig.suptitle("Does a step from the BC start carry over to fresh batches? (bar: mean over seeds; dots: seeds)",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    png = csv_path.with_suffix(".png")
    fig.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return png


def plot(csv_path: Path) -> Path:
    """Bar chart of ``cos_mean`` per input and batch size (one marker per seed), with the demo term; a
    ``--generalisation`` CSV gets :func:`plot_generalisation`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, newline="") as f:
        if next(csv.reader(f), []) == GEN_COLUMNS:
            return plot_generalisation(csv_path)
    with open(csv_path) as f:
        rows = [r for r in csv.DictReader(f) if r["demo_term"] == "True"]
    labels = list(dict.fromkeys(r["label"] for r in rows))
    sizes = sorted({int(r["trajectories"]) for r in rows})
    fig, ax = plt.subplots(figsize=(max(9, 0.9 * len(labels)), 5))
    width = 0.8 / len(sizes)
    for j, n in enumerate(sizes):
        for i, label in enumerate(labels):
            vals = [float(r["cos_mean"]) for r in rows if r["label"] == label and int(r["trajectories"]) == n]
            if not vals:
                continue
            x = i + (j - (len(sizes) - 1) / 2) * width
            ax.bar(x, np.mean(vals), width * 0.9, color=f"C{j}", label=f"{n} trajectories" if i == 0 else None)
            ax.plot([x] * len(vals), vals, "k.", ms=4)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("cosine between two batches' updates\n(mean action change, reference states)")
    ax.set_title("Do independent batches agree on the DAPG update? door, 25 human demos, BC start", fontsize=10)
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = csv_path.with_suffix(".png")
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


# Identity fields (rrl.config) that a diagnostic from a run's checkpoint may still change: they pick the batches.
FROM_RUN_FREE = ("seed", "trajectories")


def run_config(run_dir: Path, overrides: dict) -> TrainConfig:
    """The config of the run in ``run_dir`` with ``overrides`` applied (``--from-run``); a clear error otherwise."""
    try:
        cfg = load_run_config(run_dir)
    except FileNotFoundError as err:
        raise SystemExit(f"--from-run: {err}") from err
    fixed = sorted(k for k, v in overrides.items()
                   if k in IDENTITY_FIELDS and k not in FROM_RUN_FREE and getattr(cfg, k) != v)  # fmt: skip
    if fixed:
        raise SystemExit(f"--from-run: {fixed} define the run's policy and cannot change; drop them")
    return dataclasses.replace(cfg, **overrides)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--plot"] and len(argv) == 2:
        print(plot(Path(argv[1])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_arguments(parser)
    parser.add_argument("--label", required=True, help="name of this input in the CSV")
    parser.add_argument("--batches", type=int, default=4, help="independent batches (pairs: batches*(batches-1)/2)")
    parser.add_argument("--no-demo-term", action="store_true", help="updates without the demonstration term")
    parser.add_argument("--step-check", action="store_true", help="demo share and CG resolution of one update")
    parser.add_argument("--cg-iters-list", default="10,30,100", help="--step-check: CG iteration counts to compare")
    parser.add_argument("--generalisation", action="store_true", help="each update's surrogate gain on other batches")
    parser.add_argument("--also", action="append", default=[], metavar="SETTINGS",
                        help="--generalisation: also score these update settings on the same batches, e.g. "
                        "cg_damping=10,step_norm=fisher (repeatable; rows labelled by --also-label)")
    parser.add_argument("--also-label", action="append", default=[], help="the label of each --also row, in order")
    parser.add_argument("--from-run", type=Path, help="start from this run folder's checkpoint, not the BC start")
    args = parser.parse_args(argv)
    overrides = config_overrides(args)
    preset = overrides.pop("preset", None)
    out = Path(overrides.pop("out", "results/npg_agreement_door_human/agreement.csv"))
    if args.from_run is not None:
        cfg = run_config(args.from_run, overrides)
    else:
        cfg = TrainConfig.from_preset(preset, overrides.pop("task", "door"), **overrides)
    if len(args.also_label) != len(args.also) or (args.also and not args.generalisation):
        raise SystemExit("--also goes with --generalisation, and each --also needs its --also-label")
    also = [parse_step_settings(text, cfg) for text in args.also]  # before anything slow starts
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    encoder = make_run_encoder(cfg) if cfg.is_pixel else None
    demo_set = load_demo_set(cfg, args.from_run)  # a run's own demos.h5 wins
    demos = load_visual_demos(cfg, encoder, False, demo_set) if cfg.is_pixel else load_state_demos(cfg, demo_set)
    sampler = make_default_sampler(cfg, encoder, demo_set=demo_set)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(cfg, sampler, demos, Path(tmp))
            if args.from_run is not None:
                trainer.load_state_dict(read_checkpoint(args.from_run / CHECKPOINT))
            else:
                trainer.behavior_clone()
                trainer.iteration(0)  # one ordinary iteration: the baseline is fitted, as at iteration 1 of a run
            if args.step_check:
                checks = step_check(trainer, cfg.seed, [int(x) for x in args.cg_iters_list.split(",")])
            elif args.generalisation:
                results = generalisation(trainer, args.batches, cfg.seed, [{}] + also)
            else:
                result = agreement(trainer, args.batches, not args.no_demo_term, cfg.seed)
    finally:
        sampler.close()
    command, commit = "python scripts/npg_agreement.py " + shlex.join(argv), git_commit()
    if args.step_check:
        common = dict(label=args.label, trajectories=cfg.trajectories, seed=cfg.seed, obs_dim=sampler.obs_dim,
                      command=command, commit=commit, seconds=round(time.perf_counter() - t0, 1))  # fmt: skip
        _append_rows(out, STEP_COLUMNS, [{**common, **c} for c in checks])
        for c in checks:
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in c.items()})
        return 0
    if args.generalisation:
        rows = [dict(label=label, trajectories=cfg.trajectories, seed=cfg.seed, batches=args.batches, **result,
                     obs_dim=sampler.obs_dim, command=command, commit=commit,
                     seconds=round(time.perf_counter() - t0, 1))
                for label, result in zip([args.label, *args.also_label], results)]  # fmt: skip
        _append_rows(out, GEN_COLUMNS, rows)
        for row in rows:
            print({k: v for k, v in row.items() if k != "command"})
        return 0
    row = dict(
        label=args.label, trajectories=cfg.trajectories, demo_term=not args.no_demo_term, batches=args.batches,
        **result, obs_dim=sampler.obs_dim, n_params=sum(p.numel() for p in trainer.policy.parameters()),
        seed=cfg.seed, command=command, commit=commit, seconds=round(time.perf_counter() - t0, 1),
    )  # fmt: skip
    _append_rows(out, COLUMNS, [row])
    print({k: v for k, v in row.items() if k not in ("command",)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
