"""The paper's Fig. 3 from ``rrl experiment main``: a panel per task (training success against samples, a line per
method with its band over seeds, the curve RRL's authors published), a table of success at fixed sample counts,
and the time each run would take (``--dry-run``).

The per-task results folders (``results/main_<task>_<scale>/``, written by :func:`rrl.results.export_results`)
are the data; this module only reads them, so ``rrl experiment main --export-only`` rebuilds the figure from runs
stopped anywhere, and ``--figure-only`` from the results folders alone.
"""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rrl.config import TrainConfig
from rrl.experiments.definitions import Experiment, rrl_main
from rrl.published import PUBLISHED_LABEL, PublishedBand, draw_band, find_published_band
from rrl.result_folder import result_name

TABLE_AT = (100_000, 200_000, 400_000, 1_000_000, 2_000_000)

#: Seconds per environment sample of one run, by (scale, kind), with where the number comes from. ``None``: not
#: measured. ``cpu``: this 2-core machine with 2-4 runs at once; ``paper``: a 16-core GPU box (docs/benchmarks.md).
SECONDS_PER_SAMPLE: dict[tuple[str, str], tuple[float | None, str]] = {
    ("cpu", "pixels"): (84 / 8000, "docs/benchmarks.md: cpu preset, 84 s per 8,000-sample iteration on 2 cores"),
    ("cpu", "ferm"): (1 / 16.3, "docs/benchmarks.md: bench/ferm.py, cpu preset, 16.3 samples/s on one core"),
    ("cpu", "state"): (1.2e-3, "results/rrl_code_door: DAPG from state, 1.1-1.6 ms per sample on one worker"),
    ("paper", "pixels"): (26 / 40_000, "docs/benchmarks.md 'GPU box': one H200, paper preset on door, 26 s per "
                                       "40,000-sample iteration with evaluation and update"),
    ("paper", "ferm"): (None, "FERM's paper preset is not measured on a GPU box"),
    ("paper", "state"): (1.2e-3, "this 2-core machine's state rate (one worker); a 16-core box is faster"),
}


#: Encoding cost per frame at the ``cpu`` preset's 128-px crop (docs/benchmarks.md, "Encoders": onnxruntime, batch
#: 32, 2 threads; random and ImageNet weights cost the same): what a ``cpu``-scale pixel run with another encoder
#: adds to (or saves from) the preset's rate, which EfficientNet-Lite0's runs measured.
ENCODE_MS_128: dict[str, float] = {"efficientnet_lite0": 1.6, "resnet18": 5.8, "resnet34": 10.8, "resnet50": 12.7}


def _encoder_rate(cfg: TrainConfig, seconds: float, source: str) -> tuple[float, str]:
    """The ``cpu`` pixel rate for ``cfg``'s encoder: the preset's, plus the difference in encoding cost per frame
    (:data:`ENCODE_MS_128`) where the encoder is another one with a measurement."""
    base = cfg.encoder.removeprefix("random:")
    if base == "efficientnet_lite0" or base not in ENCODE_MS_128:
        return seconds, source + ("" if base == "efficientnet_lite0" else f"; {cfg.encoder}'s encoding not measured")
    extra = (ENCODE_MS_128[base] - ENCODE_MS_128["efficientnet_lite0"]) / 1000
    return seconds + extra, f"{source}; {extra * 1000:+.1f} ms per frame for {base}'s encoder (its 128-px bench)"


def run_kind(cfg: TrainConfig) -> str:
    """``state``, ``ferm`` or ``pixels`` (DAPG/NPG/BC on frozen features)."""
    return "state" if not cfg.is_pixel else "ferm" if cfg.algo == "ferm" else "pixels"


def planned_samples(cfg: TrainConfig) -> int:
    """Environment samples of the whole run (training rollouts; evaluation not counted)."""
    return cfg.iterations * cfg.trajectories * cfg.effective_horizon


def estimate(cfg: TrainConfig, scale: str) -> dict[str, Any]:
    """The run's samples, those its run folder already holds (``done``: the last ``log.csv`` row, 0 without one),
    its estimated hours at ``scale`` and the hours left (``None`` where the rate is not measured)."""
    from rrl.run.logs import read_log

    seconds, source = SECONDS_PER_SAMPLE.get((scale, run_kind(cfg)), (None, "no measurement at this scale"))
    if seconds is not None and scale == "cpu" and run_kind(cfg) == "pixels":
        seconds, source = _encoder_rate(cfg, seconds, source)
    cams = len(cfg.cameras) if cfg.cameras and cfg.is_pixel else 1  # every camera is rendered (and encoded)
    samples = planned_samples(cfg)
    log = Path(cfg.out) / "log.csv" if cfg.out else None
    rows = read_log(log) if log is not None and log.is_file() else []
    try:
        done = min(int(float(rows[-1]["samples"])), samples) if rows else 0
    except (TypeError, ValueError):  # a last row still being written
        done = 0
    hours = None if seconds is None else samples * seconds * cams / 3600
    left = None if hours is None else hours * (samples - done) / samples
    own = _own_rate(rows, cfg.trajectories * cfg.effective_horizon)
    if own is not None:  # the run's own iterations on this machine beat a rate measured elsewhere
        left = own[0] * (samples - done) / 3600
    return {"samples": samples, "done": done, "hours": hours, "hours_left": left, "kind": run_kind(cfg),
            "cameras": cams, "own_rate": None if own is None else own[0] / cams,
            "source": source + (f"; x{cams} cameras" if cams > 1 else "") + (f"; left: {own[1]}" if own else "")}


def with_machine_rates(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`estimate`'s entries, where a run has no timed iteration of its own, with its hours left at the median
    rate (per sample and camera) of the listed runs of its kind that have: they ran on this machine, whose speed
    the documented rates of another machine may miss by a factor of 3."""
    rates: dict[str, list[float]] = {}
    for r in runs:
        if r.get("own_rate") is not None:
            rates.setdefault(r["kind"], []).append(r["own_rate"])
    out = []
    for r in runs:
        siblings = rates.get(r.get("kind", ""), [])
        if r.get("own_rate") is None and siblings:
            rate = float(np.median(siblings))
            n = len(siblings)
            r = {**r, "hours_left": rate * r["cameras"] * (r["samples"] - r["done"]) / 3600,
                 "source": f"{r['source']}; left: the median rate of {n} started {r['kind']} run{'s' if n > 1 else ''} "
                           f"of this grid on this machine, {1e3 * rate:.1f} ms per sample and camera"}  # fmt: skip
        out.append(r)
    return out


def _own_rate(rows: list[dict[str, str]], per_iteration: int) -> tuple[float, str] | None:
    """Seconds per sample from a run's ``log.csv`` rows: the median ``t_iteration`` (sampling, evaluation and
    update) over ``per_iteration`` samples, with a phrase saying so; ``None`` without a timed row."""
    times = []
    for row in rows:
        try:
            times.append(float(row.get("t_iteration") or "nan"))
        except ValueError:
            continue
    times = [t for t in times if math.isfinite(t) and t > 0]
    if not times or per_iteration <= 0:
        return None
    median = float(np.median(times))
    n = len(times)
    return median / per_iteration, (f"this run's median {median:.0f} s per {per_iteration:,}-sample iteration "
                                    f"({n} iteration{'s' if n > 1 else ''} logged)")


#: A curve's training success is the mean over at least this many episodes: runs with fewer episodes an iteration
#: (FERM's 2) are averaged over their last ``ceil(MIN_EPISODES / episodes)`` iterations, so that one episode is not
#: a 50-point step.
MIN_EPISODES = 40


def smoothing_window(config: dict[str, Any]) -> int:
    """Iterations a run's training success is averaged over (1 where an iteration has ``MIN_EPISODES`` or more)."""
    return max(1, math.ceil(MIN_EPISODES / max(1, int(config.get("trajectories") or 1))))


def _std(log_std: float) -> str:
    return f"{round(math.exp(log_std), 3):g}"  # 0.135, 0.05


def describe(config: dict[str, Any]) -> str:
    """What a legend says about a run: the input, its image size, its batch, and BC epochs and an initial action std
    other than the defaults."""
    cfg = TrainConfig.from_json(config)
    if not cfg.is_pixel:
        return f"state, {cfg.trajectories} traj/it"
    cams = f", {len(cfg.cameras)} cameras" if cfg.cameras and len(cfg.cameras) > 1 else ""
    window = smoothing_window(config)
    mean = f", success over the last {window * cfg.trajectories} episodes" if window > 1 else ""
    if cfg.algo == "ferm":
        return f"learned conv, {cfg.render_size}->{cfg.image_size} px{cams}, {cfg.trajectories} ep/it{mean}"
    bc = f", {cfg.bc_epochs} BC epochs" if cfg.algo == "dapg" and cfg.bc_epochs != TrainConfig.bc_epochs else ""
    std = f", initial std {_std(cfg.init_log_std)}" if cfg.init_log_std is not None else ""
    return f"{cfg.encoder}, {cfg.image_size} px{cams}, {cfg.trajectories} traj/it{bc}{std}{mean}"


def _success(folder: Path, run: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Samples and training success of one exported run, each iteration's the mean of its last
    :func:`smoothing_window` iterations (those it has)."""
    from rrl.results import read_log

    rows = read_log(folder / f"{run['run']}.csv")
    x = np.array([float(r["samples"]) for r in rows])
    y = np.array([float(r["success_train"]) for r in rows])
    window = smoothing_window(run["config"])
    if window > 1 and len(y):
        total = np.concatenate([[0.0], np.cumsum(y)])  # total[i]: sum of the first i iterations
        end = np.arange(1, len(y) + 1)
        start = np.maximum(end - window, 0)
        y = (total[end] - total[start]) / (end - start)
    return x, y


def _curves(folder: Path, runs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Samples and training success (runs x iterations, cut to the shortest run, :func:`_success`) of one group,
    and each run's first sample count at >= 80% (over its whole curve)."""
    return _stack([_success(folder, r) for r in runs])


def _stack(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """:func:`_curves` from the runs' own curves."""
    n = min(len(x) for x, _ in curves)
    firsts = [next((f"{x[i] / 1e6:.2f}M" for i in range(len(y)) if y[i] >= 0.8), "-") for x, y in curves]
    return curves[0][0][:n], np.array([y[:n] for _, y in curves]), firsts


def _at(curves: list[tuple[np.ndarray, np.ndarray]], samples: int) -> tuple[float | None, int]:
    """Mean success, at the last iteration with at most ``samples``, of the runs that got that far, and how many
    did (``(None, 0)`` where none did)."""
    values = [float(y[np.searchsorted(x, samples, side="right") - 1]) for x, y in curves if len(x) and x[-1] >= samples]
    return (float(np.mean(values)) if values else None), len(values)


def _cell(curves: list[tuple[np.ndarray, np.ndarray]], band: PublishedBand | None, samples: int) -> str:
    """A table cell: :func:`_versus` of the runs' mean at ``samples``, marked ``[k of n seeds]`` where only some of
    the runs got there."""
    v, k = _at(curves, samples)
    return _versus(v, band, samples) + (f" [{k} of {len(curves)} seeds]" if 0 < k < len(curves) else "")


class _Curve(NamedTuple):
    """One line of a panel: a group of runs exported to ``folder``; ``own``: the experiment's method, not a related
    curve of another study."""

    task: str
    label: str
    folder: Path
    runs: list[dict[str, Any]]
    own: bool


def _settings_note(scale: str) -> str:
    """The note's sentences on the RRL runs' settings other than the preset's, read from
    :func:`~rrl.experiments.definitions.rrl_main` at ``scale`` (empty where it changes nothing)."""
    door, pen, text = rrl_main("door", scale), rrl_main("pen", scale), ""
    if door:
        text += (f" On door, this experiment's DAPG runs (RRL and from state) start from an initial action std of "
                 f"{_std(door['init_log_std'])} and the best of {door['bc_candidates']} BC fits and use the released "
                 "RRL code's constant demo weight, as DAPG from state needed there (docs/rewards.md)")
        batch = door.get("trajectories")
        text += f"; its RRL door runs sample {batch} trajectories an iteration." if batch else "."
    if pen:
        text += (f" Its RRL pen runs at {scale} scale fit BC for {pen['bc_epochs']} epochs, not "
                 f"{TrainConfig.bc_epochs}, as {TrainConfig.bc_epochs} underfit the pixel features there, and start "
                 f"from an initial action std of {_std(pen['init_log_std'])}, not the demonstrations' (mean 0.37), "
                 "whose noise halves the BC policy's success (the legend names both where a run has them; "
                 "docs/findings.md).")
    return text


def main_figure(exp: Experiment, scale: str, results_root: str | Path = "results") -> Path | None:
    """``results/<name>_<scale>/``: ``fig3.png``, ``fig3.csv`` and ``meta.json`` with the table, from the results
    folders of ``exp``'s tasks and its ``related`` curves of other studies under the same reward (dashed, their own
    table rows); None when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rrl.result_folder import write_result_folder

    name, root = exp.name, Path(results_root)
    folders = {t: root / result_name(name, t, scale) for t in exp.tasks}
    metas = {t: _meta(f) for t, f in folders.items() if (f / "meta.json").is_file()}
    # the experiment's methods, then the related curves whose reward is the panel's
    curves: list[_Curve] = []
    for task in exp.tasks:
        own = sorted(metas.get(task, {"groups": {}})["groups"].items(), key=lambda kv: _method_order(kv[0]))
        curves += [_Curve(task, label, folders[task], runs, True) for label, runs in own]
        rewards = {r["config"].get("reward") for _, runs in own for r in runs} or {_default_reward(exp, task, scale)}
        for rel in exp.related:
            source = root / rel.folder
            if rel.task != task or rel.scale != scale or not (source / "meta.json").is_file():
                continue
            groups = _meta(source)["groups"]
            if rel.group not in groups:
                raise ValueError(f"{exp.name}'s related curve {rel.label!r} asks for group {rel.group!r} of "
                                 f"{source}, which has {sorted(groups)}: correct the group in rrl.experiments."
                                 "definitions, or re-export that folder with `rrl export`")  # fmt: skip
            runs = groups[rel.group]
            if runs and all(r["config"].get("reward") in rewards and r["config"].get("task") == task for r in runs):
                curves.append(_Curve(task, rel.label, source, runs, False))
    panels = [t for t in exp.tasks if any(c.task == t for c in curves)]
    if not panels:
        return None
    out = root / result_name(name, None, scale)
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(4.2 * len(panels), 9.0), 4.6), squeeze=False)
    # the published band is grey: no method gets grey
    colors = [c for c in plt.get_cmap("tab10").colors + plt.get_cmap("Dark2").colors if len(set(c)) > 1]
    labels = sorted({c.label for c in curves if c.own}, key=_method_order) + sorted(
        {c.label for c in curves if not c.own}
    )
    table = ["| task | method | runs | " + " | ".join(f"{s / 1e6:g}M" for s in TABLE_AT)
             + " | first >= 80% (per seed) | commit |", "| --- | --- | --- |" + " --- |" * (len(TABLE_AT) + 2)]
    rows_csv = [("task", "method", "run", "samples", "success_train", "study")]
    legends: list[dict[str, Any]] = []  # per panel: its curves' labels and lines
    for ax, task in zip(axes[0], panels):
        handles: dict[str, Any] = {}
        legends.append(handles)
        longest = 0.0
        band = find_published_band(task)
        for _, label, folder, runs, own in (c for c in curves if c.task == task):
            color = colors[labels.index(label) % len(colors)]
            seeds = [_success(folder, r) for r in runs]
            x, y, firsts = _stack(seeds)
            if len(x) == 0:
                continue
            longest = max(longest, float(x[-1]))
            try:
                legend = f"{label} ({describe(runs[0]['config'])})"
            except (TypeError, ValueError):  # a config recorded by an rrl whose settings differ from this one's
                legend = label
            (line,) = ax.plot(x, 100 * y.mean(0), color=color, lw=1.8 if own else 1.2, ls="-" if own else "--")
            if len(runs) > 1:
                ax.fill_between(x, 100 * y.min(0), 100 * y.max(0), color=color, alpha=0.18 if own else 0.1, lw=0)
                for rx, ry in seeds:  # a seed that ran further than the shortest goes on alone, thin
                    if len(rx) > len(x):
                        ax.plot(rx[len(x) - 1 :], 100 * ry[len(x) - 1 :], color=color, lw=0.8, alpha=0.7,
                                ls="-" if own else "--")  # fmt: skip
                        longest = max(longest, float(rx[-1]))
            handles.setdefault(legend, line)
            cells = [_cell(seeds, band, s) for s in TABLE_AT]
            commits = sorted({str(r.get("commit")) for r in runs})
            table.append(f"| {task} | {label} | {len(runs)} | " + " | ".join(cells)
                         + f" | {', '.join(firsts)} | {', '.join(commits)} |")  # fmt: skip
            study = "this experiment" if own else folder.name
            for r, ys in zip(runs, y):
                rows_csv += [(task, label, r["run"], int(s), v, study) for s, v in zip(x, ys)]
        if band is not None:
            first = band.first_at_least(0.8)
            table.append(f"| {task} | {PUBLISHED_LABEL} | {len(band.seeds)} | "
                         + " | ".join(_pct(band.at(s)) for s in TABLE_AT)
                         + f" | {'-' if first is None else f'{first / 1e6:.2f}M (mean)'} | "
                         "released logs |")  # fmt: skip
            draw_band(ax, band, max_samples=longest or None)
            handles.setdefault(PUBLISHED_LABEL, ax.get_lines()[-1])
        own_runs = [r for c in curves if c.task == task and c.own for r in c.runs]
        demos = {r["config"].get("demos") for r in own_runs} - {"none"}  # the demo-free methods (NPG) do not say
        title = (f"{task} ({', '.join(sorted(demos))} demos)" if demos else f"{task} (demo-free runs only)" if own_runs
                 else f"{task} (no run of this experiment yet)")  # fmt: skip
        ax.set(title=title, xlabel="samples (millions)", ylim=(-3, 103))
        ax.xaxis.set_major_formatter(lambda v, _: f"{v / 1e6:g}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("training success (%)")
    # a legend under each panel naming that panel's curves; the figure grows with the longest legend
    wrapped = [[textwrap.fill(label, 62, subsequent_indent="  ") for label in h] for h in legends]
    lines = max(sum(w.count("\n") + 1 for w in labels) for labels in wrapped)
    fig.set_figheight(4.0 + 0.125 * lines)
    for ax, handles, labels in zip(axes[0], legends, wrapped):
        ax.legend(list(handles.values()), labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=6.5,
                  frameon=False, handlelength=2.5)  # fmt: skip
    fig.suptitle(f"Fig. 3 at {scale} scale: training success, mean over seeds, band min-max; reward rrl_code")
    fig.tight_layout()
    note = ("Training success (stochastic rollouts) of every method, mean of the seeds at the last iteration with at "
            "most that many samples (where only some seeds got there, the mean of those, marked [k of n seeds]); in "
            "brackets, points above (+) or below (-) "
            "the published RRL mean at the same samples, whose own row closes each task. Door learns from the 25 human "
            "demonstrations, hammer, pen and relocate from 25 expert rollouts (no human demonstrations of them can "
            "be had here); the published RRL curves used human demonstrations on every task."
            f"{_settings_note(scale)} A run with fewer than {MIN_EPISODES} episodes an iteration (FERM) is averaged "
            f"over its last {MIN_EPISODES} episodes, in the table, the figure and fig3.csv alike. Where a method's "
            "seeds stop at different sample counts, its mean and band end with the shortest and each longer seed "
            "goes on alone as a thin line.")  # fmt: skip
    if metas:
        note += f" Each run's command: the per-task sections ({', '.join(folders[t].name for t in metas)})."
    if any(not c.own for c in curves):
        note += (" Dashed: curves of other studies under the same reward (their results folder in the label, each "
                 "run's command there), whose settings differ from this experiment's as the label says.")
    write_result_folder(
        out, title=f"Fig. 3: the main comparison at `{scale}` scale",
        command=f"rrl experiment {name} --scale {scale} --figure-only", note=note, table="\n".join(table),
        files={"fig3.png": fig, "fig3.csv": _csv_text(rows_csv)},
    )  # fmt: skip
    plt.close(fig)
    return out


def _meta(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "meta.json").read_text())


def _default_reward(exp: Experiment, task: str, scale: str) -> str | None:
    """The reward ``exp``'s runs of ``task`` would have (for a panel that has none of its own yet)."""
    settings = exp.per_task(task, scale) if exp.per_task else {}
    return settings["reward"] if "reward" in settings else TrainConfig.from_preset(scale, task).reward


def _csv_text(rows: list[tuple[Any, ...]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


_ORDER = ("RRL", "FERM", "NPG from pixels", "DAPG from state", "NPG from state")


def _method_order(label: str) -> tuple[int, str]:
    return (_ORDER.index(label) if label in _ORDER else len(_ORDER), label)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _versus(v: float | None, band: PublishedBand | None, samples: int) -> str:
    """A table cell: success, and its difference in points from the published mean at the same samples."""
    published = None if band is None or v is None else band.at(samples)
    return _pct(v) if published is None else f"{_pct(v)} ({100 * (v - published):+.0f})"
