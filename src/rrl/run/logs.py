"""A run folder's log: ``log.csv`` (one row per iteration), TensorBoard events and ``curve.png``."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from rrl.paths import atomic_write

LOG_COLUMNS = (
    "iteration", "samples", "success_train", "success_eval", "return_train", "return_eval",
    "kl", "step_size", "step_backtracks", "demo_weight", "grad_norm", "log_std_mean",
    "vf_error_before", "vf_error_after",
    "t_sample", "t_eval", "t_advantages", "t_gradient", "t_cg", "t_step", "t_vf", "t_iteration",
    "wall_time", "rss_peak_mb",
    "critic_loss", "alpha", "entropy", "saturated", "updates", "t_update",  # --algo sac, ferm
    "q_target", "adv_std", "weights_ess",  # --algo sac, ferm: the critic's target; --sac-actor awac: its weights
)  # fmt: skip


class RunLogger:
    """CSV log, TensorBoard events and the PNG curve of a run folder."""

    def __init__(self, run_dir: Path, start_iteration: int, title: str) -> None:
        self.run_dir, self.title = run_dir, title
        self.csv_path = run_dir / "log.csv"
        self._truncate_csv(start_iteration)
        from torch.utils.tensorboard import SummaryWriter

        self.tb = SummaryWriter(
            log_dir=str(run_dir / "tb"), purge_step=start_iteration if start_iteration > 0 else None
        )

    def _truncate_csv(self, start_iteration: int) -> None:
        """Keep header and rows of iterations before ``start_iteration`` (a resumed run rewrites the rest)."""
        rows = read_log(self.csv_path) if self.csv_path.exists() else []
        rows = [r for r in rows if int(r["iteration"]) < start_iteration]

        def write(f: Any) -> None:
            writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
            writer.writeheader()
            writer.writerows({c: r.get(c, "") for c in LOG_COLUMNS} for r in rows)

        atomic_write(self.csv_path, write)  # a kill mid-rewrite keeps the old log, not half of it

    def log(self, row: dict[str, float]) -> None:
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=LOG_COLUMNS).writerow({c: _fmt(row.get(c, math.nan)) for c in LOG_COLUMNS})
        k = int(row["iteration"])
        for key in LOG_COLUMNS[1:]:
            value = row.get(key, math.nan)
            if isinstance(value, (int, float)) and math.isfinite(value):
                group = (
                    "time" if key.startswith("t_") else "rollout" if ("success" in key or "return" in key) else "train"
                )
                self.tb.add_scalar(f"{group}/{key}", value, k)
        self.tb.flush()
        plot_curves(self.csv_path, self.run_dir / "curve.png", self.title)

    def close(self) -> None:
        self.tb.close()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def read_log(path: str | Path) -> list[dict[str, str]]:
    """Rows of a run's ``log.csv`` as dicts of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plot_curves(csv_path: str | Path, png_path: str | Path, title: str = "") -> None:
    """Success rate (training rollouts and deterministic evaluation) and return against samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(csv_path)
    if not rows:
        return

    def col(name: str) -> np.ndarray:
        return np.array([float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows])

    samples = col("samples")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(samples, 100 * col("success_train"), label="training rollouts (stochastic)")
    ev = col("success_eval")
    ok = np.isfinite(ev)
    ax1.plot(samples[ok], 100 * ev[ok], label="evaluation (deterministic)")
    ax1.set(xlabel="samples", ylabel="success rate (%)", ylim=(-3, 103), title=title)
    ax1.legend(loc="lower right", fontsize=8)
    ax2.plot(samples, col("return_train"), label="training rollouts")
    ax2.plot(samples[ok], col("return_eval")[ok], label="evaluation")
    ax2.set(xlabel="samples", ylabel="return per episode")
    ax2.legend(loc="lower right", fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(png_path, lambda f: fig.savefig(f, format="png", dpi=100), binary=True)
    plt.close(fig)
