"""The learning curves the RRL authors published, as a reference for ours.

RRL's public repository ships the per-iteration logs of its ResNet-34 runs (3 seeds per task, DAPG, 200
trajectories per iteration, the reward of its own mj_envs fork: ``--reward rrl_code`` here). rrl reads them from
:func:`rrl.paths.released_logs_dir` and never copies them.

>>> rows = load_published("door")                 # tidy: one row per (seed, iteration)
>>> band = published_band("door")                 # samples, mean, min, max of the success rate over seeds

``success`` is the fraction of that iteration's *stochastic training rollouts* that succeeded (the logs'
``success_rate`` / 100), ``samples`` the environment steps up to and including that iteration (the running sum
of ``num_samples``), the same convention as ``success_train`` and ``samples`` in rrl's ``log.csv``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rrl.paths import released_logs_dir
from rrl.tasks import get_task

#: How figures label the published curve.
PUBLISHED_LABEL = "RRL, published (ResNet-34, 3 seeds)"
_MAX_LOG_BYTES = 10_000_000  # the released logs are about 100 kB each


@dataclass(frozen=True)
class PublishedBand:
    """Success of the published runs of one task over seeds, at the iterations every seed has."""

    task: str
    seeds: tuple[int, ...]
    samples: np.ndarray  # (n,) mean over seeds of the samples up to each iteration
    mean: np.ndarray  # (n,) success fraction
    min: np.ndarray
    max: np.ndarray

    def at(self, samples: float) -> float | None:
        """Mean success at the last iteration with at most ``samples`` samples (None before the first)."""
        i = int(np.searchsorted(self.samples, samples, side="right")) - 1
        return None if i < 0 else float(self.mean[i])

    def first_at_least(self, level: float) -> float | None:
        """Samples of the first iteration whose mean success is at least ``level`` (None if none is)."""
        hits = np.flatnonzero(self.mean >= level)
        return float(self.samples[hits[0]]) if len(hits) else None


def _float(value: str, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a number; the released log is damaged") from None


def _run_dirs(task: str, root: Path) -> list[Path]:
    folder = root / "RRL" / f"{task}-v0"
    runs = sorted(p for p in folder.glob("*") if (p / "logs" / "log.csv").is_file())
    if not runs:
        raise FileNotFoundError(f"no released RRL logs for task {task!r} under {folder}")
    return runs


def load_published(task: str | None = None, root: str | Path | None = None) -> list[dict[str, float | int | str]]:
    """The released logs as a tidy table: one dict per (task, seed, iteration) with ``task``, ``seed``,
    ``iteration``, ``samples``, ``success`` (fraction), ``return_train`` (mean return of the stochastic
    rollouts, under the RRL-code reward), ``return_eval`` (the logs' ``eval_score``, may be NaN).

    ``task=None`` reads all four tasks. ``root``: the folder of the logs (default :func:`released_logs_dir`).
    """
    root = Path(root) if root is not None else released_logs_dir()
    tasks = [get_task(task).name] if task is not None else ["door", "hammer", "pen", "relocate"]
    rows: list[dict[str, float | int | str]] = []
    for name in tasks:
        for run in _run_dirs(name, root):
            log = run / "logs" / "log.csv"
            if log.stat().st_size > _MAX_LOG_BYTES:
                raise ValueError(f"{log} is {log.stat().st_size:,} bytes; a released log is about 100 kB")
            config_path = run / "job_config.json"
            seed = run.name.rsplit("seed", 1)[-1]
            if config_path.is_file() and config_path.stat().st_size < _MAX_LOG_BYTES:
                seed = json.loads(config_path.read_text()).get("seed", seed)
            if not str(seed).isdigit():
                raise ValueError(f"{run}: no integer seed in job_config.json or the folder name; is it a released log?")
            with open(log, newline="") as f:
                reader = csv.DictReader(f)
                missing = {"iteration", "num_samples", "success_rate", "stoc_pol_mean"} - set(reader.fieldnames or ())
                if missing:
                    raise ValueError(f"{log} lacks the columns {sorted(missing)}; is it a released RRL log?")
                samples = 0
                for line, r in enumerate(reader, start=2):
                    where = f"{log}:{line}"
                    samples += int(_float(r["num_samples"], where))
                    ev = r.get("eval_score")
                    rows.append({
                        "task": name,
                        "seed": int(seed),
                        "iteration": int(_float(r["iteration"], where)),
                        "samples": samples,
                        "success": _float(r["success_rate"], where) / 100.0,
                        "return_train": _float(r["stoc_pol_mean"], where),
                        "return_eval": _float(ev, where) if ev not in (None, "") else math.nan,
                    })  # fmt: skip
    return rows


def published_band(task: str, root: str | Path | None = None) -> PublishedBand:
    """Mean and min-max of the published ``success`` over seeds against samples (the iterations all seeds have)."""
    rows = load_published(task, root)
    by_seed: dict[int, list[dict]] = {}
    for r in rows:
        by_seed.setdefault(int(r["seed"]), []).append(r)
    n = min(len(v) for v in by_seed.values())
    succ = np.array([[float(r["success"]) for r in v[:n]] for v in by_seed.values()])
    samples = np.array([[float(r["samples"]) for r in v[:n]] for v in by_seed.values()]).mean(axis=0)
    return PublishedBand(
        get_task(task).name, tuple(by_seed), samples, succ.mean(axis=0), succ.min(axis=0), succ.max(axis=0)
    )


def find_published_band(task: str, root: str | Path | None = None) -> PublishedBand | None:
    """:func:`published_band`, or None where the released logs are absent."""
    try:
        return published_band(task, root)
    except FileNotFoundError:
        return None


def draw_band(ax, band: PublishedBand, max_samples: float | None = None, scale: float = 100.0) -> None:
    """Draw ``band`` on a matplotlib axis of success (in %, ``scale``) against samples, up to ``max_samples``
    (default: all)."""
    keep = band.samples <= max_samples if max_samples is not None else np.ones(len(band.samples), bool)
    ax.fill_between(band.samples[keep], scale * band.min[keep], scale * band.max[keep], color="0.5", alpha=0.25, lw=0)
    ax.plot(band.samples[keep], scale * band.mean[keep], color="0.35", lw=1.5, ls="--", label=PUBLISHED_LABEL)


def draw_published(ax, task: str, root: str | Path | None = None, max_samples: float | None = None,
                   scale: float = 100.0) -> bool:  # fmt: skip
    """Draw the published band of ``task`` (:func:`draw_band`). Returns False (and draws nothing) where the logs
    are absent."""
    band = find_published_band(task, root)
    if band is None:
        return False
    draw_band(ax, band, max_samples, scale)
    return True


#: Sample counts at which :func:`compare_at_samples` sets our curves beside the published ones.
COMPARE_AT = (400_000, 1_000_000, 2_000_000, 4_000_000)


def compare_at_samples(
    task: str, groups: dict[str, list[list[dict[str, str]]]], at: tuple[int, ...] = COMPARE_AT,
    root: str | Path | None = None,
) -> list[dict[str, object]]:  # fmt: skip
    """Training success of each group (label -> the ``log.csv`` rows of its runs) beside the published mean, at
    the last iteration with at most ``samples`` samples; only where every run of the group got that far.
    One row per (group, samples): ``ours`` (mean over the group's runs), ``ours_min``, ``ours_max``,
    ``published`` (mean over its seeds), ``difference`` (ours - published, fractions)."""
    band = published_band(task, root)
    rows: list[dict[str, object]] = []
    for label, runs in groups.items():
        for samples in at:
            values = []
            for log in runs:
                done = [r for r in log if r.get("samples") not in (None, "") and int(float(r["samples"])) <= samples]
                if not done or int(float(log[-1]["samples"])) < samples:
                    break
                values.append(float(done[-1]["success_train"]))
            else:
                published = band.at(samples)
                if values and published is not None:
                    mean = float(np.mean(values))
                    rows.append({"group": label, "samples": samples, "runs": len(values), "ours": mean,
                                 "ours_min": min(values), "ours_max": max(values), "published": published,
                                 "difference": mean - published})  # fmt: skip
    return rows


def comparison_markdown(rows: list[dict[str, object]]) -> str:
    """:func:`compare_at_samples` as a markdown table (percent)."""
    lines = ["| group | samples | runs | training success here (min-max) | RRL published | difference |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['group']} | {int(r['samples']) / 1e6:.1f}M | {r['runs']} | {100 * r['ours']:.1f}% "
            f"({100 * r['ours_min']:.1f}-{100 * r['ours_max']:.1f}) | {100 * r['published']:.1f}% | "
            f"{100 * r['difference']:+.1f} points |"
        )
    return "\n".join(lines)
