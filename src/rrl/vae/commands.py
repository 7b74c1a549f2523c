"""Handler of ``rrl vae train`` (the parser lives in :mod:`rrl.cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rrl.vae.config import VAEConfig, VAETrainConfig
from rrl.vae.data import FrameDataset, collect_frames
from rrl.vae.grid import reconstruction_grid
from rrl.vae.training import train_vae

_FRAMES_KEYS = ("seed", "small_noise", "large_noise", "camera")


def cmd_train(args: Any) -> int:
    """``rrl vae train``: collect frames (or load ``--frames-file``), train, save checkpoint + grid, print losses."""
    tasks = tuple(t.strip() for t in (args.tasks or args.task or "").split(",") if t.strip())
    if not tasks:
        raise ValueError("give --task TASK or --tasks TASK1,TASK2")
    vae = VAEConfig(latent_dim=args.latent, image_size=args.size, recon_loss=args.recon_loss)
    cfg = VAETrainConfig(
        tasks=tasks,
        frames=args.frames,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        beta=args.beta,
        small_noise=args.small_noise,
        large_noise=args.large_noise,
        seed=args.seed,
        camera=args.camera,
        vae=vae,
    )
    progress = not args.no_progress
    dataset = None
    if args.frames_file and Path(args.frames_file).is_file():
        dataset = FrameDataset.load(args.frames_file)
        want = (tasks, args.frames, args.size, args.seed, args.small_noise, args.large_noise, args.camera)
        m = dataset.metadata
        have = (dataset.tasks, len(dataset), dataset.frames.shape[1], *(m.get(k) for k in _FRAMES_KEYS))
        if want != have:
            raise ValueError(
                f"{args.frames_file} holds (tasks, frames, size, seed, small_noise, large_noise, camera) = {have}, "
                f"this run asks for {want}; "
                "pass another --frames-file or delete it"
            )
        print(f"loaded {len(dataset)} frames from {args.frames_file}")
    elif args.frames_file:
        dataset = collect_frames(
            tasks, args.frames, args.size, args.seed, args.small_noise, args.large_noise, args.camera, progress
        )
        print(f"saved {len(dataset)} frames to {dataset.save(args.frames_file)}")
    result = train_vae(cfg, out=args.out, dataset=dataset, progress=progress)
    grid = Path(args.grid) if args.grid else result.checkpoint.with_suffix(".png")
    reconstruction_grid(result.model, result.dataset, result.val_index, grid, per_task=args.grid_columns,
                        seed=args.seed)  # fmt: skip
    print(f"frames per task and source: {json.dumps(result.dataset.counts())}")
    print(f"episodes: {json.dumps(result.dataset.metadata.get('episodes'))}")
    collect = result.dataset.metadata.get("collect_seconds", round(result.collect_seconds, 2))
    print(f"collect: {collect:.1f} s, train: {result.train_seconds:.1f} s")
    for row in result.history:
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    print(f"wrote {result.checkpoint}")
    print(f"wrote {grid}")
    return 0
