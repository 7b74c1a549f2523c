"""Reconstruction grid (paper Fig. 10): original frames beside their reconstructions, per task and source."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rrl.vae.config import SOURCES
from rrl.vae.data import FrameDataset
from rrl.vae.model import ConvVAE, to_unit_nchw


def pick_grid_frames(dataset: FrameDataset, index: np.ndarray, per_task: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Per task, ``per_task`` indices (from ``index``) spread over the four sources."""
    rng = np.random.default_rng(seed)
    picks = []
    for t in range(len(dataset.tasks)):
        chosen: list[int] = []
        pools = [index[(dataset.task[index] == t) & (dataset.source[index] == s)] for s in range(len(SOURCES))]
        for k in range(per_task):
            pool = [i for i in pools[k % len(SOURCES)] if i not in chosen]
            if not pool:
                pool = [i for i in index[dataset.task[index] == t] if i not in chosen]
            if pool:
                chosen.append(int(rng.choice(pool)))
        picks.append(np.asarray(chosen, dtype=np.int64))
    return picks


def reconstruction_grid(
    model: ConvVAE,
    dataset: FrameDataset,
    index: np.ndarray | None = None,
    out: str | os.PathLike = "vae_reconstructions.png",
    per_task: int = 8,
    scale: int = 2,
    seed: int = 0,
) -> Path:
    """PNG like paper Fig. 10: for each task a row of original frames and a row of their reconstructions
    (decoded from z = mu), columns cycling through the four sources. ``index``: frames to pick from (e.g. the
    held-out ones); default all."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = np.arange(len(dataset)) if index is None or len(index) == 0 else np.asarray(index)
    picks = pick_grid_frames(dataset, index, per_task, seed)
    rows, labels = [], []
    for task, idx in zip(dataset.tasks, picks):
        orig = dataset.frames[idx]
        rec = model.reconstruct(to_unit_nchw(orig)).permute(0, 2, 3, 1).mul(255).round().byte().numpy()
        rows += [orig, rec]
        labels += [f"{task}\noriginal", f"{task}\nreconstruction"]
    ncols = max(len(r) for r in rows)
    size = dataset.frames.shape[1] * scale
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * size / 80 + 1.2, len(rows) * size / 80 + 0.5), dpi=100)
    axes = np.atleast_2d(axes)
    for r, (row, label) in enumerate(zip(rows, labels)):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(row):
                ax.imshow(row[c], interpolation="nearest")
            else:
                ax.axis("off")
            if r == 0 and c < len(picks[0]):
                ax.set_title(SOURCES[int(dataset.source[picks[0][c]])].replace("expert_", "+").replace("_", " "),
                             fontsize=6)  # fmt: skip
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.tight_layout(pad=0.3)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
