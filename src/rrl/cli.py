"""The ``rrl`` command line. Thin: parse arguments, call the library, print.

Each subcommand is registered by one ``_add_<name>`` function; heavy imports happen inside the handlers so that
``rrl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _add_tasks(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="list the ADROIT tasks with their dimensions")
    p.set_defaults(func=_cmd_tasks)


def _cmd_tasks(args: argparse.Namespace) -> int:
    from rrl.tasks import describe_tasks

    print(describe_tasks())
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
    from rrl.envs import camera_contact_sheet
    from rrl.tasks import describe_tasks

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rrl", description="RRL: ResNet features + DAPG on ADROIT")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_tasks, _add_render, _add_tour, _add_demos):
        add(sub)
    # [subcommands registered by other modules go above this line, one `_add_*` per command group]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"rrl {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
