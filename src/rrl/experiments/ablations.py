"""The paper's comparisons and ablations as runnable experiments (Fig. 3, 5, 6, 7, 9), at a chosen scale.

>>> rrl experiment representations --task door --scale cpu --seeds 0,1
>>> rrl experiment proprioception --task hammer --scale smoke
>>> rrl experiment relocate_cameras --scale paper --dry-run      # prints the commands for a GPU box

An experiment is a list of :class:`Variant` s (a label and the :class:`~rrl.config.TrainConfig` settings that
differ from RRL); a scale is a preset of :mod:`rrl.config` (``smoke``: tests, ``cpu``: this 2-core machine,
``paper``: appendix 7.1 on a GPU box or cluster). Every (variant, seed) is one ordinary run folder under
``runs/experiments/<experiment>/<scale>/<task>/``; a re-run resumes unfinished folders, extends finished ones to
a larger ``--iterations`` (else keeps them) and refuses a folder that holds another run.
The curves go to ``results/<experiment>_<task>_<scale>/`` (names: :func:`rrl.result_folder.result_name`; writer:
:func:`rrl.results.export_results`), so ``rrl report`` shows them. A variant whose encoder weights are missing
here (the torchvision ResNets offline) is reported as skipped, with the command that runs it where the weights are.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rrl.config import IDENTITY_FIELDS, PIXEL_FIELDS, PRESETS, TrainConfig
from rrl.experiments.definitions import EXPERIMENTS, RRL, Experiment, Variant  # noqa: F401 (defined there)
from rrl.result_folder import adopt_renamed, result_name

# VAE training per scale (appendix 7.4: 1M frames, 10 epochs, latent 512, 64x64).
VAE_SCALE = {
    "smoke": dict(frames=64, epochs=1),
    "cpu": dict(frames=20_000, epochs=5),
    "paper": dict(frames=1_000_000, epochs=10),
}


def variant_config(
    exp: Experiment, variant: Variant, task: str, scale: str, seed: int, root: Path, **extra: Any
) -> TrainConfig:
    """The TrainConfig of one (variant, task, seed) at ``scale``; ``extra`` overrides everything (e.g. iterations)."""
    out = root / exp.name / scale / task / f"{variant.slug}_s{seed}"
    settings = {
        **(exp.per_task(task, scale) if exp.per_task else {}), **variant.overrides,
        **(variant.per_task(task, scale) if variant.per_task else {}), **extra,
    }  # fmt: skip
    if settings.get("obs", PRESETS[scale](task).get("obs", "state")) == "state":
        for name in PIXEL_FIELDS:  # the experiment's cameras, a machine's encoder backend: a state run has no encoder
            settings.pop(name, None)
    cfg = TrainConfig.from_preset(scale, task, seed=seed, out=str(out), **settings)
    if variant.vae and "image_size" not in extra:
        # The VAE learns from whole (uncropped) renders (appendix 7.4), so it gets whole renders here too: no
        # centre crop, which would show it a zoomed-in view it never saw. Its encoder resizes them to 64 px.
        cfg = dataclasses.replace(cfg, image_size=cfg.render_size)
    return cfg


def _train_vae(task: str, scale: str, seed: int, path: Path) -> None:
    """Train the VAE of ``task`` at ``scale`` into ``path`` unless it is there (appendix 7.4)."""
    from rrl.vae import VAETrainConfig, train_vae

    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        train_vae(VAETrainConfig(tasks=(task,), seed=seed, **VAE_SCALE[scale]), out=path)


#: Settings of how a run executes, not of what it learns: changed on a resumed run, they never make it run again.
RUNTIME_FIELDS = (
    "device", "threads", "workers", "n_envs", "n_groups", "encoder_backend", "sampler_backend", "ray_address",
)  # fmt: skip


def _train_or_continue(cfg: TrainConfig) -> None:
    """Train ``cfg`` in ``cfg.out``, or bring the run already there up to ``cfg``.

    A folder whose recorded config differs in a field that defines the run (``IDENTITY_FIELDS``) is refused.
    A finished run (a ``summary.json`` of all its recorded iterations) is kept unless ``cfg`` asks for more
    iterations; an unfinished one is resumed. Either way the other settings of ``cfg`` (e.g. ``iterations``,
    ``device``) apply from there on.
    """
    from rrl.checkpoint import read_run_meta
    from rrl.run.loop import finished_iterations, resume, train

    run_dir = Path(cfg.out)
    if not (run_dir / "config.json").is_file():
        train(cfg, progress=False)
        return
    recorded = read_run_meta(run_dir)[1]  # a damaged config.json is named, with what to do
    changed = {
        f.name: getattr(cfg, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name != "out" and getattr(cfg, f.name) != getattr(recorded, f.name)
    }
    clash = sorted(k for k in changed if k in IDENTITY_FIELDS)
    if clash:
        raise ValueError(
            f"{run_dir} holds a run with other {', '.join(clash)} than this experiment asks for (recorded "
            f"{ {k: getattr(recorded, k) for k in clash} }, asked { {k: changed[k] for k in clash} }); move it away "
            "or pass another --root"
        )
    finished = (finished_iterations(run_dir) or 0) >= recorded.iterations  # not a summary an extension left behind
    if finished and cfg.iterations <= recorded.iterations:
        learning = sorted(k for k in changed if k not in RUNTIME_FIELDS and k != "iterations")
        if learning:
            print(f"note: {run_dir} is finished and kept; it ran with other {', '.join(learning)}", file=sys.stderr)
        return
    resume(run_dir, progress=False, **changed)


def run_experiment(
    name: str | Experiment,
    tasks: Sequence[str] | None = None,
    scale: str = "cpu",
    seeds: Sequence[int] = (0,),
    root: str | Path = "runs/experiments",
    results_root: str | Path = "results",
    dry_run: bool = False,
    variants: Sequence[str] | None = None,
    export_only: bool = False,
    export: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """Run (or with ``dry_run`` only list) every variant x task x seed; export one results folder per task.

    ``name`` is one of :data:`EXPERIMENTS` or an :class:`Experiment` of your own (docs/extending.md).

    ``export=False`` trains and leaves ``results/`` as it is (the children of ``--jobs``).
    ``export_only`` trains nothing: it exports the run folders that exist (finished or not, e.g. runs stopped
    by a time limit) and lists the others under ``"missing"``. The export keeps the runs of an earlier export
    that this call did not select (other seeds or variants); a selected run without a run folder leaves it.
    Returns ``{"runs": [...], "skipped": [...], "missing": [...], "results": [...]}`` with each run's folder
    and command.
    """
    if isinstance(name, Experiment):
        exp, name = name, name.name
    elif name in EXPERIMENTS:
        exp = EXPERIMENTS[name]
    else:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)} (or an Experiment object)")
    if scale not in PRESETS:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(PRESETS)}")
    root = Path(root)
    chosen = [v for v in exp.variants if variants is None or v.slug in variants or v.label in variants]
    if variants is not None and len(chosen) != len(set(variants)):
        raise ValueError(f"unknown variant in {list(variants)}; valid: {', '.join(v.slug for v in exp.variants)}")
    report: dict[str, Any] = {"runs": [], "skipped": [], "missing": [], "results": []}
    for task in tasks or exp.tasks:
        groups: dict[str, list[str]] = {}
        selected: set[str] = set()  # run folder names this call is about
        for variant in chosen:
            for seed in seeds:
                cfg = variant_config(exp, variant, task, scale, seed, root, **extra)
                entry = {
                    "variant": variant.label, "task": task, "seed": seed, "out": cfg.out, "command": cfg.command_line()
                }
                selected.add(Path(cfg.out).name)
                if variant.vae:
                    vae_path = root / "vae" / scale / f"{task}_s{seed}.pt"
                    cfg = dataclasses.replace(cfg, encoder_weights=str(vae_path))
                    vae_args = " ".join(f"--{k} {v}" for k, v in VAE_SCALE[scale].items())
                    entry["command"] = (
                        f"rrl vae train --task {task} {vae_args} --seed {seed} --out {vae_path} && {cfg.command_line()}"
                    )
                if dry_run:
                    from rrl.experiments.main_figure import estimate

                    report["runs"].append({**entry, **estimate(cfg, scale)})
                    continue
                if export_only:
                    if (Path(cfg.out) / "log.csv").is_file():
                        groups.setdefault(variant.label, []).append(cfg.out)
                        report["runs"].append(entry)
                    else:
                        report["missing"].append(entry)
                    continue
                try:
                    if variant.vae:
                        _train_vae(task, scale, seed, Path(cfg.encoder_weights))
                    _train_or_continue(cfg)
                except FileNotFoundError as err:  # e.g. ResNet weights not available on this machine
                    entry["reason"] = str(err)
                    report["skipped"].append(entry)
                    print(f"skipped {variant.label} ({task}, seed {seed}): {err}", file=sys.stderr)
                    continue
                groups.setdefault(variant.label, []).append(cfg.out)
                report["runs"].append(entry)
        if groups and not dry_run and export:
            from rrl.results import export_results, keepable_runs, previous_export

            result = result_name(name, task, scale)
            legacy = f"{name}_{scale}_{task}"  # the name such folders had before result_name's scheme
            if adopt_renamed(results_root, legacy, result):
                print(f"renamed results/{legacy} to results/{result} (the results naming scheme)", file=sys.stderr)
            elif (Path(results_root) / legacy).is_dir():
                print(f"note: results/{legacy} is an older copy of results/{result}; remove it", file=sys.stderr)
            given = {Path(run).name for runs in groups.values() for run in runs}
            result_dir = Path(results_root) / result
            kept = set(keepable_runs(previous_export(result_dir), result_dir, drop=selected - given))
            question = exp.question if exp.question.endswith(("?", ".")) else exp.question + "."
            note = f"{exp.figure}: {question} Scale `{scale}` (preset of rrl.config)."
            skipped = sorted({s["variant"] for s in report["skipped"] if s["task"] == task} - kept - set(groups))
            if skipped:
                note += f" Not run here (weights missing): {', '.join(skipped)}."
            missing = sorted({m["variant"] for m in report["missing"] if m["task"] == task} - kept - set(groups))
            if missing:
                note += f" No run folder (not run here) for: {', '.join(missing)}."
            out = export_results(
                result, groups, results_root, title=f"{exp.figure} {name}: {task} ({scale})", note=note,
                keep_previous=True, drop=selected - given, published=task if exp.combined else None,
            )  # fmt: skip
            report["results"].append(str(out))
    if exp.combined and not dry_run and report["results"]:
        from rrl.experiments.main_figure import main_figure

        combined = main_figure(exp, scale, results_root)  # every task's panel, whatever this call ran
        if combined is not None:
            report["results"].append(str(combined))
    if dry_run:
        from rrl.experiments.main_figure import with_machine_rates

        report["runs"] = with_machine_rates(report["runs"])
    return report


def main(argv: Sequence[str] | None = None) -> int:
    variants = "\n".join(
        f"  {e.name} ({e.figure}, tasks {','.join(e.tasks)}): " + ", ".join(v.slug for v in e.variants)
        for e in EXPERIMENTS.values()
    )
    ap = argparse.ArgumentParser(
        prog="rrl experiment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"experiments and their --variants slugs:\n{variants}\n\n"
        "also: rrl experiment robustness RUN... --out DIR "
        "(Fig. 4 centre/right), rrl experiment compute_cost --out DIR (Fig. 4 left), rrl experiment feature_probe "
        "--out DIR (linear probe of what the task randomises); each takes -h",
    )
    ap.add_argument("name", choices=sorted(EXPERIMENTS))
    ap.add_argument("--task", "--tasks", dest="task", default=None,
                    help="comma-separated tasks (default: the experiment's)")  # fmt: skip
    ap.add_argument("--scale", default="cpu", choices=sorted(PRESETS))
    ap.add_argument("--seeds", default="0", help="comma-separated seeds")
    ap.add_argument("--variants", default=None, help="comma-separated variant slugs (default: all)")
    ap.add_argument("--iterations", type=int, default=None, help="override the preset's iterations")
    ap.add_argument("--device", default=None, help="encoder device of every run, e.g. cuda on a GPU box")
    ap.add_argument("--encoder-backend", default=None, help="auto, torch or onnxruntime (default: the preset's)")
    ap.add_argument("--n-envs", type=int, default=None, help="environments of each pixel run's sampler")
    ap.add_argument("--n-groups", type=int, default=None, help="pipelined groups of each pixel run's sampler")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads of each run")
    ap.add_argument("--root", default="runs/experiments")
    ap.add_argument("--results", default="results")
    ap.add_argument("--dry-run", action="store_true", help="print the runs' commands, run nothing")
    ap.add_argument("--export-only", action="store_true", help="train nothing; export the run folders that exist")
    ap.add_argument("--jobs", type=int, default=1,
                    help="train up to N runs at once, each in its own process (log: <run folder>.log), then "
                    "export once; each run has --threads torch threads and --n-envs render workers, and runs "
                    "beyond what the cores hold share them rather than add speed")  # fmt: skip
    ap.add_argument("--no-export", action="store_true", help="train only; leave results/ as it is")
    ap.add_argument("--figure-only", action="store_true",
                    help="combined experiments (main): redraw the figure from the results folders, which stay as "
                    "they are (no run folder needed)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.figure_only:
        from rrl.experiments.main_figure import main_figure

        exp = EXPERIMENTS[args.name]
        if not exp.combined:
            ap.error(f"--figure-only: {args.name} has no combined figure (only: "
                     f"{', '.join(e.name for e in EXPERIMENTS.values() if e.combined)})")  # fmt: skip
        if args.task:
            ap.error("--figure-only draws a panel for every task with results; drop --tasks")
        out = main_figure(exp, args.scale, args.results)
        if out is None:
            print(f"nothing to draw: no results/{args.name}_<task>_{args.scale} folder and no related curve",
                  file=sys.stderr)  # fmt: skip
            return 1
        print(json.dumps({"results": [str(out)]}))
        return 0
    given = dict(
        iterations=args.iterations, device=args.device, encoder_backend=args.encoder_backend, n_envs=args.n_envs,
        n_groups=args.n_groups, threads=args.threads,
    )  # fmt: skip
    extra = {k: v for k, v in given.items() if v is not None}
    if args.jobs < 1:
        ap.error(f"--jobs must be >= 1, got {args.jobs}")
    selection = dict(
        tasks=args.task.split(",") if args.task else None, scale=args.scale,
        seeds=[int(s) for s in args.seeds.split(",")], root=args.root, results_root=args.results,
        variants=args.variants.split(",") if args.variants else None,
    )  # fmt: skip
    failed: list[str] = []
    parallel = args.jobs > 1 and not (args.dry_run or args.export_only)
    if parallel:  # train in child processes, then export (or, with --no-export, list) what they wrote
        failed = _train_in_parallel(args, selection, extra)
    report = run_experiment(
        args.name,
        dry_run=args.dry_run,
        export_only=args.export_only or parallel,
        export=not args.no_export,
        **selection,
        **extra,
    )
    for r in report["runs"]:
        if "samples" in r:  # --dry-run: what each run costs, and what is left of it
            hours = "time not measured" if r["hours"] is None else f"~{r['hours']:.1f} h"
            if r["done"]:
                left = "" if r["hours_left"] is None else f", ~{r['hours_left']:.1f} h left"
                hours += f"; {r['done'] / 1e6:.2f}M done{left}"
            elif r["hours_left"] is not None and r["hours_left"] != r["hours"]:  # the rate of this machine's runs
                hours += f"; ~{r['hours_left']:.1f} h on this machine"
            print(f"{r['command']}  # {r['samples'] / 1e6:.2f}M samples, {hours} ({r['source']})")
        else:
            print(r["command"])
    timed = [r for r in report["runs"] if r.get("hours") is not None]
    if args.dry_run and timed:
        total, left = sum(r["hours"] for r in timed), sum(r["hours_left"] for r in timed)
        fmt = ".1f" if total < 10 else ".0f"  # 1.4 h, not "1 h"
        n, unknown = len(report["runs"]), len(report["runs"]) - len(timed)
        among = f" for the {len(timed)} with a measured rate ({unknown} not measured)" if unknown else " in all"
        print(f"# {n} run{'s' if n > 1 else ''}, about {total:{fmt}} h{among}, {left:{fmt}} h left "
              "(one at a time at the rates above; a run resumes from its folder)")  # fmt: skip
    summary = {k: [(s["variant"], s["task"], s["seed"]) for s in report[k]] for k in ("skipped", "missing")}
    print(json.dumps({"results": report["results"], **summary}))
    if failed:
        print(f"{len(failed)} of {len(report['runs']) + len(report['missing'])} runs failed: {', '.join(failed)} "
              "(their logs say why)", file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


def _train_in_parallel(args: argparse.Namespace, selection: dict[str, Any], extra: dict[str, Any]) -> list[str]:
    """``--jobs N``: every run of the call trained in a child process, N at a time
    (:mod:`rrl.experiments.parallel`); the labels of those that failed."""
    from rrl.config import config_flags
    from rrl.experiments.parallel import grid, run_parallel

    listed = run_experiment(args.name, dry_run=True, **selection)["runs"]
    common = ["--scale", args.scale, "--root", args.root, "--results", args.results, *config_flags(extra)]
    slugs = {v.label: v.slug for v in EXPERIMENTS[args.name].variants}
    status = run_parallel(grid(args.name, listed, slugs, common), args.jobs)
    return sorted(label for label, rc in status.items() if rc != 0)


if __name__ == "__main__":
    sys.exit(main())
