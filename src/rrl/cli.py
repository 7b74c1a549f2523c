"""The ``rrl`` command line. Thin: parse arguments, call the library, print.

Each subcommand is registered by one ``_add_<name>`` function; heavy imports happen inside the handlers so that
``rrl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any


def _add_tasks(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="list the ADROIT tasks with their dimensions")
    p.set_defaults(func=_cmd_tasks)


def _cmd_tasks(args: argparse.Namespace) -> int:
    from rrl.envs import describe_tasks

    print(describe_tasks())
    return 0


def _add_encoders(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encoders", help="list the frozen encoders (plugins too) and whether their weights are here")
    p.set_defaults(func=_cmd_encoders)


def _cmd_encoders(args: argparse.Namespace) -> int:
    from rrl.encoders.registry import describe_encoders

    print(describe_encoders())
    return 0


def _add_render(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render one frame of a task from a camera to a PNG")
    p.add_argument("--task", required=True)
    p.add_argument("--camera", default=None, help="camera name (default: the task's RRL camera)")
    p.add_argument("--out", required=True, help="output PNG path")
    p.add_argument("--size", type=int, default=256, help="render size in pixels (square)")
    p.add_argument("--crop", type=int, default=None, help="center crop size (default: no crop)")
    p.add_argument("--steps", type=int, default=0, help="random-action steps before rendering")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shadows", action="store_true", help="turn shadows and reflections on")
    p.set_defaults(func=_cmd_render)


def _cmd_render(args: argparse.Namespace) -> int:
    from rrl.envs import render_task_frame

    path = render_task_frame(
        task=args.task,
        camera=args.camera,
        out=args.out,
        size=args.size,
        crop=args.crop,
        steps=args.steps,
        seed=args.seed,
        shadows=args.shadows,
    )
    print(f"wrote {path}")
    return 0


def _add_tour(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tour", help="print the task table and render every task's cameras into one PNG")
    p.add_argument("--out", default="tour.png")
    p.add_argument("--size", type=int, default=128)
    p.set_defaults(func=_cmd_tour)


def _cmd_tour(args: argparse.Namespace) -> int:
    from rrl.envs import camera_contact_sheet, describe_tasks

    print(describe_tasks())
    print(f"wrote {camera_contact_sheet(args.out, size=args.size)} (rows: door, hammer, pen, relocate)")
    return 0


def _add_demos(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demos", help="make and inspect demonstration sets (expert rollouts, human door demos)")
    dsub = p.add_subparsers(dest="demos_command", required=True)
    m = dsub.add_parser("make", help="roll out the DAPG expert (or rebuild the human door demos) and save a set")
    m.add_argument("--task", required=True)
    m.add_argument("--source", choices=("expert", "human"), default="expert")
    m.add_argument("--n", type=int, default=25, help="successful episodes to keep (expert)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--action-noise", type=float, default=0.0, help="Gaussian action noise std (expert)")
    from rrl.config import EXPERT_DEMO_ACTIONS

    m.add_argument("--expert-actions", choices=EXPERT_DEMO_ACTIONS, default="mean",
                   help="act with the expert's mean or with draws from its Gaussian (FERM's demonstrations)")
    m.add_argument("--out", default=None, help="output .h5 (default: <cache>/demos/<task>-<source>-n<N>-seed<S>.h5)")
    m.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    m.add_argument("--open-loop", action="store_true", help="human: also replay the recorded actions open loop")
    m.add_argument("--verbose", action="store_true", help="print every expert episode")
    m.set_defaults(func=_cmd_demos, demos_func="cmd_make")
    s = dsub.add_parser("show", help="print counts, lengths and success of a set; write a contact sheet PNG")
    s.add_argument("--task", required=True)
    s.add_argument("--path", default=None, help="demo file (default: the expert set made with --n/--seed)")
    s.add_argument("--source", choices=("expert", "human"), default="expert")
    s.add_argument("--n", type=int, default=25)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--camera", action="append", default=None, help="camera name (repeatable; default: RRL camera)")
    s.add_argument("--out", default=None, help="contact sheet PNG path")
    s.add_argument("--episodes", type=int, default=4)
    s.add_argument("--frames", type=int, default=6, help="frames per episode in the sheet")
    s.add_argument("--size", type=int, default=128, help="render size of the sheet frames")
    s.set_defaults(func=_cmd_demos, demos_func="cmd_show")


def _cmd_demos(args: argparse.Namespace) -> int:
    from rrl.demos import commands

    return getattr(commands, args.demos_func)(args)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a policy: BC, NPG, DAPG (paper Algorithm 1), SAC or FERM (--algo); --resume RUN_DIR continues a "
        "run",
        description="Every TrainConfig field is a flag (defaults: paper appendix 7.1, from state). --preset "
        "paper|cpu|smoke sets the pixel (RRL) settings first; other flags override them. Examples: "
        "rrl train --task door --algo dapg --demos expert --seed 0 --out runs/door_s0; "
        "rrl train --task door --preset cpu --seed 0 --out runs/door_rrl_s0; "
        "rrl train --resume runs/door_s0 --iterations 200",
    )
    p.add_argument("--resume", metavar="RUN_DIR", default=None, help="continue the run in RUN_DIR from its checkpoint")
    p.add_argument(
        "--adopt-demos",
        action="store_true",
        help="with --resume, for a run folder without demos.h5 (older rrl): continue with the demonstrations "
        "loaded now even if their features differ from the checkpoint's (same demos on another device or backend)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    from rrl.config import add_config_arguments

    add_config_arguments(p)
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from rrl.checkpoint import SUMMARY
    from rrl.train import TrainConfig, TrainingDivergedError, config_overrides, resume, train

    overrides = config_overrides(args)
    try:
        if args.resume:
            if "preset" in overrides:
                raise ValueError("--preset applies to new runs only; a resumed run keeps its recorded settings")
            run_dir = resume(args.resume, progress=not args.no_progress, adopt_demos=args.adopt_demos, **overrides)
        else:
            if args.adopt_demos:
                raise ValueError("--adopt-demos applies to --resume only")
            preset, task = overrides.pop("preset", None), overrides.pop("task", "door")
            run_dir = train(TrainConfig.from_preset(preset, task, **overrides), progress=not args.no_progress)
    except (TrainingDivergedError, FileExistsError) as err:
        print(f"rrl train: error: {err}", file=sys.stderr)
        return 3
    print(f"run folder: {run_dir}")
    print((run_dir / SUMMARY).read_text().strip())
    return 0


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="deterministic success of a run's policy, optionally under a visual distractor, and a video",
        description="Examples: rrl eval runs/door --episodes 75; rrl eval runs/door --distractor light_position; "
        "rrl eval runs/door --episodes 0 --video door.mp4; rrl eval runs/door --policy bc (where RL started)",
    )
    p.add_argument("run_dir")
    p.add_argument("--episodes", type=int, default=75, help="evaluation episodes (0: only the video)")
    p.add_argument("--distractor", default=None, help="light_position, light_direction, object_color or random_object")
    p.add_argument("--seed", type=int, default=None, help="evaluation seed (default: the training loop's)")
    p.add_argument("--n-envs", type=int, default=None, help="pixel runs: environments (default: the run's)")
    p.add_argument(
        "--device", default=None, help="encoder device (default: the run's; e.g. cpu for a run trained on a GPU)"
    )
    p.add_argument("--encoder-weights", default=None, metavar="PATH",
                   help="the run's encoder weights at another path (a run moved to another machine or folder; "
                   "checked against the weights hash the run recorded)")  # fmt: skip
    p.add_argument("--video", default=None, metavar="OUT.mp4", help="write one deterministic episode (mp4 or gif)")
    p.add_argument(
        "--policy", choices=("final", "bc"), default="final",
        help="final: the last checkpoint's policy; bc: the one RL started from (after behaviour cloning; the "
        "initial policy without demos), on the same episodes",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-record", action="store_true",
                   help="do not append the result to the run's evaluations.jsonl (exports carry those records)")
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from rrl.evaluate import evaluate_run, write_video

    if args.episodes < 0:
        raise ValueError(f"--episodes must be >= 0 (0: only the video), got {args.episodes}")
    if args.episodes == 0 and not args.video:
        raise ValueError("--episodes 0 evaluates nothing; give --video OUT.mp4 too, or --episodes N")
    out: dict = {"run": args.run_dir, "policy": args.policy, "distractor": args.distractor}
    if args.episodes > 0:
        res = evaluate_run(
            args.run_dir, args.episodes, args.seed, args.distractor, args.n_envs, args.device,
            progress=not args.no_progress, policy=args.policy, encoder_weights=args.encoder_weights,
        )  # fmt: skip
        out.update(episodes=res.episodes, success_rate=res.success_rate, mean_return=res.mean_return,
                   input_shift=res.input_shift, input_max=res.input_max)
        if not args.no_record:
            _record_eval(args, res)
    if args.video:
        out["video"] = write_video(
            args.run_dir, args.video, seed=args.seed or 0, distractor=args.distractor, device=args.device,
            policy=args.policy, encoder_weights=args.encoder_weights,
        )  # fmt: skip
    if args.json:
        print(json.dumps(out))
    else:
        if "success_rate" in out:
            shift = "" if math.isnan(out["input_shift"]) else (
                f"; normalised policy input |z|: mean {out['input_shift']:.2f}, max {out['input_max']:.1f}")
            which = " (its BC policy)" if args.policy == "bc" else ""
            print(f"{args.run_dir}{which}: success {100 * out['success_rate']:.1f}% over {out['episodes']} episodes "
                  f"(mean return {out['mean_return']:.1f}, distractor {args.distractor or 'none'}{shift})")
        if "video" in out:
            print(f"wrote {out['video']['path']} ({out['video']['steps']} steps, success {out['video']['success']})")
    return 0


def _record_eval(args: argparse.Namespace, res: Any) -> None:
    """The result into the run's evaluations.jsonl, under the command that reproduces it (a warning where the
    run folder cannot take it: the evaluation itself stands)."""
    import shlex

    from rrl.evaluate import record_evaluation

    flags = ["--episodes", str(args.episodes), "--policy", args.policy]
    for key in ("seed", "distractor", "n_envs", "device", "encoder_weights"):
        if getattr(args, key) is not None:
            flags += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
    command = shlex.join(["rrl", "eval", args.run_dir, *flags])
    try:
        record_evaluation(args.run_dir, command, args.policy, args.distractor, args.seed, res)
    except (OSError, ValueError) as err:
        print(f"warning: the result is not recorded in {args.run_dir}: {err}", file=sys.stderr)


def _add_results(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "results",
        help="copy run logs into results/NAME (CSV per run, curve.png, meta.json with commands and commits)",
        description="Example: rrl results dapg_state_door --group 'DAPG (state)=runs/state/dapg_door_s0,"
        "runs/state/dapg_door_s1' --group 'BC=runs/state/bc_door' --title 'Door from state'",
    )
    p.add_argument("name")
    p.add_argument("--group", action="append", required=True, metavar="LABEL=RUN[,RUN...]",
                   help="RUN: a run folder, or a results/OTHER/<run>.csv exported earlier (its folder may be gone)")
    p.add_argument("--title", default="")
    p.add_argument("--note", default="", help="a sentence printed above the table in docs/results.md")
    p.add_argument("--root", default="results")
    p.add_argument("--keep-previous", action="store_true",
                   help="keep runs of an earlier export of NAME that are not given again (their folders may be gone)")
    p.add_argument("--published", metavar="TASK", choices=("door", "hammer", "pen", "relocate"),
                   help="draw the curve RRL's authors published for TASK (mean and min-max over 3 seeds; read from "
                   "../shared/rrl_released_logs or $RRL_RELEASED_LOGS_DIR)")
    p.set_defaults(func=_cmd_results)


def _cmd_results(args: argparse.Namespace) -> int:
    from rrl.results import export_results

    groups = {}
    for spec in args.group:
        label, sep, runs = spec.partition("=")
        if not sep or not runs:
            raise ValueError(f"--group wants LABEL=RUN[,RUN...], got {spec!r}")
        groups[label] = [r for r in runs.split(",") if r]
    out = export_results(
        args.name, groups, args.root, args.title, args.note, keep_previous=args.keep_previous, published=args.published
    )
    print(f"wrote {out}")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="rebuild results folders declared in rrl.experiments.exports (`rrl results` from the catalog)",
        description="Example: rrl export all && rrl report. Runs not here are left out (runs exported earlier stay, "
        "also where the folder here is a shorter copy); an export none of whose runs is here is skipped with a note.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="exports of the catalog, or all (see --list)")
    p.add_argument("--runs", default="runs", help="folder the catalog's run folders are relative to")
    p.add_argument("--root", default="results", help="results folder (exported CSVs are read from it too)")
    p.add_argument("--list", action="store_true", help="print the catalog's exports and their titles")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from rrl.experiments.exports import EXPORTS, export_catalog

    if args.list:
        for entry in EXPORTS:
            print(f"{entry.name}: {entry.title}")
        return 0
    if not args.names:
        raise ValueError("name an export of the catalog, or all (rrl export --list shows them)")
    for out in export_catalog(args.names, args.runs, args.root).values():
        if out is not None:
            print(f"wrote {out}")
    return 0


def _add_experiment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "experiment",
        help="run a paper comparison/ablation (main, representations, proprioception, rewards, policy_size, "
        "relocate_cameras) at --scale smoke|cpu|paper; also `rrl experiment robustness RUN...` (Fig. 4 "
        "distractors), `rrl experiment compute_cost --out DIR` (Fig. 4 left) and `rrl experiment feature_probe "
        "--out DIR` (linear probe of the hidden task state); `rrl experiment -h` for details",
        add_help=False,
    )
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_experiment)


def _cmd_experiment(args: argparse.Namespace) -> int:
    import importlib

    standalone = {
        "robustness": "rrl.experiments.robustness",
        "compute_cost": "rrl.experiments.compute_cost",
        "feature_probe": "rrl.experiments.feature_probe",
    }
    if args.args and args.args[0] in standalone:  # rrl experiment robustness RUN... / compute_cost --out ...
        return importlib.import_module(standalone[args.args[0]]).main(args.args[1:])
    from rrl.experiments.ablations import main as experiment_main

    return experiment_main(args.args)


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="collect results/*/meta.json into docs/results.md (paper figures first)")
    p.add_argument("--root", default="results")
    p.add_argument("--out", default="docs/results.md")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from rrl.report import write_report

    print(f"wrote {write_report(args.root, args.out)}")
    return 0


def _add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="Grad-CAM + guided backprop of a frozen encoder's top-1 ImageNet class on task frames (paper Fig. 1)",
    )
    p.add_argument("--task", required=True)
    p.add_argument("--encoder", default="resnet34", help="encoder with an ImageNet head (e.g. efficientnet_lite0)")
    p.add_argument("--encoder-weights", default=None, metavar="PATH", help="explicit checkpoint for the encoder")
    p.add_argument("--out", required=True, help="output PNG path")
    p.add_argument("--camera", default=None, help="camera name (default: the task's first RRL camera)")
    p.add_argument("--frames", type=int, default=4, help="number of frames (columns)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=224, help="center crop fed to the encoder")
    p.set_defaults(func=_cmd_explain)


def _cmd_explain(args: argparse.Namespace) -> int:
    from rrl.encoders import make_encoder
    from rrl.encoders.preprocessing import resize_size
    from rrl.explain import explain, explanation_figure, task_frames

    if args.frames < 1:
        raise ValueError(f"--frames must be >= 1, got {args.frames}")
    # The encoder first: missing weights fail before any environment starts.
    enc = make_encoder(args.encoder, backend="torch", image_size=args.image_size, weights=args.encoder_weights)
    render = resize_size(args.image_size)
    frames = task_frames(args.task, args.frames, args.camera, args.seed, render_size=render, crop_size=args.image_size)
    expl = explain(enc, frames)
    title = f"{args.task}: {args.encoder} (Grad-CAM on {enc.model.backbone.target_layer})"
    path = explanation_figure(expl, args.out, title=title)
    for i, (label, prob) in enumerate(zip(expl.labels, expl.probs)):
        print(f"frame {i}: top-1 {label} (p={prob:.3f})")
    print(f"wrote {path}")
    return 0


def _add_vae(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vae", help="RRL(VAE) baseline (appendix 7.4): collect frames, train a VAE, save its encoder")
    vsub = p.add_subparsers(dest="vae_command", required=True)
    t = vsub.add_parser(
        "train",
        help="collect 64x64 frames (25%% expert, +small noise, +large noise, random), train, save checkpoint + grid",
        description="Example: rrl vae train --task door --frames 20000 --epochs 5 --out vae_door.pt; then "
        "make_encoder('vae', weights='vae_door.pt', image_size=64).",
    )
    t.add_argument("--task", default=None, help="task whose RRL camera gives the frames")
    t.add_argument("--tasks", default=None, help="comma-separated tasks (frames split equally), e.g. door,hammer")
    t.add_argument("--frames", type=int, default=20_000, help="total frames (paper: 1000000)")
    t.add_argument("--epochs", type=int, default=10, help="training epochs (paper: 10)")
    t.add_argument("--latent", type=int, default=512, help="latent size (paper: 512)")
    t.add_argument("--size", type=int, default=64, help="frame size in pixels (paper: 64)")
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    t.add_argument("--beta", type=float, default=1.0, help="KL weight (1: the ELBO)")
    t.add_argument("--recon-loss", choices=("bernoulli", "mse"), default="bernoulli")
    t.add_argument("--small-noise", type=float, default=0.1, help="action noise std of the 'small noise' quarter")
    t.add_argument("--large-noise", type=float, default=0.5, help="action noise std of the 'large noise' quarter")
    t.add_argument("--camera", default=None, help="camera name (default: the task's RRL camera)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="checkpoint path (default: <cache>/vae/<tasks>-...pt)")
    t.add_argument("--grid", default=None, help="reconstruction grid PNG (default: checkpoint path with .png)")
    t.add_argument("--grid-columns", type=int, default=8, help="frames per task in the grid")
    t.add_argument("--frames-file", default=None, help=".npz of frames: loaded if it exists, else collected + saved")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(func=_cmd_vae)


def _cmd_vae(args: argparse.Namespace) -> int:
    from rrl.vae import cmd_train

    return cmd_train(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rrl", description="RRL: ResNet features + DAPG on ADROIT")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_tasks, _add_encoders, _add_render, _add_tour, _add_demos, _add_train, _add_eval, _add_results,
        _add_export, _add_experiment, _add_report, _add_explain, _add_vae,
    ):
        add(sub)
    # [subcommands registered by other modules go above this line, one `_add_*` per command group]
    return parser


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM (``kill``, a cluster scheduler's stop) raises KeyboardInterrupt, as Ctrl-C does, so
    a run stops the way Ctrl-C stops it: its workers end, its folder keeps the last checkpoint. Only in the main
    thread (elsewhere Python cannot install handlers; the block then changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command == "experiment":  # `rrl experiment -h` / `--dry-run NAME`: options argparse
        args.args = unknown + args.args          # would not hand to the REMAINDER positional
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        with _sigterm_as_interrupt():
            return int(args.func(args) or 0)
    except KeyboardInterrupt:  # a training run said where it stopped and how to continue
        print(f"rrl {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"rrl {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a read-only folder, a full disk, a path that is a file: what the system said
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"rrl {args.command}: error: {err.strerror or err}{where}; free space or fix the permissions and "
              "run again (a training run continues from its last checkpoint with --resume)",
              file=sys.stderr)  # fmt: skip
        return 2


if __name__ == "__main__":
    sys.exit(main())
