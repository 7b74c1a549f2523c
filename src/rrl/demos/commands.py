"""Handlers of the ``rrl demos`` subcommands (the parser lives in :mod:`rrl.cli`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _resolve_path(args: argparse.Namespace) -> Path:
    from rrl.demos.rollout import default_demo_path

    if getattr(args, "path", None):
        return Path(args.path)
    return default_demo_path(args.task, args.source, args.n, args.seed, getattr(args, "action_noise", 0.0),
                             getattr(args, "expert_actions", "mean"))  # fmt: skip


def cmd_make(args: argparse.Namespace) -> int:
    """``rrl demos make``: build a demo set and save it (never clobbers an existing file unless --overwrite)."""
    from rrl.demos import human_door_demos, make_expert_demos, open_loop_replay, save_demos

    if args.source == "human" and args.task != "door":
        raise ValueError(f"human demonstrations are available for door only, not {args.task!r}")
    out = Path(args.out) if args.out else _resolve_path(args)
    if out.exists() and not args.overwrite:
        print(f"rrl demos make: error: {out} already exists; pass --overwrite or --out elsewhere", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if args.source == "expert":
        say = (lambda msg: print(msg, flush=True)) if args.verbose else None
        try:
            demos = make_expert_demos(args.task, n=args.n, seed=args.seed, action_noise=args.action_noise,
                                      actions=args.expert_actions, progress=say)  # fmt: skip
        except RuntimeError as err:  # too few successful episodes
            print(f"rrl demos make: error: {err}", file=sys.stderr)
            return 2
    else:
        demos = human_door_demos()
        for i, info in enumerate(demos.episode_info):
            print(
                f"demo {i:2d}: {len(demos.trajectories[i]['actions'])} steps, max |rebuilt obs - recorded obs| "
                f"{info['max_reconstruction_error']:.4f}, goal steps {info['success_steps']}"
            )
        if args.open_loop:
            res = open_loop_replay()
            for i, r in enumerate(res):
                print(f"open-loop replay {i:2d}: goal on {r['success_steps']} steps, max hinge {r['max_hinge']:.3f}")
            print(
                f"open-loop replay: {sum(r['success'] for r in res)}/{len(res)} succeed (goal on > 25 steps), "
                f"{sum(r['success_steps'] > 0 for r in res)}/{len(res)} reach the goal at least once"
            )
    elapsed = time.perf_counter() - start
    path = save_demos(demos, out, overwrite=args.overwrite)
    print(demos.summary())
    if args.source == "expert":
        md = demos.metadata
        print(f"expert episodes tried {md['attempts']}, kept {len(demos)} ({len(demos) / md['attempts']:.0%})")
    print(f"made in {elapsed:.1f} s; wrote {path}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """``rrl demos show``: print the set's counts, lengths and success; optionally write a contact sheet."""
    from rrl.demos import contact_sheet, load_demos
    from rrl.envs import EnvConfig

    demos = load_demos(_resolve_path(args), task=args.task)
    print(demos.summary())
    if demos.metadata.get("source") == "human":
        errs = [i.get("max_reconstruction_error", float("nan")) for i in demos.episode_info]
        print(f"max |rebuilt obs - recorded obs| per demo: {', '.join(f'{e:.4f}' for e in errs)}")
    if args.out:
        cfg = EnvConfig(
            task=args.task,
            obs_mode="rgb",
            cameras=tuple(args.camera) if args.camera else None,
            render_size=args.size,
            crop_size=None,
        )
        path = contact_sheet(demos, cfg, args.out, episodes=args.episodes, frames_per_episode=args.frames)
        cams = ", ".join(cfg.camera_names)
        print(f"contact sheet ({min(args.episodes, len(demos))} episodes x cameras {cams}): {path}")
    return 0
