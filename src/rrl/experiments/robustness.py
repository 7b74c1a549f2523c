"""Robustness of frozen pixel policies to visual distractors (paper Fig. 4 centre/right, appendix 7.5, Fig. 11).

Appendix 7.5: the final policy is frozen and evaluated under visual distractions it never saw in training,
each freshly sampled at every episode; success is averaged over 75 rollouts. The four distractors are those of
:mod:`rrl.envs.distractors` (light position, light direction, object colour, a random extra object). They change
rendered frames only, never the physics, so only pixel runs (``obs`` ``rgb+proprio`` or ``rgb``) can be probed.

For every run folder and condition (``clean`` plus each distractor) :func:`robustness` calls
:func:`rrl.evaluate.evaluate_run` with the same evaluation seed (by default the training loop's evaluation seed
of the run), so every condition replays the same initial states and only the pixels differ.

Outputs of :func:`write_outputs` (each written atomically): ``robustness.csv`` (one row per run and condition),
``robustness.png`` (Fig. 4 style grouped bars: mean success over runs per condition, dots = runs, error bars =
std over runs) and ``meta.json`` (command, git commit, date, versions, episodes, runs). :func:`frames_figure`
renders the Fig. 11 style example frames.

Run::

    python -m rrl.experiments.robustness runs/door_s0 runs/door_s1 runs/door_s2 --episodes 75 \
        --out results/robustness_door --frames
    python -m rrl.experiments.robustness --frames-only door --out results/robustness_frames
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rrl.envs.distractors import DISTRACTORS
from rrl.result_folder import csv_file, write_file, write_result_folder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLEAN = "clean"
COLUMNS = (
    "run", "run_dir", "seed", "task", "encoder", "obs", "condition", "episodes", "success_rate", "mean_return",
    "input_shift",
)
PIXELS_ONLY = (
    "distractors only affect pixels (rendered frames), never the physics; {run} learned from state "
    "(obs={obs!r}), so it cannot be evaluated under visual distractors (appendix 7.5 probes pixel policies)"
)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


def resolve_distractors(distractors: Sequence[str] | str | None) -> list[str]:
    """Distractor names from a sequence or a comma-separated string (``None``: all four, in paper order)."""
    if distractors is None:
        return list(DISTRACTORS)
    items = distractors.split(",") if isinstance(distractors, str) else distractors
    names = [str(d).strip() for d in items if str(d).strip()]
    unknown = [d for d in names if d not in DISTRACTORS]
    if unknown:
        raise ValueError(f"unknown distractor(s) {unknown}; valid: {', '.join(DISTRACTORS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"distractors listed twice: {names}")
    return names


def _check_pixel_run(run_dir: Path) -> Any:
    """The run's TrainConfig; ValueError for a state run (distractors cannot change what it sees)."""
    from rrl.evaluate import load_run

    cfg, _ = load_run(run_dir)  # also checks that config.json and the checkpoint exist
    if not cfg.is_pixel:
        raise ValueError(PIXELS_ONLY.format(run=run_dir, obs=cfg.obs))
    return cfg


def robustness(
    run_dirs: Sequence[str | os.PathLike],
    episodes: int = 75,
    distractors: Sequence[str] | str | None = tuple(DISTRACTORS),
    seed: int | None = None,
    n_envs: int | None = None,
    progress: Callable[[str], None] | None = None,
    device: str | None = None,
) -> list[dict[str, Any]]:
    """Deterministic success of each frozen pixel policy, clean and under each distractor (appendix 7.5, Fig. 4).

    Args:
        run_dirs: trained pixel run folders (typically one per seed).
        episodes: rollouts per run and condition (paper: 75).
        distractors: names of :data:`rrl.envs.DISTRACTORS` (or a comma-separated string); ``clean`` is always
            evaluated first.
        seed: evaluation seed of every condition; ``None``: each run's training-loop evaluation seed (so the clean
            row reproduces ``evaluate_run(run, episodes)``). Every condition uses the same seed, i.e. the same
            initial states.
        n_envs: overrides the runs' number of environments.
        progress: called with a short line after each evaluation (e.g. ``print``).
        device: encoder device instead of each run's (e.g. ``"cpu"`` for runs trained on a GPU box).

    Returns:
        One dict per (run, condition) with the keys of :data:`COLUMNS`.

    Raises:
        ValueError: a state run (distractors only affect pixels), an unknown distractor, ``episodes < 1`` or no runs.
    """
    from rrl.evaluate import evaluate_run

    names = resolve_distractors(distractors)
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise ValueError("no run folders given")
    cfgs = [_check_pixel_run(d) for d in dirs]  # reject every bad run before spending time on the good ones
    rows: list[dict[str, Any]] = []
    for run_dir, cfg in zip(dirs, cfgs):
        for condition in [CLEAN, *names]:
            t0 = time.perf_counter()
            distractor = None if condition == CLEAN else condition
            res = evaluate_run(run_dir, episodes, seed=seed, distractor=distractor, n_envs=n_envs, device=device)
            rows.append({
                "run": run_dir.name, "run_dir": str(run_dir), "seed": cfg.seed, "task": cfg.task,
                "encoder": cfg.encoder, "obs": cfg.obs, "condition": condition, "episodes": res.episodes,
                "success_rate": float(res.success_rate), "mean_return": float(res.mean_return),
                "input_shift": float(res.input_shift),
            })  # fmt: skip
            if progress is not None:
                progress(
                    f"{run_dir.name} {condition}: success {res.success_rate:.3f} over {res.episodes} episodes "
                    f"({time.perf_counter() - t0:.0f} s)"
                )
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Summaries and outputs


def group_label(row: Mapping[str, Any]) -> str:
    """The bar group of a row: ``task / encoder`` (``/ rgb`` added for vision-only runs)."""
    obs = row.get("obs", "rgb+proprio")
    return f"{row['task']} / {row['encoder']}" + ("" if obs == "rgb+proprio" else f" / {obs}")


def summarize(rows: Sequence[Mapping[str, Any]], key: str = "success_rate") -> dict[str, dict[str, list[float]]]:
    """``{group label: {condition: [per-run values of key]}}`` (default: success rates), conditions in first-seen
    order. Rows without ``key`` (CSVs written before it existed) count as NaN."""
    out: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        value = r.get(key)
        value = math.nan if value in (None, "") else float(value)
        out.setdefault(group_label(r), {}).setdefault(str(r["condition"]), []).append(value)
    return out


def _conditions(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: list[str] = []
    for r in rows:
        if r["condition"] not in seen:
            seen.append(str(r["condition"]))
    return seen


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table: condition -> mean success over runs and the per-run values (one block per group)."""
    groups, shifts = summarize(rows), summarize(rows, "input_shift")
    several = len(groups) > 1
    head = (["group"] if several else []) + ["condition", "mean success", "runs", "per-run success", "input shift"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for label, conds in groups.items():
        for cond, values in conds.items():
            cells = ([label] if several else []) + [
                cond, f"{np.mean(values):.3f}", str(len(values)), ", ".join(f"{v:.3f}" for v in values),
                f"{np.mean(shifts[label][cond]):.2f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(rows: Sequence[Mapping[str, Any]]) -> Figure:
    """Fig. 4 (centre/right) style bars: x = condition, bar = mean success over runs, dots = runs, error = std."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # Agg explicitly, no pyplot global state
    from matplotlib.figure import Figure

    groups = summarize(rows)
    conditions = _conditions(rows)
    n_groups = len(groups)
    fig = Figure(figsize=(max(6.5, 1.25 * len(conditions) * max(1, n_groups) ** 0.5 + 2), 4.9), dpi=130,
                 layout="constrained")  # fmt: skip
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(conditions))
    width = 0.8 / n_groups
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    rng = np.random.default_rng(0)  # jitter of the per-run dots only
    for k, (label, conds) in enumerate(groups.items()):
        pos = x + (k - (n_groups - 1) / 2) * width
        means = np.array([np.mean(conds[c]) if c in conds else np.nan for c in conditions])
        stds = np.array([np.std(conds[c]) if len(conds.get(c, [])) > 1 else 0.0 for c in conditions])
        n_runs = max(len(v) for v in conds.values())
        ax.bar(pos, means, width * 0.92, yerr=stds if n_runs > 1 else None, capsize=3, color=colors[k % len(colors)],
               alpha=0.85, label=f"{label} ({n_runs} run{'s' if n_runs != 1 else ''})", zorder=2)  # fmt: skip
        for p, c, m in zip(pos, conditions, means):
            vals = np.asarray(conds.get(c, []), dtype=float)
            jitter = rng.uniform(-0.18, 0.18, size=vals.size) * width if vals.size > 1 else np.zeros(vals.size)
            ax.scatter(p + jitter, vals, s=14, color="black", zorder=3)
            if np.isfinite(m):  # the mean at the foot of its bar, clear of the dots and error bars
                ax.text(p, 0.015, f"{m:.2f}", ha="center", va="bottom", fontsize=7.5, zorder=4,
                        color="white" if m > 0.09 else "black", fontweight="bold")  # fmt: skip
    ax.set_xticks(x)
    ax.set_xticklabels([c.replace("_", " ") for c in conditions], fontsize=9)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("success rate (deterministic policy)")
    episodes = sorted({int(r["episodes"]) for r in rows})
    ax.set_title(
        "Robustness of frozen policies to visual distractors (RRL Fig. 4 centre/right, appendix 7.5)\n"
        f"{'/'.join(map(str, episodes))} episodes per run and condition; bar = mean over runs, dots = runs, "
        "error bar = std",
        fontsize=8.5,
    )
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=min(n_groups, 3), frameon=False)
    return fig


def write_outputs(rows: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike, command: str, **extra: Any) -> Path:
    """Write ``robustness.csv``, ``robustness.png`` and ``meta.json`` (:func:`rrl.result_folder.write_result_folder`:
    command, commit, date, versions; episodes, runs, summary). ``extra`` entries are added to ``meta.json``.
    Returns the output folder.
    """
    if not rows:
        raise ValueError("no rows to write")
    runs: list[dict[str, Any]] = []
    for r in rows:
        if all(x["run_dir"] != r["run_dir"] for x in runs):
            runs.append({k: r[k] for k in ("run", "run_dir", "seed", "task", "encoder", "obs")})
    tasks = ", ".join(dict.fromkeys(r["task"] for r in rows))
    meta = {
        "episodes": sorted({int(r["episodes"]) for r in rows}),
        "conditions": _conditions(rows),
        "runs": runs,
        "protocol": (
            "appendix 7.5: final policy frozen, deterministic (mean) actions, each distractor resampled every "
            "episode; every condition of a run uses the same evaluation seed (same initial states)"
        ),
        "summary": {label: {c: {"mean": float(np.mean(v)), "per_run": v} for c, v in conds.items()}
                    for label, conds in summarize(rows).items()},  # fmt: skip
        **extra,
    }
    return write_result_folder(
        out_dir,
        title=f"Robustness to visual distractors, {tasks} (paper Fig. 4 centre/right, appendix 7.5)",
        command=command,
        note=(
            "input shift: mean |z| of the policy's inputs normalised by the demonstrations' mean and (floored) "
            "std, at most 1 on the demonstrations themselves: how far each condition moves the frozen features "
            "from what the policy was fitted on"
        ),
        table=format_table(rows),
        files={"robustness.csv": csv_file(rows, COLUMNS), "robustness.png": figure(rows)},
        extra_meta=meta,
    )


# ---------------------------------------------------------------------------------------------------------------
# Example frames (Fig. 11)


def distractor_frames(
    task: str,
    seed: int = 0,
    render_size: int = 128,
    distractors: Sequence[str] | str | None = None,
    resets: int = 4,
) -> tuple[list[str], np.ndarray]:
    """Frames after ``resets`` consecutive resets (seeds ``seed .. seed+resets-1``), clean and per distractor.

    Returns ``(row names, frames)`` with frames uint8 ``(1 + n_distractors, resets, H, W * n_cameras, 3)`` (the
    task's RRL camera(s) side by side). Every row replays the same seeds, hence the same initial states: only the
    distractor differs between rows, and within a row it is resampled at each reset.
    """
    from rrl.envs import EnvConfig, make_env

    if resets < 1:
        raise ValueError(f"resets must be >= 1, got {resets}")
    names = [CLEAN, *resolve_distractors(distractors)]
    rows = []
    for name in names:
        cfg = EnvConfig(task=task, obs_mode="rgb", distractor=None if name == CLEAN else name,
                        render_size=render_size, crop_size=None)  # fmt: skip
        env = make_env(cfg)
        try:
            tiles = []
            for i in range(resets):
                obs, _ = env.reset(seed=seed + i)
                tiles.append(np.concatenate(list(obs["pixels"]), axis=1))
        finally:
            env.close()
        rows.append(np.stack(tiles))
    return names, np.stack(rows)


def frames_figure(
    task: str,
    out_png: str | os.PathLike,
    seed: int = 0,
    render_size: int = 128,
    distractors: Sequence[str] | str | None = None,
    resets: int = 4,
) -> Path:
    """Fig. 11 style example frames of ``task``: a row per condition (clean, then each distractor), a column per reset.

    ``out_png`` is the bare mosaic: exactly ``rows x resets`` tiles of ``render_size`` pixels (no margins), rows
    in the order clean, light_position, light_direction, object_color, random_object (or ``distractors``). A
    labelled copy ``<stem>_labelled.png`` names the rows and the reset seeds. Returns ``out_png``.
    """
    import imageio.v3 as iio

    names, frames = distractor_frames(task, seed, render_size, distractors, resets)
    n_rows, n_cols, h, w, _ = frames.shape
    mosaic = frames.transpose(0, 2, 1, 3, 4).reshape(n_rows * h, n_cols * w, 3)
    out = Path(out_png)
    write_file(out, iio.imwrite("<bytes>", mosaic, extension=".png"))

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.6 + 1.9 * n_cols * w / h, 0.6 + 1.9 * n_rows), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(mosaic)
    ax.set_yticks([(i + 0.5) * h for i in range(n_rows)])
    ax.set_yticklabels([n.replace("_", " ") for n in names], fontsize=9)
    ax.set_xticks([(j + 0.5) * w for j in range(n_cols)])
    ax.set_xticklabels([f"reset seed {seed + j}" for j in range(n_cols)], fontsize=8)
    ax.tick_params(length=0)
    ax.set_title(f"{task}: visual distractors, resampled at every reset (RRL Fig. 11, appendix 7.5)", fontsize=9)
    fig.tight_layout()
    write_file(out.with_name(f"{out.stem}_labelled.png"), fig)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rrl.experiments.robustness RUN_DIR [RUN_DIR...] --out DIR [--episodes 75] [--frames]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="rrl experiment robustness",
        description="Success of frozen pixel policies clean and under visual distractors (RRL Fig. 4 centre/right, "
        "appendix 7.5); --frames / --frames-only render Fig. 11 style example frames.",
    )
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="trained pixel run folders (e.g. one per seed)")
    parser.add_argument("--out", required=True, help="output folder (robustness.csv, .png, meta.json, frames)")
    parser.add_argument("--episodes", type=int, default=75, help="episodes per run and condition (paper: 75)")
    parser.add_argument("--distractors", default=",".join(DISTRACTORS), help="comma-separated (default: all four)")
    parser.add_argument("--seed", type=int, default=None, help="evaluation seed (default: each run's eval seed)")
    parser.add_argument("--n-envs", type=int, default=None, help="override the runs' number of environments")
    parser.add_argument(
        "--device", default=None, help="encoder device instead of the runs' (e.g. cpu for GPU-trained runs)"
    )
    parser.add_argument("--frames", action="store_true", help="also write <task>_distractors.png for the runs' task(s)")
    parser.add_argument("--frames-only", metavar="TASK", default=None, help="only write the example frames of TASK")
    parser.add_argument("--frame-size", type=int, default=128, help="render size of the example frames (default 128)")
    parser.add_argument("--frame-seed", type=int, default=0, help="first reset seed of the example frames (default 0)")
    args = parser.parse_args(argv)
    if args.frames_only is None and not args.run_dirs:
        parser.error("give at least one RUN_DIR (or --frames-only TASK)")
    if args.frames_only is not None and args.run_dirs:
        parser.error("--frames-only takes no RUN_DIR")
    command = shlex.join(["python", "-m", "rrl.experiments.robustness", *argv])
    out = Path(args.out)
    try:
        distractors = resolve_distractors(args.distractors)
        if args.frames_only is not None:
            path = frames_figure(args.frames_only, out / f"{args.frames_only}_distractors.png", args.frame_seed,
                                 args.frame_size, distractors)  # fmt: skip
            print(f"wrote {path} and {path.with_name(path.stem + '_labelled.png')}")
            return 0
        t0 = time.perf_counter()
        rows = robustness(args.run_dirs, args.episodes, distractors, args.seed, args.n_envs,
                          progress=lambda line: print(line, file=sys.stderr, flush=True),
                          device=args.device)  # fmt: skip
        write_outputs(rows, out, command, eval_seed=args.seed, n_envs=args.n_envs, device=args.device,
                      elapsed_s=round(time.perf_counter() - t0, 1))  # fmt: skip
        print(format_table(rows))
        print(f"\nwrote {out / 'robustness.csv'}, {out / 'robustness.png'}, {out / 'meta.json'}")
        if args.frames:
            for task in dict.fromkeys(r["task"] for r in rows):
                path = out / f"{task}_distractors.png"
                frames_figure(task, path, args.frame_seed, args.frame_size, distractors)
                print(f"wrote {path}")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
