"""Published results: run folders (runs/, not committed) -> small CSV + PNG + provenance under results/.

>>> export_results("dapg_state_door", {"DAPG (state)": ["runs/state/dapg_door_s0", "runs/state/dapg_door_s1"]})

``rrl report`` (:func:`rrl.report.write_report`) then collects every results folder into docs/results.md.

``results/<name>/`` holds ``<run>.csv`` (each run's log), ``curve.png`` (success of stochastic training rollouts
and of deterministic evaluation against samples, one line per run plus their mean), and ``meta.json``: for each
run its command line, config, rrl commit, seed, last iteration, samples and wall time, the summary numbers
the report prints (first iteration where success >= 90%, last success) and the run's recorded ``rrl eval``
results with their commands (``evaluations``). Nothing is computed that the run logs
do not contain.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from rrl.config import TrainConfig, config_flags
from rrl.paths import atomic_write
from rrl.result_folder import write_meta
from rrl.run.logs import read_log


def _col(rows: list[dict[str, str]], name: str) -> np.ndarray:
    return np.array([float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows])


def _first_at_least(rows: list[dict[str, str]], key: str, level: float) -> dict[str, int] | None:
    for r in rows:
        if r.get(key) not in (None, "") and float(r[key]) >= level:
            return {"iteration": int(r["iteration"]), "samples": int(r["samples"])}
    return None


def _last_value(rows: list[dict[str, str]], key: str) -> float | None:
    vals = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    return vals[-1] if vals else None


def _cli(argv: list[str]) -> str | None:
    """``argv`` as an ``rrl train`` command line, or None when the process was something else (Python, or
    ``rrl experiment``, whose command line stands for many runs)."""
    is_train = len(argv) > 1 and Path(argv[0]).name == "rrl" and argv[1] == "train"
    return shlex.join(["rrl", *argv[1:]]) if is_train else None


def _resume_command(run_dir: str, entry: dict[str, Any]) -> str:
    """How a run was resumed: its ``rrl train --resume`` command line, or (from Python) the equivalent one."""
    flags = config_flags(entry.get("overrides") or {}) + (["--adopt-demos"] if entry.get("adopt_demos") else [])
    return _cli(entry.get("argv") or []) or shlex.join(["rrl", "train", "--resume", run_dir, *flags])


def _run_command(meta: dict[str, Any]) -> str:
    """The command that started a run: its ``rrl`` command line, or (started from Python, or recorded before a
    setting that its command line no longer implies existed: :data:`rrl.config.RECORDED_BEFORE`) the equivalent
    one."""
    from rrl.config import RECORDED_BEFORE

    config = meta["config"]
    if set(RECORDED_BEFORE.get(config.get("algo"), {})) - set(config):
        return TrainConfig.from_json(config).command_line()
    return _cli(meta.get("argv") or []) or TrainConfig.from_json(config).command_line()


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """What the logs of one run say: provenance and headline numbers, and the ``rrl eval`` results recorded in
    its ``evaluations.jsonl``."""
    from rrl.evaluate import read_evaluations

    run_dir = Path(run_dir)
    meta = json.loads((run_dir / "config.json").read_text())
    rows = read_log(run_dir / "log.csv")
    if not rows:
        raise ValueError(f"{run_dir}/log.csv has no iterations yet")
    resumed = [_resume_command(str(run_dir), r) for r in meta.get("resumed_with", [])]
    return {
        "run": run_dir.name,
        "command": _run_command(meta),
        "resumed_with": resumed,
        "commit": meta.get("commit", "unknown"),
        "created": meta.get("created"),
        "seed": meta["config"]["seed"],
        "config": meta["config"],
        "iterations": len(rows),
        "samples": int(rows[-1]["samples"]),
        "wall_time_s": float(rows[-1]["wall_time"]) if rows[-1].get("wall_time") else None,
        "first_train_ge_90": _first_at_least(rows, "success_train", 0.9),
        "first_eval_ge_90": _first_at_least(rows, "success_eval", 0.9),
        "first_train_ge_80": _first_at_least(rows, "success_train", 0.8),
        "last_success_train": _last_value(rows, "success_train"),
        "last_success_eval": _last_value(rows, "success_eval"),
        "max_success_train": float(np.nanmax(_col(rows, "success_train"))),
        "evaluations": read_evaluations(run_dir),
    }


def exported_run_summary(csv: str | Path) -> dict[str, Any]:
    """The summary of a run exported earlier (``results/<export>/<run>.csv``), read from that export's meta.json.

    Lets a figure combine runs whose folders are gone (another machine, a cluster) with new ones."""
    csv = Path(csv)
    for runs in previous_export(csv.parent).values():
        for s in runs:
            if s["run"] == csv.stem:
                s = {k: v for k, v in s.items() if k != "kept_from_previous_export"}
                return {**s, "exported_from": s.get("exported_from", csv.parent.name)}
    raise ValueError(
        f"{csv} is not a run of an export: {csv.parent / 'meta.json'} does not list {csv.stem!r}; give a run "
        "folder or a <run>.csv written by `rrl results`"
    )


def _is_exported(run: str | Path) -> bool:
    """Whether ``run`` is the CSV of an earlier export rather than a run folder."""
    return str(run).endswith(".csv")


def _summary(run: str | Path) -> dict[str, Any]:
    """:func:`run_summary` of a run folder, :func:`exported_run_summary` of an exported CSV."""
    return exported_run_summary(run) if _is_exported(run) else run_summary(run)


def _log_path(run: str | Path) -> Path:
    """The log of a run folder, or the exported CSV itself."""
    return Path(run) if _is_exported(run) else Path(run) / "log.csv"


def plot_runs(groups: dict[str, list[Path]], out: str | Path, title: str = "", published: str | None = None) -> None:
    """Success (training rollouts, evaluation) and mean training return against samples: thin line per run,
    thick line per group mean. The return panel shows progress while success is still near 0 (human demos).

    Each run is a run folder or the path of a ``log.csv`` copy (an exported run). ``published``: a task whose
    published RRL curve (:mod:`rrl.published`, mean and min-max over its 3 seeds) is drawn on the training
    success panel, up to the samples of the longest run (equal samples); skipped with a note where the
    released logs are absent.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    legend_rows = -(-len(groups) // 2)  # one legend below the panels, two labels a row: it hides no curve
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8 + 0.25 * legend_rows))
    axes[1].sharey(axes[0])
    panels = (("success_train", 100.0), ("success_eval", 100.0), ("return_train", 1.0))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    longest = None  # samples of the longest run: the published curve is drawn up to it (equal samples)
    for gi, (label, runs) in enumerate(groups.items()):
        color = colors[gi % len(colors)]
        style = ("-", "--", ":", "-.")[gi // len(colors) % 4]  # past the colour cycle: another line style
        for ax, (key, scale) in zip(axes, panels):
            curves = []
            for run in runs:
                rows = read_log(_log_path(run))
                x, y = _col(rows, "samples"), scale * _col(rows, key)
                longest = max(float(np.nanmax(x)), longest or 0.0) if len(x) else longest
                ok = np.isfinite(y)
                ax.plot(x[ok], y[ok], color=color, alpha=0.35, lw=0.8)
                curves.append((x[ok], y[ok]))
            n = min(len(c[0]) for c in curves)
            if n and len(curves) > 1:
                ax.plot(curves[0][0][:n], np.mean([c[1][:n] for c in curves], axis=0), color=color, lw=2, ls=style,
                        label=f"{label} (mean of {len(curves)})")  # fmt: skip
            elif n:  # a one-row log (e.g. BC only) is a point
                ax.plot(curves[0][0], curves[0][1], color=color, lw=2, ls=style, label=label,
                        marker="o" if n == 1 else None)  # fmt: skip
    if published is not None:
        from rrl.published import draw_published

        if not draw_published(axes[0], published, max_samples=longest):
            axes[0].text(0.02, 0.97, "published RRL logs not found (RRL_RELEASED_LOGS_DIR)",
                         transform=axes[0].transAxes, fontsize=7, va="top")  # fmt: skip
    axes[0].set(title="training rollouts (stochastic)", xlabel="samples", ylabel="success rate (%)", ylim=(-3, 103))
    axes[1].set(title="evaluation (deterministic, mean action)", xlabel="samples")
    axes[2].set(title="training rollouts: mean return", xlabel="samples", ylabel="return")
    for ax in axes:
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    legend_height = (0.2 * legend_rows + 0.1) / fig.get_figheight()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_height, 1, 1))
    atomic_write(out, lambda f: fig.savefig(f, format="png", dpi=100), binary=True)
    plt.close(fig)


def previous_export(out_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The groups (label -> run summaries) of the export in ``out_dir``'s meta.json; ``{}`` if there is none."""
    meta = Path(out_dir) / "meta.json"
    return json.loads(meta.read_text()).get("groups", {}) if meta.is_file() else {}


def keepable_runs(
    previous: dict[str, list[dict[str, Any]]], out_dir: str | Path, drop: Collection[str] = ()
) -> dict[str, list[dict[str, Any]]]:
    """The runs of a :func:`previous_export` that a new export can keep: exported CSV present, not in ``drop``.
    Labels left without a run are omitted."""
    keep = {
        label: [s for s in runs if s["run"] not in drop and (Path(out_dir) / f"{s['run']}.csv").is_file()]
        for label, runs in previous.items()
    }
    return {label: runs for label, runs in keep.items() if runs}


def export_results(
    name: str,
    groups: dict[str, list[str | Path]],
    out_root: str | Path = "results",
    title: str = "",
    note: str = "",
    keep_previous: bool = False,
    drop: Collection[str] = (),
    published: str | None = None,
) -> Path:
    """Copy the logs of ``groups`` (label -> run folders) into ``<out_root>/<name>/`` with a plot and meta.json.

    A run is a run folder or a CSV of an earlier export (:func:`exported_run_summary`; marked ``exported_from``).
    With ``keep_previous``, runs of an earlier export of ``name`` that are not given again (their run folders
    may be gone, e.g. on another machine) stay in the table and the plot, read from their exported CSV and
    marked ``kept_from_previous_export``; a run given again replaces its earlier entry, also when it is given
    under another label (a relabelled group), and runs named in ``drop`` (run folder names) are not kept; a run
    folder that is not as far (in samples) as the earlier export of the same run leaves that longer curve in
    place, with a note on stderr (a restarted copy: continue it, or delete the exported CSV to replace it).
    ``published``: a task whose published RRL curve the plot draws (:func:`plot_runs`); recorded in meta.json,
    and with ``keep_previous`` an earlier export's choice stays when none is given.
    """
    out = Path(out_root) / name
    out.mkdir(parents=True, exist_ok=True)
    earlier = previous_export(out)
    previous = keepable_runs(earlier, out, drop) if keep_previous else {}
    if published is None and keep_previous and (out / "meta.json").is_file():
        published = json.loads((out / "meta.json").read_text()).get("published")
    meta: dict[str, Any] = {"name": name, "title": title, "note": note, "groups": {}}
    if published is not None:
        meta["published"] = published
    summaries_of = {label: [_summary(run) for run in runs] for label, runs in groups.items()}
    if keep_previous:  # a shorter copy of a run (restarted elsewhere, not yet as far) leaves the longer curve
        longer = {s["run"]: s["samples"] for runs in previous.values() for s in runs}
        groups = dict(groups)  # the caller's stays as given
        for label in list(groups):
            pairs = []
            for run, s in zip(groups[label], summaries_of[label]):
                if _is_exported(run) or s["samples"] >= longer.get(s["run"], 0):
                    pairs.append((run, s))
                else:
                    print(f"note: {name}: kept the earlier export of {s['run']} ({longer[s['run']]:,} samples); "
                          f"{run} is at {s['samples']:,} (continue it past that, or delete "
                          f"{out / (s['run'] + '.csv')} to replace the curve)", file=sys.stderr)  # fmt: skip
            groups[label], summaries_of[label] = [r for r, _ in pairs], [s for _, s in pairs]
    given = {s["run"] for summaries in summaries_of.values() for s in summaries}  # under any label
    for label in dict.fromkeys([*groups, *previous]):
        summaries = summaries_of.get(label, [])
        kept = [{**s, "kept_from_previous_export": True} for s in previous.get(label, []) if s["run"] not in given]
        for run, s in zip(groups.get(label, []), summaries):
            if _log_path(run).resolve() != (out / f"{s['run']}.csv").resolve():
                shutil.copyfile(_log_path(run), out / f"{s['run']}.csv")
        if kept or summaries:
            meta["groups"][label] = sorted(kept + summaries, key=lambda s: s["run"])
    curves = {label: [out / f"{s['run']}.csv" for s in runs] for label, runs in meta["groups"].items()}
    plot_runs(curves, out / "curve.png", title or name, published=published)
    if published is not None:
        try:
            from rrl.published import compare_at_samples, comparison_markdown

            rows = compare_at_samples(published, {k: [read_log(p) for p in v] for k, v in curves.items()})
            meta["comparison"] = comparison_markdown(rows) if rows else ""
        except FileNotFoundError:  # the released logs are not on this machine: the plot says so
            meta["comparison"] = ""
    write_meta(out, meta)
    exported = {s["run"] for runs in meta["groups"].values() for s in runs}
    for run in {s["run"] for runs in earlier.values() for s in runs} - exported:
        (out / f"{run}.csv").unlink(missing_ok=True)  # the folder holds what meta.json lists, nothing stale
    return out
