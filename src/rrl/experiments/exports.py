"""The results folders made from run logs, declared as data: ``rrl export NAME`` (or ``all``) rebuilds them.

Longer than ~450 lines because it is a catalog: one declaration per published results folder, with its notes.

Each :class:`Export` is one ``results/<name>/`` folder of ``rrl results``: its groups (label -> runs), title, note,
the task whose published curve it draws, if any, and the paper figure it reproduces, if any (``rrl report`` lists
those first, the further studies after them). A run is a run folder relative to the runs root
(``state/dapg_door_s0`` is ``runs/state/dapg_door_s0``) or, ending in ``.csv``, a run of an earlier export relative
to the results root (``rrl_pixels_door_human/dapg_door_human_dense_t40_s0.csv``; its folder may be gone). An
:class:`ExperimentExport` is the results folder of a paper experiment (:mod:`rrl.experiments.ablations`, with
``--export-only``). Runs not on this machine are left out; an export none of whose runs is here is skipped with a
note, and runs exported earlier stay (``--keep-previous``). ``rrl report`` then rebuilds docs/results.md.

>>> export_catalog(["bc_state"])            # same as rrl results bc_state --keep-previous --group door=runs/...
>>> export_catalog("all", runs_root="runs", results_root="results")

The 8x8-pixel experiment of examples/ (``results/pixels8_door_cpu``) is exported by
``PYTHONPATH=examples/rrl_pixels8 python examples/pixels8_experiment.py --scale cpu --seeds 1,2 --export-only``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rrl.experiments.ablations import run_experiment
from rrl.experiments.definitions import EXPERIMENTS
from rrl.result_folder import result_name
from rrl.results import export_results

#: One curve group of an export: its label and its runs.
Group = tuple[str, tuple[str, ...]]


def seeds(run: str, *seed_numbers: int) -> tuple[str, ...]:
    """``<run>_s<seed>`` for each seed (``<run>_s<seed>.csv`` when ``run`` ends in ``.csv``)."""
    stem, csv = (run[: -len(".csv")], ".csv") if run.endswith(".csv") else (run, "")
    return tuple(f"{stem}_s{s}{csv}" for s in seed_numbers)


@dataclass(frozen=True)
class Export:
    """One ``results/<name>/`` folder: what ``rrl results NAME --keep-previous --group LABEL=RUN,...`` makes."""

    name: str
    title: str
    groups: tuple[Group, ...]
    note: str = ""
    published: str | None = None  # a task whose published RRL curve the plot draws
    figure: str | None = None  # the paper's figure it reproduces ("Fig. 3"); None: a further study (``rrl report``)

    def paths(self, runs_root: str | Path = "runs", results_root: str | Path = "results") -> dict[str, list[Path]]:
        """Every group's runs as paths: run folders under ``runs_root``, exported CSVs under ``results_root``."""
        return {
            label: [Path(results_root if run.endswith(".csv") else runs_root) / run for run in runs]
            for label, runs in self.groups
        }


@dataclass(frozen=True)
class ExperimentExport:
    """The results folder ``<experiment>_<task>_<scale>`` of a paper experiment, from the run folders that exist."""

    experiment: str
    task: str
    scale: str = "cpu"
    seeds: tuple[int, ...] = (1, 2)
    iterations: int = 25

    @property
    def name(self) -> str:
        return result_name(self.experiment, self.task, self.scale)

    @property
    def title(self) -> str:
        """The title :func:`rrl.experiments.ablations.run_experiment` gives the folder."""
        return f"{self.figure} {self.experiment}: {self.task} ({self.scale})"

    @property
    def figure(self) -> str:
        """The paper's figure the experiment reproduces (:class:`~rrl.experiments.definitions.Experiment`)."""
        return EXPERIMENTS[self.experiment].figure


def _is_here(run: Path) -> bool:
    """A run folder with a log, or an exported CSV (what ``rrl results`` takes)."""
    return run.is_file() if run.suffix == ".csv" else (run / "log.csv").is_file()


def run_export(
    entry: Export | ExperimentExport, runs_root: str | Path = "runs", results_root: str | Path = "results"
) -> Path | None:
    """Export one catalog entry from the runs that are here; None (and a note on stderr) when none is."""
    if isinstance(entry, ExperimentExport):
        report = run_experiment(
            entry.experiment, tasks=[entry.task], scale=entry.scale, seeds=entry.seeds,
            root=Path(runs_root) / "experiments", results_root=results_root, export_only=True,
            iterations=entry.iterations,
        )  # fmt: skip
        found, missing = len(report["runs"]), len(report["missing"])
        out = Path(report["results"][0]) if report["results"] else None
    else:
        paths = entry.paths(runs_root, results_root)
        groups = {label: [run for run in runs if _is_here(run)] for label, runs in paths.items()}
        groups = {label: runs for label, runs in groups.items() if runs}
        found = sum(len(runs) for runs in groups.values())
        missing = sum(len(runs) for runs in paths.values()) - found
        out = None
        if groups:
            out = export_results(
                entry.name, groups, results_root, entry.title, entry.note, keep_previous=True,
                published=entry.published,
            )  # fmt: skip
    if out is None:
        print(f"skipped {entry.name}: no run of it is here ({missing} missing)", file=sys.stderr)
    elif missing:
        print(f"note: {entry.name}: {missing} of {found + missing} runs are not here, left out", file=sys.stderr)
    return out


def export_catalog(
    names: str | Sequence[str],
    runs_root: str | Path = "runs",
    results_root: str | Path = "results",
    catalog: Sequence[Export | ExperimentExport] | None = None,
) -> dict[str, Path | None]:
    """Run the exports named (``"all"``: every one, in catalog order); name -> results folder, None if skipped."""
    by_name = {entry.name: entry for entry in (EXPORTS if catalog is None else catalog)}
    wanted = [names] if isinstance(names, str) else list(names)
    wanted = list(by_name) if wanted == ["all"] else wanted
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise ValueError(f"unknown export {', '.join(unknown)}; valid: all, {', '.join(by_name)}")
    return {name: run_export(by_name[name], runs_root, results_root) for name in wanted}


_RRL_CODE_EXPERT_NOTE = (
    "DAPG from state, 25 expert demonstrations, --reward rrl_code (the reward and goal test of RRL's "
    "released code, docs/rewards.md), the released RRL configuration's (256, 256) policy and mjrl demo "
    "weight, 40,000 samples per iteration, seed 0. Only door's human demonstrations can be had here; the "
    "published runs of hammer, pen and relocate learned from each task's 25 human demonstrations "
    "(hand_dapg's <task>-v0_demos.pickle), these from 25 expert demonstrations (cached rollouts of the "
    "published expert policy), on which BC alone already succeeds: not like for like. The published curve is "
    "RRL from pixels (ResNet-34 features + hand joints, 3 seeds, the authors' logs); this is the privileged "
    "state baseline under the same reward and success test at equal samples."
)

#: Every export, in the order ``rrl export all`` runs them (an export may read the CSVs of one before it).
EXPORTS: tuple[Export | ExperimentExport, ...] = (
    Export(
        "bc_state",
        title="BC only from 25 expert demonstrations, from state",
        note=(
            "Row 0 of each run: the BC policy (paper Eq. 5) before any RL; 200 stochastic rollouts (pen 200 x 100 "
            "steps) and 25 deterministic evaluation episodes."
        ),
        groups=(
            ("door", ("state/bc_door",)),
            ("hammer", ("state/bc_hammer",)),
            ("pen", ("state/bc_pen",)),
            ("relocate", ("state/bc_relocate",)),
        ),
    ),
    Export(
        "dapg_state_door",
        figure="Fig. 3",
        title="DAPG from state, door (paper hyper-parameters, 25 expert demos, sparse reward)",
        note=(
            "Appendix 7.1 settings: 200 trajectories (40,000 samples) per iteration, (256, 256) policy, NPG step "
            "0.05. Target: >= 90% success."
        ),
        groups=(
            ("DAPG (state)", seeds("state/dapg_door", 0, 1, 2)),
            ("NPG (state, no demos)", ("state/npg_door_s0",)),
        ),
    ),
    Export(
        "dapg_state_hammer",
        figure="Fig. 3",
        title="DAPG from state, hammer (paper hyper-parameters, 25 expert demos, sparse reward)",
        note=(
            "Appendix 7.1 settings: 200 trajectories (40,000 samples) per iteration, (256, 256) policy, NPG step "
            "0.05. Target: >= 90% success."
        ),
        groups=(
            ("DAPG (state)", seeds("state/dapg_hammer", 0, 1, 2)),
            ("NPG (state, no demos)", ("state/npg_hammer_s0",)),
        ),
    ),
    Export(
        "dapg_state_pen_relocate",
        figure="Fig. 3",
        title="DAPG from state, pen and relocate (paper hyper-parameters, 25 expert demos, sparse reward)",
        note=(
            "Appendix 7.1 settings: 40,000 samples per iteration (pen: 400 trajectories of 100 steps), (256, 256) "
            "policy; as many iterations as CPU time allowed (paper: 300)."
        ),
        groups=(
            ("pen", ("state/dapg_pen_s0",)),
            ("relocate", ("state/dapg_relocate_s0",)),
        ),
    ),
    Export(
        "dapg_state_door_human",
        figure="Fig. 3",
        title="DAPG from state, door, 25 human demonstrations (the paper's setting)",
        note=(
            "Paper hyper-parameters except the (32, 32) policy and the mjrl demo weight (constant weight on "
            "normalised advantages), as in mjrl's reference run; 200 trajectories per iteration. Target (dense): >= "
            "80% training success."
        ),
        groups=(
            ("dense reward", ("state/dapg_door_human_dense_s0",)),
            ("sparse reward", ("state/dapg_door_human_sparse_s0",)),
            ("sparse reward, initial action std 0.6", ("state/dapg_door_human_sparse_std06_s0",)),
        ),
    ),
    Export(
        "rrl_pixels_door_human",
        figure="Fig. 3",
        title="RRL from pixels, door, 25 human demos, dense reward (cpu preset) vs DAPG from state",
        note=(
            "Both: the 25 human demonstrations, dense reward (sign-corrected), (32, 32) policy (the (256, 256) runs: "
            "the paper's appendix 7.1 policy), mjrl demo weight. Pixels: cpu preset (EfficientNet-Lite0, 146-px "
            "renders cropped to 128, top camera + 24 hand joints), 40 trajectories per iteration; state: 200 per "
            "iteration, and a state control with the pixel run's 40 per iteration (and its 10 evaluation episodes "
            "every 2 iterations). Compare at equal samples. Both seeds moved between a 2-core CPU machine "
            "(onnxruntime, 4 envs) and GPU boxes (EfficientNet-Lite0 in torch on CUDA, 8 envs); config.json's "
            "resumed_with records every move."
        ),
        groups=(
            ("RRL (pixels, cpu preset)", seeds("pixels/door_cpu_human_dense", 0, 1)),
            ("DAPG (state)", ("state/dapg_door_human_dense_s0",)),
            ("DAPG (state, 40 trajectories per iteration)", seeds("state/dapg_door_human_dense_t40", 0, 1)),
            ("RRL + arm joints (--proprio-arm)", ("pixels/door_cpu_human_dense_arm_s0",)),
            ("RRL, top + fixed cameras", ("pixels/door_cpu_human_dense_2cam_s0",)),
            ("RRL, (256, 256) policy (the paper's)", seeds("pixels/door_cpu_human_dense_p256", 0, 1, 2)),
            ("8x8 raw pixels (examples/rrl_pixels8) + hand joints", ("pixels/door_cpu_human_dense_px8_s0",)),
            ("8x8 raw pixels, rendered at 37 px", seeds("pixels/door_cpu_human_dense_px8r32", 0, 1)),
        ),
    ),
    Export(
        "pixels_door_human",
        title="Door, 25 human demos, dense reward: which pixel representation keeps up with the state?",
        note=(
            "All: (32, 32) policy, mjrl demo weight, 40 trajectories (8,000 samples) per iteration, seeds 0 and 1. "
            "State: the 39-dim state vector. RRL: cpu preset (EfficientNet-Lite0 on 146-px renders cropped to 128, "
            "top camera) + 24 hand joints. 8x8 pixels: the frame averaged to 8x8 per channel (examples/rrl_pixels8, "
            "192 features) + 24 hand joints, rendered at 37 px and cropped to 32 (--render-size 37 --image-size 32: "
            "this pipeline's cost is rendering, about 20 s per iteration alone here). Keypoints: cpu preset with "
            "--encoder rrl_keypoints:KeypointsS16 (EfficientNet-Lite0 to stage 5, then a spatial soft-argmax per "
            "channel: 224 image coordinates) + 24 hand joints. Runs marked 'from rrl_pixels_door_human' are read "
            "from that export."
        ),
        groups=(
            ("DAPG (state)", seeds("rrl_pixels_door_human/dapg_door_human_dense_t40.csv", 0, 1)),
            ("RRL (EfficientNet-Lite0 features)", seeds("rrl_pixels_door_human/door_cpu_human_dense.csv", 0, 1)),
            ("8x8 pixels (rendered at 37 px)", seeds("pixels/door_cpu_human_dense_px8r32", 0, 1)),
            ("keypoints (examples/rrl_keypoints, KeypointsS16)", ("pixels/door_cpu_human_dense_kp16_s1",)),
        ),
    ),
    Export(
        "state_information_door_human",
        title="What does DAPG from state need? door, 25 human demos, dense reward, parts of the state hidden",
        note=(
            "All runs: the 25 human demonstrations, dense reward, (32, 32) policy, mjrl demo weight, 40 trajectories "
            "per iteration (the pixel runs' setting). State runs hide parts of the 39-dim state vector with "
            "--state-hide (TaskSpec.state_layout): no door height = handle_pos.z,palm_to_handle.z; no heights at all "
            "= arm_qpos,palm_pos.z,handle_pos.z,palm_to_handle.z; no arm or palm = arm_qpos,palm_pos,palm_to_handle "
            "(the handle position stays exact); arm + hand joints only = "
            "latch,door_hinge,palm_pos,handle_pos,palm_to_handle,door_open; hand joints only = all but the 24 hand "
            "joints (what the pixel policy gets besides the frames). The pixel runs (RRL, cpu preset, top camera) "
            "for reference."
        ),
        groups=(
            ("DAPG (state, all 39)", seeds("state/dapg_door_human_dense_t40", 0, 1)),
            ("DAPG (state, no door height)", seeds("state/dapg_door_human_dense_t40_nodoorz", 0, 1)),
            ("DAPG (state, no heights at all)", seeds("state/dapg_door_human_dense_t40_noz", 0, 1)),
            ("DAPG (state, no arm or palm)", seeds("state/dapg_door_human_dense_t40_noarm", 0, 1)),
            ("DAPG (state, arm + hand joints only)", ("state/dapg_door_human_dense_t40_jointsonly_s0",)),
            ("DAPG (state, hand joints only)", seeds("state/dapg_door_human_dense_t40_handonly", 0, 1)),
            ("RRL (pixels + hand joints, cpu preset)", seeds("pixels/door_cpu_human_dense", 0, 1)),
        ),
    ),
    Export(
        "state_precision_door_human",
        title=(
            "How precisely must DAPG from state know where the hand and the handle are? door, 25 human demos, dense "
            "reward"
        ),
        note=(
            "Settings of state_information_door_human. Every state variant sees the hand joints, the latch, the door "
            "hinge, door_open and the horizontal (x, y) positions of the palm and the handle, with (--state-hide "
            "arm_qpos,palm_pos.z,handle_pos.z,palm_to_handle.z) or without (--state-hide "
            "arm_qpos,palm_pos.z,handle_pos.z,palm_to_handle) the palm-to-handle vector. The noisy ones read those "
            "numbers with an error drawn once per episode (--state-noise "
            "palm_pos.x=0.035,palm_pos.y=0.022,handle_pos.x=0.009,handle_pos.y=0.007, metres: the RMSE with which a "
            "linear probe reads them from the cpu preset's top-camera features, results/feature_probe_door_palm; "
            "palm_to_handle.x=0.036,palm_to_handle.y=0.023, the two combined). The demonstrations stay exact. The "
            "pixel runs for reference."
        ),
        groups=(
            ("DAPG (state, x/y incl. palm-to-handle)", seeds("state/dapg_door_human_dense_t40_noz", 0, 1)),
            (
                "DAPG (state, x/y incl. palm-to-handle, features' error)",
                seeds("state/dapg_door_human_dense_t40_noz_noisy", 0, 1),
            ),
            ("DAPG (state, x/y of palm and handle)", seeds("state/dapg_door_human_dense_t40_xy", 0, 1)),
            (
                "DAPG (state, x/y of palm and handle, features' error)",
                seeds("state/dapg_door_human_dense_t40_xy_noisy", 0, 1),
            ),
            ("RRL (pixels + hand joints, cpu preset)", seeds("pixels/door_cpu_human_dense", 0, 1)),
        ),
    ),
    Export(
        "state_form_door_human",
        title=(
            "DAPG from state given as random features, door, 25 human demos, dense reward, 40 trajectories per "
            "iteration"
        ),
        note=(
            "All: (32, 32) policy, mjrl demo weight, 40 trajectories (8,000 samples) per iteration. Random features: "
            "--state-embed N replaces the 39-dim state by N fixed random ReLU features of it "
            "(rrl.sampling.RandomStateFeatures, standardised by the demonstrations, seeded by the run seed), + hand "
            "joints = --state-embed-keep hand_qpos (as a pixel policy sees them), state + random features = "
            "--state-embed-keep with every part. The state runs marked 'from state_information_door_human' ran "
            "earlier on another machine; the same command and seed on this machine gives different numbers from the "
            "first iteration on (float rounding) and a different run."
        ),
        groups=(
            (
                "DAPG (state, another machine)",
                seeds("state_information_door_human/dapg_door_human_dense_t40.csv", 0, 1),
            ),
            ("DAPG (state, this machine)", ("state/dapg_door_human_dense_t40_plainrerun_s1",)),
            ("random features (1280) + hand joints", seeds("state/dapg_door_human_dense_t40_emb1280", 0, 1)),
            ("state + random features (1280)", ("state/dapg_door_human_dense_t40_emb1280keepall_s1",)),
            ("random features (64) + hand joints", ("state/dapg_door_human_dense_t40_emb64_s1",)),
        ),
    ),
    Export(
        "state_form_door_human_t200",
        title="State vs random features of it, 200 trajectories per iteration (door, human demos, dense)",
        note=(
            "Settings of state_form_door_human but 200 trajectories (40,000 samples) per iteration, 40 iterations "
            "(1.6M samples), evaluation every iteration; state seed 2 stopped at 24 iterations (0.96M) and was "
            "resumed to 40 later; state + random features seed 0 ran later, with --feature-scale-floor 0 (the first "
            "random-feature runs had no floor). The state run of 2026-11-25 with the same settings (another machine) "
            "for reference."
        ),
        groups=(
            ("DAPG (state)", seeds("state/dapg_door_human_dense_t200_state", 0, 1, 2)),
            ("random features (1280) + hand joints", seeds("state/dapg_door_human_dense_t200_emb1280", 0, 1, 2)),
            ("state + random features (1280)", seeds("state/dapg_door_human_dense_t200_emb1280keepall", 0, 1)),
            ("DAPG (state, earlier machine)", ("rrl_pixels_door_human/dapg_door_human_dense_s0.csv",)),
        ),
    ),
    Export(
        "input_form_door_human_t200",
        title="Random features of the state at 200 trajectories per iteration: outliers and input PCA",
        note=(
            "Settings of state_form_door_human_t200 (door, 25 human demos, dense reward, (32, 32) policy, mjrl demo "
            "weight, 200 trajectories per iteration, 40 iterations). 1280 random ReLU features of the state + the 24 "
            "hand joints; floor: the feature scale floor (0.1 x the median demo feature std) applied to the "
            "embedding (rrl >= 3d8b89b; the runs without it and the PCA 64 runs had none); PCA K: --input-pca K (the "
            "first layer sees K whitened principal components of the features, fitted on the demos). The state runs "
            "of state_form_door_human_t200 for reference."
        ),
        groups=(
            ("DAPG (state)", seeds("state/dapg_door_human_dense_t200_state", 0, 1, 2)),
            ("random features, no floor", seeds("state/dapg_door_human_dense_t200_emb1280", 0, 1, 2)),
            ("random features, floor", seeds("state/dapg_door_human_dense_t200_emb1280fl", 0, 1)),
            ("random features, no floor, PCA 64", seeds("state/dapg_door_human_dense_t200_emb1280pca64", 0, 1)),
            ("random features, floor, PCA 16", seeds("state/dapg_door_human_dense_t200_emb1280pca16", 0, 1, 2)),
        ),
    ),
    Export(
        "critic_door_human_t200",
        title="Random features of the state at 200 trajectories per iteration with a privileged critic",
        note=(
            "Settings of state_form_door_human_t200 (door, 25 human demos, dense reward, (32, 32) policy, mjrl demo "
            "weight, 200 trajectories per iteration, 40 iterations). The policy sees 1280 random ReLU features of "
            "the state + the 24 hand joints (feature scale floor on); state critic: --critic-input state (the value "
            "baseline sees the 39-dim state). The state runs and the floor runs without the critic for reference."
        ),
        groups=(
            ("DAPG (state)", seeds("state/dapg_door_human_dense_t200_state", 0, 1, 2)),
            ("random features, floor", seeds("state/dapg_door_human_dense_t200_emb1280fl", 0, 1)),
            ("random features, floor, state critic", seeds("state/dapg_door_human_dense_t200_emb1280flcs", 0, 1)),
        ),
    ),
    Export(
        "damping_door_human_t200",
        title="Random features of the state at 200 trajectories per iteration: a ridge on the natural gradient",
        note=(
            "Settings of input_form_door_human_t200 (door, 25 human demos, dense reward, (32, 32) policy, mjrl demo "
            "weight, 200 trajectories per iteration, 40 iterations). The policy sees 1280 random ReLU features of "
            "the state + the 24 hand joints, feature scale floor on. Paper step: cg_damping 1e-4 and Eq. 6's g^T x "
            "step norm (runs of input_form_door_human_t200, and the same runs repeated on the machine of the damping "
            "runs); damping 10: --cg-damping 10; + Fisher norm: --step-norm fisher (the step scaled by x^T F x, so "
            "its KL stays at the target). The state runs (paper step) for reference. A run with fewer than 40 "
            "iterations was stopped by a time limit (resumable with rrl train --resume)."
        ),
        groups=(
            ("DAPG (state)", seeds("input_form_door_human_t200/dapg_door_human_dense_t200_state.csv", 0, 1, 2)),
            (
                "random features, paper step",
                seeds("input_form_door_human_t200/dapg_door_human_dense_t200_emb1280fl.csv", 0, 1),
            ),
            (
                "random features, paper step (damping runs' machine)",
                seeds("state/dapg_door_human_dense_t200_emb1280flp", 0, 1, 2),
            ),
            (
                "DAPG (state), paper step (damping runs' machine)",
                seeds("state/dapg_door_human_dense_t200_statep", 0, 1, 2),
            ),
            ("random features, damping 10", ("state/dapg_door_human_dense_t200_emb1280fld10_s0",)),
            (
                "random features, damping 10 + Fisher norm",
                seeds("state/dapg_door_human_dense_t200_emb1280fld10f", 0, 1, 2),
            ),
            ("DAPG (state), damping 10 + Fisher norm", ("state/dapg_door_human_dense_t200_statefd10_s0",)),
            (
                "random features, damping 1 + Fisher norm",
                seeds("state/dapg_door_human_dense_t200_emb1280fld1f", 0, 1, 2),
            ),
            ("DAPG (state), damping 1 + Fisher norm", seeds("state/dapg_door_human_dense_t200_statefd1", 0, 1, 2)),
        ),
    ),
    Export(
        "frozen_door_human_t200",
        title="Random features of the state at 200 trajectories per iteration: the first layer frozen at BC",
        note=(
            "Settings of damping_door_human_t200 (door, 25 human demos, dense reward, (32, 32) policy, mjrl demo "
            "weight, 200 trajectories per iteration, 40 iterations, paper step). Frozen: --rl-frozen-layers 1 (the "
            "first layer keeps its BC weights; the natural gradient of the other parameters). All runs on one "
            "machine. A run with fewer than 40 iterations was stopped by a time limit (resumable with rrl train "
            "--resume)."
        ),
        groups=(
            (
                "random features + hand joints, paper step",
                seeds("state/dapg_door_human_dense_t200_emb1280flp", 0, 1, 2),
            ),
            (
                "random features + hand joints, first layer frozen",
                seeds("state/dapg_door_human_dense_t200_emb1280flfz1", 0, 1, 2),
            ),
            ("DAPG (state), paper step", seeds("state/dapg_door_human_dense_t200_statep", 0, 1, 2)),
            ("DAPG (state), first layer frozen", seeds("state/dapg_door_human_dense_t200_statefz1", 0, 1, 2)),
        ),
    ),
    Export(
        "pixels_door_human_t200",
        title="RRL from pixels at 200 trajectories per iteration: the first layer frozen at BC and the paper's step",
        note=(
            "cpu preset (EfficientNet-Lite0 on 146-px renders cropped to 128, top camera, + 24 hand joints) with "
            "--trajectories 200, with and without --rl-frozen-layers 1; door, 25 human demos, dense reward, (32, 32) "
            "policy, mjrl demo weight, evaluation every 2 iterations. About 10-12 min per iteration on this 2-core "
            "machine, so a run is resumed several times (rrl train --resume); a run with fewer than 40 iterations is "
            "unfinished. The random-feature and state runs of frozen_door_human_t200 for reference (same settings, "
            "same machine)."
        ),
        groups=(
            ("RRL pixels + hand joints, first layer frozen", ("pixels/door_cpu_human_dense_t200_fz1_s0",)),
            ("RRL pixels + hand joints, paper step", ("pixels/door_cpu_human_dense_t200_s0",)),
            (
                "random features + hand joints, first layer frozen",
                seeds("state/dapg_door_human_dense_t200_emb1280flfz1", 0, 1, 2),
            ),
            ("DAPG (state), paper step", seeds("state/dapg_door_human_dense_t200_statep", 0, 1, 2)),
            ("DAPG (state), first layer frozen", seeds("state/dapg_door_human_dense_t200_statefz1", 0, 1, 2)),
        ),
    ),
    Export(
        "pixels8_door_human_t200",
        title="8x8 pixels at 200 trajectories per iteration: plain, input PCA, and damping 10 + Fisher step norm",
        note=(
            "examples/rrl_pixels8 (37-px renders cropped to 32, 8x8 pixels) + 24 hand joints, cpu preset otherwise; "
            "door, 25 human demos, dense reward, (32, 32) policy, mjrl demo weight, 200 trajectories per iteration; "
            "damping + Fisher norm: --cg-damping 10 --step-norm fisher. Stopped by a time limit (resumable with rrl "
            "train --resume). The state runs at the same batch for reference."
        ),
        groups=(
            ("8x8 pixels", ("pixels/door_cpu_human_dense_px8r32_t200_plain_s0",)),
            ("8x8 pixels, PCA 16", ("pixels/door_cpu_human_dense_px8r32_t200_pca16_s0",)),
            ("8x8 pixels, damping 10 + Fisher norm", ("pixels/door_cpu_human_dense_px8r32_t200_d10f_s0",)),
            ("DAPG (state)", seeds("state/dapg_door_human_dense_t200_state", 0, 1, 2)),
        ),
    ),
    Export(
        "rrl_pixels_door_expert",
        figure="Fig. 3",
        title="RRL from pixels, door, 25 expert demos (cpu preset) vs DAPG from state",
        note=(
            "cpu preset: EfficientNet-Lite0, 146-px renders cropped to 128, top camera + 24 hand joints, 40 "
            "trajectories per iteration. Seeds 1 and 2 ran on a 2-core CPU machine (onnxruntime); seed 0 on a GPU "
            "box (the same preset with the encoder in torch on CUDA and 8 envs; config.json records it). Target: "
            ">= 80% stochastic training success."
        ),
        groups=(
            ("RRL (pixels, cpu preset)", seeds("pixels/door_cpu_expert", 0, 1, 2)),
            ("DAPG (state, paper scale)", seeds("state/dapg_door", 0, 1, 2)),
        ),
    ),
    Export(
        "rrl_code_door",
        figure="Fig. 3",
        title=(
            "door: DAPG from state and RRL from pixels with the 25 human demonstrations under the RRL-code reward, "
            "beside RRL's published curve"
        ),
        note=(
            "DAPG from state with the 25 human door demonstrations (the published runs' demonstrations), --reward "
            "rrl_code (the reward and goal test of RRL's released code, docs/rewards.md), the released RRL "
            "configuration's (256, 256) policy and mjrl demo weight, 40,000 samples per iteration, seeds 0-2, with "
            "rrl's default initial action std (the demonstrations' per-dimension std) and with --init-log-std -3 "
            "(std 0.05). The default-std runs were stopped at 2.76M (seeds 0, 1) and 1.92M (seed 2) samples with "
            "identical flat returns at every iteration, and the std-0.05 seed 1 at 1.08M (flat: its BC policy never "
            "reaches the handle). 'Best of 8 BC fits' (--bc-candidates 8) keeps the BC fit whose 5 deterministic "
            "episodes return most (their 8,000 samples count on the curve); all three seeds to 4M samples (none of "
            "seed 2's 8 fits moves the door); a run stopped early resumes with rrl train --resume RUN "
            "--iterations 100. RRL from pixels: the cpu preset's features (EfficientNet-Lite0, 146 px render, 128 "
            "px crop, top camera) + hand joints, with the state runs' std 0.05, best of 8 BC fits, (256, 256) policy "
            "and mjrl demo weight, 200 trajectories per iteration (40,000 samples, the published runs' batch), "
            "seeds 0 and 1, continued with rrl train --resume RUN. The published curve is RRL from pixels "
            "(ResNet-34 features + hand joints, 3 seeds, the authors' logs). Targets: DAPG from state >= 80% "
            "training success by 4M samples on every seed; RRL from pixels within 10 points of the published curve "
            "at equal samples."
        ),
        groups=(
            (
                "DAPG (state), human demos, initial action std of the demos (0.29)",
                seeds("state/dapg_door_human_rrlcode", 0, 1, 2),
            ),
            (
                "DAPG (state), human demos, initial action std 0.05",
                seeds("state/dapg_door_human_rrlcode_std005", 0, 1, 2),
            ),
            (
                "DAPG (state), human demos, initial action std 0.05, best of 8 BC fits",
                seeds("state/dapg_door_human_rrlcode_std005_bc8", 0, 1, 2),
            ),
            (
                "RRL (cpu preset features), human demos, initial action std 0.05, best of 8 BC fits",
                seeds("pixels/door_cpu_human_rrlcode_t200_std005_bc8", 0, 1),
            ),
        ),
        published="door",
    ),
    *(
        Export(
            f"rrl_code_{task}",
            figure="Fig. 3",
            title=f"{task}: DAPG from state under the RRL-code reward, beside RRL's published curve",
            note=_RRL_CODE_EXPERT_NOTE,
            groups=(("DAPG (state), 25 expert demos", (f"state/dapg_{task}_expert_rrlcode_s0",)),),
            published=task,
        )
        for task in ("hammer", "pen", "relocate")
    ),
    Export(
        "ferm_door_expert",
        figure="Fig. 3",
        title="FERM from pixels against RRL from pixels, door, 25 expert demos (cpu presets)",
        note=(
            "FERM (--algo ferm --preset cpu: a conv encoder learned from 76-px renders randomly cropped to 64, the top "
            "camera + 24 hand joints, the demos in the replay buffer first, 1600 CURL updates, then SAC with one "
            "update per 4 samples at batch 64) and RRL (DAPG on frozen EfficientNet-Lite0 features, cpu preset), "
            "both from 25 expert demonstrations, against environment samples. The preset's FERM is FERM's code: "
            "demonstrations acted with draws from the expert's Gaussian, the encoder's LayerNorm output without a "
            "tanh, the temperature's Adam beta_1 0.5, the actor's log pi with each saturated dimension's "
            "log-determinant bounded at -log 1e-6, and the RRL authors' FERM config's targets (critic and encoder "
            "targets stepped after every update at rate 0.05) and replay (110k steps: nothing overwritten); here "
            "under the RRL-code reward (the reward of the code that ran FERM for the paper). The earlier FERM runs "
            "stepped their targets every second update, the critic's at rate 0.01 (FERM's code's defaults), in a "
            "100k-step replay, and differ further as their labels say: the expert's mean-action demonstrations "
            "(--expert-demo-actions mean), a tanh after the encoder's LayerNorm and beta_1 0.9 "
            "(--ferm-encoder-tanh --sac-alpha-beta 0.9), the exact log pi, the sparse reward. RRL used the "
            "mean-action demonstrations and the sparse reward. Runs short of the preset's 100k samples continue "
            "with rrl train --resume RUN."
        ),
        groups=(
            ("FERM, mean-action demos, tanh encoder, exact log pi, sparse", seeds("ferm/door_expert", 0, 1)),
            ("FERM, mean-action demos, tanh encoder, sparse", seeds("ferm/door_expert_bounded", 0, 1)),
            ("FERM, mean-action demos, tanh encoder, rrl_code", seeds("ferm/door_expert_rrlcode", 0, 1)),
            ("FERM, sampled demos, tanh encoder, rrl_code", seeds("ferm/door_expert_sampled_tanh_rrlcode", 0)),
            ("FERM, targets every 2nd update at 0.01, rrl_code",
             seeds("ferm_door_expert/door_expert_fermcode_rrlcode.csv", 0)),
            ("FERM (cpu preset), rrl_code", seeds("ferm/door_expert_fermconfig_rrlcode", 0, 1)),
            ("RRL (pixels, cpu preset), sparse", seeds("rrl_pixels_door_expert/door_cpu_expert.csv", 0, 1, 2)),
        ),
    ),
    Export(
        "ferm_hammer_expert",
        figure="Fig. 3",
        title="FERM from pixels against RRL from pixels, hammer, 25 expert demos, RRL-code reward (cpu presets)",
        note=(
            "FERM (--algo ferm --preset cpu, as on door: demonstrations acted with draws from the expert's "
            "Gaussian, no tanh after the encoder's LayerNorm, the RRL authors' FERM config's targets, stepped after "
            "every update at rate 0.05, and a 110k-step replay) and RRL (DAPG on frozen EfficientNet-Lite0 "
            "features, cpu preset, the expert's mean-action demonstrations, the RRL run of rrl experiment main "
            "--task hammer --scale cpu), both from 25 expert demonstrations under the RRL-code reward, against "
            "environment samples. Beside them the FERM run of rrl experiment main made before the preset took that "
            "config (targets every second update, the critic's at rate 0.01, as FERM's code's defaults, 100k-step "
            "replay) and one with, further, the expert's mean-action demonstrations and a tanh encoder "
            "(--expert-demo-actions mean --ferm-encoder-tanh --sac-alpha-beta 0.9), stopped early. Runs short of "
            "their budget continue with rrl train --resume RUN."
        ),
        groups=(
            ("FERM (cpu preset), rrl_code", seeds("ferm/hammer_expert_fermconfig_rrlcode", 0)),
            ("FERM, targets every 2nd update at 0.01, rrl_code", seeds("ferm_hammer_expert/ferm.csv", 0)),
            ("FERM, mean-action demos, tanh encoder, rrl_code", seeds("ferm/hammer_expert_mean_rrlcode", 0)),
            ("RRL (pixels, cpu preset), rrl_code", seeds("experiments/main/cpu/hammer/rrl", 0)),
        ),
        published="hammer",
    ),
    Export(
        "sac_probes_door",
        title="SAC with demonstrations from state on door: what its training rollouts do",
        note=(
            "--algo sac from state, seed 0, 10 trajectories (2,000 samples) per iteration, one update per sample, "
            "25% of each batch from the demonstrations, evaluation on 10 episodes after each iteration's updates. "
            "The expert-demo probes (sparse reward) differ in the BC weight (--sac-bc-weight), the initial "
            "temperature, the cap on the actor's log std (--sac-max-log-std), a fixed std and temperature "
            "(--sac-min-log-std, --no-sac-learn-temperature) and the offline updates; the human-demo run uses the "
            "RRL-code reward. Short probes, stopped after 6 iterations (the human-demo run at 36k samples)."
        ),
        groups=(
            ("expert, BC 0.4, 400 offline updates", ("sac/probe_door_expert_bc04_off400_s0",)),
            ("expert, BC 0.4, 400 offline, temperature 0.01", ("sac/probe_door_expert_bc04_off400_t001_s0",)),
            ("expert, BC 2.5, 400 offline updates", ("sac/probe_door_expert_bc25_off400_s0",)),
            ("expert, BC 0.4, 400 offline, std cap 0.1", ("sac/probe_door_expert_bc04_off400_std01_s0",)),
            ("expert, BC 2.5, 400 offline, std cap 0.1, target entropy -3",
             ("sac/probe_door_expert_bc25_off400_std01_h3_s0",)),
            ("expert, BC 2.5, 20k offline, std cap 0.1", ("sac/probe_door_expert_bc25_off20k_std01_s0",)),
            ("expert, BC 2.5, 5k offline, std fixed at 0.1, temperature fixed at 0.01",
             ("sac/probe_door_expert_bc25_off5k_fixstd01_a001_s0",)),
            ("human, rrl_code, BC 0.4, 2000 offline updates", ("sac/door_human_bc04_s0",)),
        ),
    ),
    Export(
        "awac_probes_door",
        title="SAC's critic with AWAC's actor from state on door: do the demonstrations' policies survive?",
        note=(
            "--algo sac --sac-actor awac from state, seed 0, RRL-code reward, 10 trajectories (2,000 samples) per "
            "iteration, one update per sample, 25% of each batch from the demonstrations, 2,000 offline updates on "
            "the demonstrations after BC, temperature fixed at 1e-4 (--no-sac-learn-temperature "
            "--sac-init-temperature 0.0001, AWAC's runs have none), evaluation on 10 episodes after each "
            "iteration's updates; AWAC's temperature --sac-awac-beta as labelled; the human-demo run caps the "
            "actor's log std at -3 (--sac-max-log-std -3, the std DAPG's human-demo runs start from); 'log std "
            "fixed' runs set --sac-min-log-std and --sac-max-log-std to that value; 'normalised' runs divide the "
            "advantages by their batch std (--sac-awac-normalize). Short probes (3-5 iterations, the beta 5 "
            "probes continued to 20; the beta 0.5 and early human runs stopped early; the later human runs as "
            "far as they got). Beside them SAC's actor on the human demonstrations (BC weight 0.4, learned "
            "temperature, uncapped std) from the SAC probes. The 'best of 8 BC fits' runs choose their BC fit by its "
            "episodes (--bc-candidates 8; their 8,000 samples, 5 episodes per fit, count on the curve), run no "
            "offline updates (--sac-offline-updates 0), fix the log std at -3.5 and, as labelled, use 3-step returns "
            "(--sac-n-step 3), a learning rate of 1e-4 (--sac-lr 1e-4), no demonstration rows in the batches "
            "(--sac-demo-fraction 0), AWAC's likelihood around tanh(mu) in the action space (--sac-awac-space "
            "action, 20 iterations), the same with the actor learning from the online rows only while the "
            "critics keep the demonstrations' rows (--no-sac-awac-demo-rows), or with each iteration's actor change "
            "bounded to a mean KL of 0.05 or 0.2 (--sac-actor-max-kl), or the actor held until 20k samples "
            "(--sac-actor-delay 20000) with normalised advantages at beta 0.7, or the critics regressed on "
            "Monte-Carlo returns (--sac-n-step 0) with normalised advantages at beta 1 (--sac-awac-normalize "
            "--sac-awac-beta 1), the actor learning from the start or held to 14k samples (--sac-actor-delay "
            "14000); the others were stopped once their "
            "training return stayed flat (the run without demonstrations in the batches continued to 20 "
            "iterations with rrl train --resume RUN --iterations 20)."
        ),
        groups=(
            ("expert, SAC's actor (same settings)", ("sac/door_expert_sacactor_control_s0",)),
            ("expert, AWAC beta 0.5", ("sac/door_expert_awac_probe_s0",)),
            ("expert, AWAC beta 5", ("sac/door_expert_awac_beta5_probe_s0",)),
            ("expert, AWAC beta 5, log std fixed at -3.5", ("sac/door_expert_awac_beta5_fixstd_probe_s0",)),
            ("expert, AWAC beta 1 normalised, log std fixed at -3.5", ("sac/door_expert_awac_norm1_fixstd_probe_s0",)),
            ("human, AWAC beta 5, log std cap -3", ("sac/door_human_awac_beta5_std005_probe_s0",)),
            ("human, AWAC beta 5, log std fixed at -2.3", ("sac/door_human_awac_beta5_fixstd01_s0",)),
            ("human, AWAC beta 1 normalised, log std fixed at -2.3", ("sac/door_human_awac_norm1_fixstd01_s0",)),
            ("human, SAC's actor, BC 0.4", seeds("sac_probes_door/door_human_bc04.csv", 0)),
            ("human, best of 8 BC fits, no offline updates, log std fixed at -3.5",
             ("sac/door_human_awac_beta5_std003_bc8_off0_s0",)),
            ("human, best of 8 BC fits, as above, 3-step returns",
             ("sac/door_human_awac_beta5_std003_bc8_off0_n3_s0",)),
            ("human, best of 8 BC fits, as above, learning rate 1e-4",
             ("sac/door_human_awac_beta5_std003_bc8_lr1e-4_s0",)),
            ("human, best of 8 BC fits, as above, no demonstrations in the batches",
             ("sac/door_human_awac_beta5_std003_bc8_nodemo_s0",)),
            ("human, best of 8 BC fits, as above, likelihood in the action space",
             ("sac/door_human_awac_beta5_std003_bc8_action_s0",)),
            ("human, best of 8 BC fits, action space, actor without the demonstrations' rows",
             ("sac/door_human_awac_beta5_std003_bc8_action_actoronline_s0",)),
            ("human, best of 8 BC fits, action space, actor step within KL 0.05",
             ("sac/door_human_awac_beta5_std003_bc8_action_kl005_s0",)),
            ("human, best of 8 BC fits, action space, actor step within KL 0.2",
             ("sac/door_human_awac_beta5_std003_bc8_action_kl02_s0",)),
            ("human, best of 8 BC fits, actor held to 20k samples, normalised beta 0.7",
             ("sac/door_human_awac_norm07_std003_bc8_delay20k_s0",)),
            ("human, best of 8 BC fits, action space, Monte-Carlo returns, normalised beta 1",
             ("sac/door_human_awac_norm1_std003_bc8_action_mc_s0",)),
            ("human, best of 8 BC fits, action space, Monte-Carlo returns, normalised beta 1, actor held to 14k",
             ("sac/door_human_awac_norm1_std003_bc8_action_mc_delay14k_s0",)),
        ),
    ),
    Export(
        "awac_pixels_door_expert",
        title="SAC's critic with AWAC's actor on frozen EfficientNet-Lite0 features, door, 25 expert demos",
        note=(
            "--algo sac --sac-actor awac --preset cpu (the cpu preset's features: EfficientNet-Lite0 on 146-px "
            "renders centre-cropped to 128, top camera, + 24 hand joints), RRL-code reward, 10 trajectories "
            "(2,000 samples) per iteration, one update per sample, 25% of each batch from the demonstrations, "
            "2,000 offline updates after BC, AWAC beta 5, temperature fixed at 1e-4, evaluation on 10 episodes "
            "after each iteration's updates; 'log std fixed' sets --sac-min-log-std and --sac-max-log-std to that "
            "value; '50-d trunks': --sac-trunk-dim 50 (actor and critics map the features to 50 first); beside "
            "RRL (DAPG on the same features, cpu preset, 40 trajectories "
            "per iteration, the sparse reward: both rewards share door's success test but for the hinge "
            "threshold, 1.35 against the RRL code's 1.4)."
        ),
        groups=(
            ("AWAC (features), rrl_code", seeds("sac/door_expert_pixels_awac_beta5", 0, 1)),
            ("AWAC (features), rrl_code, log std fixed at -3.5", seeds("sac/door_expert_pixels_awac_beta5_fixstd", 0)),
            ("AWAC (features), rrl_code, log std fixed at -3.5, 50-d trunks",
             seeds("sac/door_expert_pixels_awac_beta5_fixstd_trunk50", 0)),
            ("RRL (pixels, cpu preset), sparse", seeds("rrl_pixels_door_expert/door_cpu_expert.csv", 0, 1, 2)),
        ),
    ),
    # The paper's ablations at cpu scale on door (seeds 1 and 2, 25 iterations; the RRL baseline of each is a copy
    # of pixels/door_cpu_expert_s<seed>, the same configuration) and Fig. 9 on relocate.
    *(ExperimentExport(e, "door") for e in ("proprioception", "rewards", "policy_size", "representations")),
    ExperimentExport("relocate_cameras", "relocate"),
)
