"""docs/results.md from results/*/meta.json (``rrl report``): the paper's figures first, then further studies.

>>> write_report("results", "docs/results.md")

A results folder reproduces a figure of the paper when it is declared so once in Python: a catalog export's
``figure`` (:mod:`rrl.experiments.exports`), the ``figure`` of the experiment a ``<experiment>[_<task>]_<scale>``
folder belongs to (:mod:`rrl.experiments.definitions`), or, for results that are not training curves, the producer
in :data:`OTHER_RESULT_FIGURES`. "Paper figures" lists those in the paper's order, "Further studies" the others.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from rrl.config import PRESETS
from rrl.experiments.definitions import EXPERIMENTS
from rrl.experiments.exports import EXPORTS
from rrl.paths import atomic_write
from rrl.run.logs import read_log

#: Results folders that are not training curves, by the producer's folder name (``name`` or ``name_*``), and the
#: paper figure each reproduces (the longest matching name wins).
OTHER_RESULT_FIGURES: dict[str, str] = {
    "gradcam": "Fig. 1",  # rrl explain
    "compute_cost": "Fig. 4",  # rrl.experiments.compute_cost (left panel, appendix 7.6)
    "robustness": "Fig. 4",  # rrl.experiments.robustness (centre/right, appendix 7.5)
    "vae": "Fig. 10",  # rrl vae train --grid (appendix 7.4)
    "robustness_frames": "Fig. 11",  # rrl.experiments.robustness --frames-only
}

_FIGURE = re.compile(r"^(Fig\.|Table) (\d+)")

#: The iterations whose mean training success the tables show beside the last one (one iteration is noisy).
LAST_N = 5


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + "_")


def _experiment_figure(name: str) -> str | None:
    """The figure of the experiment whose results folder ``name`` is (``<experiment>_<task>_<scale>``, or
    ``<experiment>_<scale>`` for an experiment's combined figure), else None."""
    for exp in EXPERIMENTS.values():
        if not name.startswith(exp.name + "_"):
            continue
        task, _, scale = name[len(exp.name) + 1 :].rpartition("_")
        if scale in PRESETS and (task in exp.tasks or (not task and exp.combined)):
            return exp.figure
    return None


def paper_figure(name: str, meta: dict[str, Any]) -> str | None:
    """The paper figure (``"Fig. 3"``) the results folder ``name`` reproduces, or None for a further study."""
    catalog = {entry.name: entry.figure for entry in EXPORTS}
    if name in catalog:
        return catalog[name]
    figure = _experiment_figure(name)
    if figure is None and "groups" not in meta:
        producers = sorted((p for p in OTHER_RESULT_FIGURES if _matches(name, p)), key=len)
        figure = OTHER_RESULT_FIGURES[producers[-1]] if producers else None
    return figure


def figure_order(figure: str) -> tuple[int, int, str]:
    """Sort key in the paper's order: figures by number, then tables, then anything else."""
    m = _FIGURE.match(figure)
    return (0 if m[1] == "Fig." else 1, int(m[2]), figure) if m else (2, 0, figure)


def _heading(title: str, figure: str | None) -> str:
    """``### title``, with the figure in front when the title does not name it."""
    if figure is None or re.search(re.escape(figure) + r"(?!\d)", title):
        return f"### {title}"
    return f"### {figure}: {title}"


def _pct(v: float | None, digits: int = 0) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.{digits}f}%"


def _last_mean(folder: Path, run: str, n: int = LAST_N) -> float | None:
    """Mean training success of the last ``n`` iterations of ``<folder>/<run>.csv`` (None where it is absent)."""
    path = folder / f"{run}.csv"
    if not path.is_file():
        return None
    values = [float(row["success_train"]) for row in read_log(path) if row.get("success_train") not in (None, "")]
    return float(sum(values[-n:]) / len(values[-n:])) if values else None


def _first(d: dict[str, int] | None) -> str:
    return "not reached" if d is None else f"it. {d['iteration']} ({d['samples'] / 1e6:.2f}M samples)"


def _folder_line(folder: Path, meta: dict[str, Any], out: Path) -> str:
    """``Folder: results/NAME`` (a link), with the name it was made under where it was renamed since."""
    renamed = f" (made as `{meta['renamed_from']}`)" if meta.get("renamed_from") else ""
    return f"Folder: [results/{folder.name}]({os.path.relpath(folder, out.parent)}){renamed}"


def _other_result(folder: Path, meta: dict[str, Any], out: Path, figure: str | None) -> list[str]:
    """A results folder that is not a set of training runs: its PNGs, command, commit and date."""
    lines = [_heading(meta.get("title") or folder.name, figure), "", _folder_line(folder, meta, out), ""]
    for key in ("command", "commit", "date", "note"):
        if meta.get(key):
            lines += [f"- {key}: `{meta[key]}`" if key == "command" else f"- {key}: {meta[key]}"]
    lines += [""]
    if meta.get("table"):  # a markdown table the producer wrote (e.g. robustness: success per condition)
        lines += [meta["table"], ""]
    for png in sorted(folder.glob("*.png")):
        lines += [f"![{png.stem}]({os.path.relpath(png, out.parent)})", ""]
    for csv_path in sorted(folder.glob("*.csv")):
        lines += [f"Data: [{csv_path.name}]({os.path.relpath(csv_path, out.parent)})", ""]
    return lines


def _runs_result(folder: Path, meta: dict[str, Any], out: Path, figure: str | None) -> list[str]:
    """A training-curve export: its plot, one table row per run, the published comparison, the commands."""
    lines = [_heading(meta.get("title") or meta["name"], figure), "", _folder_line(folder, meta, out), ""]
    if meta.get("note"):
        lines += [meta["note"], ""]
    rel = os.path.relpath(folder, out.parent)
    lines += [f"![{meta['name']}]({rel}/curve.png)", ""]
    lines += ["| group | run | seed | iterations | samples | wall time | first train >= 80% | first train >= 90% "
              f"| first eval >= 90% | last train | train, last {LAST_N} it. | last eval | max train | commit |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    commands: list[str] = []
    evaluations: list[str] = []
    for label, runs in meta["groups"].items():
        for s in runs:
            wall = "-" if s.get("wall_time_s") is None else f"{s['wall_time_s'] / 60:.0f} min"
            kept = " (earlier export)" if s.get("kept_from_previous_export") else ""
            kept += f" (from {s['exported_from']})" if s.get("exported_from") else ""
            lines.append(
                f"| {label} | {s['run']}{kept} | {s['seed']} | {s['iterations']} | {s['samples']:,} | {wall} | "
                f"{_first(s.get('first_train_ge_80'))} | {_first(s['first_train_ge_90'])} | "
                f"{_first(s['first_eval_ge_90'])} | {_pct(s['last_success_train'])} | "
                f"{_pct(_last_mean(folder, s['run']), 1)} | "
                f"{_pct(s['last_success_eval'])} | {_pct(s['max_success_train'])} | {s['commit']} |"
            )
            commands.append(f"    {s['command']}" + "".join(f"\n    {r}" for r in s.get("resumed_with", [])))
            evaluations += [_evaluation_line(s["run"], e) for e in s.get("evaluations") or []]
    if meta.get("comparison"):
        lines += ["", f"Training success beside the curve RRL's authors published for {meta['published']} "
                  "(ResNet-34, 3 seeds; at the last iteration with at most that many samples):", "",
                  meta["comparison"]]  # fmt: skip
    lines += ["", "Commands (each run folder's `config.json` records them; resumptions follow their run):", ""]
    lines += commands + [""]
    if evaluations:
        lines += ["Deterministic evaluations of the runs' policies (`rrl eval`; each run folder's "
                  "`evaluations.jsonl` records them):", "", *evaluations, ""]
    return lines


def _evaluation_line(run: str, e: dict[str, Any]) -> str:
    """One recorded ``rrl eval`` result: success, episodes, which policy after how many samples, and its
    command, commit and date."""
    policy = "the BC policy" if e.get("policy") == "bc" else f"the policy after {e.get('samples', 0):,} samples"
    distractor = f", distractor {e['distractor']}" if e.get("distractor") else ""
    return (f"- {run}: {_pct(e['success_rate'], 1)} over {e.get('episodes', '?')} episodes, {policy}{distractor} "
            f"(`{e['command']}`, commit {e.get('commit', 'unknown')}, {e.get('date', 'undated')})")


def write_report(results_root: str | Path = "results", out: str | Path = "docs/results.md") -> Path:
    """One section per results/ folder (plots embedded; for training runs each run's headline numbers, command,
    commit and seed), under "Paper figures" in the paper's order or under "Further studies" by folder name."""
    root, out = Path(results_root), Path(out)
    folders = sorted({p.parent for p in root.glob("*/meta.json")} | {p.parent for p in root.glob("*/*.png")})
    figures, further = [], []
    for folder in folders:
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        figure = paper_figure(folder.name, meta)
        write = _runs_result if "groups" in meta else _other_result  # other kinds: benchmarks, frames, probes
        section = write(folder, meta, out, figure)
        (further if figure is None else figures).append((figure_order(figure or ""), folder.name, section))
    lines = [
        "# Results",
        "",
        "Generated by `rrl report` from `results/*/meta.json`; every number below is read from a run's log.",
        "Success: a trajectory succeeds when the goal holds on more than 25 steps (pen: 20). `train` = the",
        "stochastic rollouts the update learns from; `eval` = deterministic rollouts of the mean action.",
        "Each section names its folder, `results/<study>[_<task>][_<qualifier>...]` (`rrl.result_folder.result_name`),",
        "and the name it had when it was made, if it has been renamed since.",
        "",
        "- [Paper figures](#paper-figures): results that reproduce a figure of the paper, in the paper's order.",
        "- [Further studies](#further-studies): baselines, diagnostics and ablations the paper does not show.",
        "",
        "## Paper figures",
        "",
    ]
    for _, _, section in sorted(figures, key=lambda item: item[:2]):
        lines += section
    lines += [] if figures else ["None here yet: the table at the end says how to make each.", ""]
    lines += ["## Further studies", ""]
    for _, _, section in further:
        lines += section
    lines += [] if further else ["None here yet.", ""]
    lines += _not_run(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda f: f.write("\n".join(lines)))
    return out


def _not_run(root: Path) -> list[str]:
    """The paper's experiments with no results/ folder yet, each with the commands that would produce it."""
    rows = []
    for exp in EXPERIMENTS.values():
        done = sorted(p.name for p in root.glob(f"{exp.name}_*") if (p / "meta.json").is_file())
        cmd = f"rrl experiment {exp.name} --scale paper --seeds 0,1,2"
        rows.append(
            f"| {exp.figure} | {exp.name} | {exp.question} | {', '.join(done) or 'none'} | `{cmd}` | "
            f"`{cmd.replace('paper', 'cpu')}` |"
        )
    robust = sorted(p.name for p in root.glob("robustness_*") if (p / "robustness.csv").is_file())
    rows.append(
        "| Fig. 4 | robustness | Does a frozen policy survive visual distractors? | "
        f"{', '.join(robust) or 'none'} | "
        "`rrl experiment robustness RUN_DIR --episodes 75 --out results/robustness_<task>_<scale>` | same |"
    )
    return [
        "## The paper's experiments: where they stand",
        "",
        "Every figure of the paper as one command (`--dry-run` lists its runs). `paper` scale is for a GPU box or a",
        "cluster (25-48 hours per task and seed with the original code at 450-575 s per iteration, "
        "about 1.4 hours with rrl on one H200",
        "box with 16 cores: docs/benchmarks.md); `cpu` scale (the `cpu` preset, about",
        "2-3 hours per run here) is the most this 2-core machine can do. Only folders listed under \"results here\"",
        "were run; nothing else is claimed.",
        "",
        "| figure | experiment | question | results here | paper scale | cpu scale |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]
