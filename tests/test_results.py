"""Published results: run folders -> results/<name>/ (CSV, PNG, meta.json) -> docs/results.md (rrl report)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rrl.config import TrainConfig
from rrl.experiments.exports import ExperimentExport
from rrl.report import paper_figure, write_report
from rrl.result_folder import result_name, write_result_folder
from rrl.results import export_results, exported_run_summary, run_summary
from rrl.sampling import DemoData
from rrl.train import read_log, train


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory) -> list[Path]:
    """Two real (tiny) DAPG runs on door from state, seeds 0 and 1."""
    from rrl.demos import make_expert_demos

    demos = DemoData.from_trajectories(make_expert_demos("door", n=2, seed=0).trajectories)
    root = tmp_path_factory.mktemp("runs")
    return [
        train(
            TrainConfig(task="door", seed=s, iterations=2, trajectories=3, horizon=30, eval_episodes=1, eval_every=1,
                        policy_size=(16, 16), vf_size=(16, 16), n_demos=2, out=str(root / f"dapg_door_s{s}")),
            demos=demos,
            progress=False,
        )  # fmt: skip
        for s in (0, 1)
    ]


def test_summary_reads_the_log(run_dirs: list[Path]) -> None:
    rows = read_log(run_dirs[0] / "log.csv")
    s = run_summary(run_dirs[0])
    assert s["iterations"] == len(rows) == 2 and s["seed"] == 0
    assert s["samples"] == int(rows[-1]["samples"]) == 2 * 3 * 30
    assert s["last_success_train"] == float(rows[-1]["success_train"])
    # Started from Python, not the CLI: the equivalent `rrl train` command, regenerated from the config.
    assert s["command"].startswith("rrl train --task door ") and "--seed" not in s["command"]
    assert "--trajectories 3" in s["command"] and "--policy-size 16,16" in s["command"]



def test_recorded_commands_are_runnable_rrl_train_lines(run_dirs: list[Path], tmp_path: Path) -> None:
    import shutil

    run = Path(shutil.copytree(run_dirs[0], tmp_path / "run"))
    meta = json.loads((run / "config.json").read_text())
    # started by `rrl experiment` (a command for many runs) and resumed from Python and from the CLI
    meta["argv"] = ["/x/.venv/bin/rrl", "experiment", "rewards", "--seeds", "0,1"]
    meta["resumed_with"] = [
        {"overrides": {"iterations": 4, "device": "cuda", "normalize_advantages": False}, "argv": ["-c"]},
        {"overrides": {}, "argv": ["/x/.venv/bin/rrl", "train", "--resume", "r", "--iterations", "5"]},
    ]
    (run / "config.json").write_text(json.dumps(meta))
    s = run_summary(run)
    assert s["command"] == TrainConfig.from_json(meta["config"]).command_line()
    assert s["resumed_with"] == [
        f"rrl train --resume {run} --iterations 4 --device cuda --no-normalize-advantages",
        "rrl train --resume r --iterations 5",
    ]


def test_export_and_report(run_dirs: list[Path], tmp_path: Path) -> None:
    results = tmp_path / "results"
    out = export_results("dapg_door", {"DAPG": run_dirs}, results, title="DAPG door", note="a note")
    assert sorted(p.name for p in out.iterdir()) == ["curve.png", "dapg_door_s0.csv", "dapg_door_s1.csv", "meta.json"]
    assert (out / "dapg_door_s1.csv").read_text() == (run_dirs[1] / "log.csv").read_text()
    meta = json.loads((out / "meta.json").read_text())
    assert [r["seed"] for r in meta["groups"]["DAPG"]] == [0, 1]
    (results / "robustness_door").mkdir()
    (results / "robustness_door" / "robustness.csv").write_text("run,condition,success\n")

    report = write_report(results, tmp_path / "docs" / "results.md").read_text()
    assert "## DAPG door" in report and "a note" in report and "![dapg_door](../results/dapg_door/curve.png)" in report
    table = [line for line in report.splitlines() if line.startswith("| DAPG | dapg_door_s")]
    assert len(table) == 2 and all("| 2 | 180 |" in line for line in table)
    # every paper experiment is listed; none has results here except the robustness folder made above
    for name in ("representations", "proprioception", "rewards", "policy_size", "relocate_cameras"):
        assert f"| {name} |" in report and f"rrl experiment {name} --scale paper" in report
    assert "| robustness_door |" in report


def test_rrl_eval_results_travel_with_the_run_into_the_export(run_dirs: list[Path], tmp_path: Path, capsys) -> None:
    """`rrl eval` appends its result with the command that reproduces it to the run's evaluations.jsonl; the export's
    meta.json carries the records (also once the folder is gone) and the report prints them; a damaged file is
    named and left as it is; --no-record writes nothing."""
    from rrl.cli import main
    from rrl.evaluate import EVALUATIONS, read_evaluations

    run = Path(shutil.copytree(run_dirs[0], tmp_path / "run"))
    assert main(["eval", str(run), "--episodes", "2", "--json", "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["eval", str(run), "--episodes", "1", "--policy", "bc", "--seed", "3", "--no-progress"]) == 0
    final, bc = read_evaluations(run)
    assert final["success_rate"] == printed["success_rate"] and final["episodes"] == 2 and final["samples"] == 180
    assert final["command"] == f"rrl eval {run} --episodes 2 --policy final" and final["commit"] and final["date"]
    assert bc["command"] == f"rrl eval {run} --episodes 1 --policy bc --seed 3" and bc["samples"] == 0
    capsys.readouterr()
    # the recorded command reproduces the number (deterministic episodes from the same seed)
    assert main([*final["command"].split()[1:], "--json", "--no-record"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["success_rate"] == final["success_rate"]
    assert len(read_evaluations(run)) == 2  # --no-record

    results = tmp_path / "results"
    export_results("evals", {"DAPG": [run]}, results)
    assert json.loads((results / "evals" / "meta.json").read_text())["groups"]["DAPG"][0]["evaluations"] == [final, bc]
    shutil.rmtree(run)  # the folder gone, a re-export from the CSV keeps the records
    export_results("evals2", {"DAPG": [results / "evals" / "run.csv"]}, results)
    report = write_report(results, tmp_path / "docs" / "results.md").read_text()
    line = f"- run: {100 * final['success_rate']:.1f}% over 2 episodes, the policy after 180 samples (`rrl eval {run}"
    assert report.count(line) == 2 and report.count("over 1 episodes, the BC policy") == 2

    damaged = Path(shutil.copytree(run_dirs[1], tmp_path / "damaged"))
    (damaged / EVALUATIONS).write_text('{"command": "rrl eval x", "success_rate": 0.5}\n{"truncated\n')
    with pytest.raises(ValueError, match="line 2"):
        run_summary(damaged)
    assert main(["eval", str(damaged), "--episodes", "1", "--no-progress"]) == 0  # the evaluation stands ...
    err = capsys.readouterr().err
    assert "not recorded" in err and "line 2" in err
    assert (damaged / EVALUATIONS).read_text().endswith('{"truncated\n')  # ... and the file is left as it was


def test_export_keeps_previous_runs_whose_folders_are_gone(run_dirs: list[Path], tmp_path: Path, capsys) -> None:
    results = tmp_path / "results"
    first = export_results("dapg_door", {"DAPG": run_dirs}, results)
    csv_s0 = (first / "dapg_door_s0.csv").read_text()
    # Later only seed 1 is exported again (seed 0's run folder is gone): seed 0 stays, read from its CSV.
    again = export_results("dapg_door", {"DAPG": run_dirs[1:]}, results, keep_previous=True)
    runs = json.loads((again / "meta.json").read_text())["groups"]["DAPG"]
    assert [(r["run"], r.get("kept_from_previous_export", False)) for r in runs] == [
        ("dapg_door_s0", True), ("dapg_door_s1", False)
    ]
    assert (again / "dapg_door_s0.csv").read_text() == csv_s0
    report = write_report(results, tmp_path / "results.md").read_text()
    assert "| DAPG | dapg_door_s0 (earlier export) | 0 |" in report and "| DAPG | dapg_door_s1 | 1 |" in report
    # A run given again under a new label (a relabelled group) replaces its entry under the old label.
    relabelled = export_results("dapg_door", {"DAPG, all seeds": run_dirs[:1]}, results, keep_previous=True)
    groups = json.loads((relabelled / "meta.json").read_text())["groups"]
    assert {label: [r["run"] for r in runs] for label, runs in groups.items()} == {
        "DAPG, all seeds": ["dapg_door_s0"], "DAPG": ["dapg_door_s1"]
    }
    # A shorter copy of a run (restarted, not yet as far as the exported curve) leaves the earlier, longer curve.
    short = tmp_path / "restarted" / run_dirs[1].name
    shutil.copytree(run_dirs[1], short)
    log = (short / "log.csv").read_text().splitlines()
    (short / "log.csv").write_text("\n".join(log[:2]) + "\n")  # header and the first iteration
    kept = export_results("dapg_door", {"DAPG": [short]}, results, keep_previous=True)
    runs = {r["run"]: r for r in json.loads((kept / "meta.json").read_text())["groups"]["DAPG"]}
    assert runs["dapg_door_s1"]["iterations"] == 2 and runs["dapg_door_s1"].get("kept_from_previous_export")
    assert "kept the earlier export of dapg_door_s1" in capsys.readouterr().err
    # Without keep_previous the table holds exactly the runs given.
    only = export_results("dapg_door", {"DAPG": run_dirs[1:]}, results)
    assert [r["run"] for r in json.loads((only / "meta.json").read_text())["groups"]["DAPG"]] == ["dapg_door_s1"]


def test_export_combines_runs_exported_elsewhere(run_dirs: list[Path], tmp_path: Path) -> None:
    results = tmp_path / "results"
    first = export_results("dapg_door", {"DAPG": run_dirs}, results)
    # A new figure: seed 0 from the earlier export (its run folder may be gone), seed 1 from its run folder.
    combined = export_results("compare", {"old": [first / "dapg_door_s0.csv"], "new": run_dirs[1:]}, results)
    meta = json.loads((combined / "meta.json").read_text())["groups"]
    assert meta["old"][0]["exported_from"] == "dapg_door" and "exported_from" not in meta["new"][0]
    assert meta["old"][0]["command"] == run_summary(run_dirs[0])["command"]
    assert (combined / "dapg_door_s0.csv").read_text() == (run_dirs[0] / "log.csv").read_text()
    report = write_report(results, tmp_path / "results.md").read_text()
    assert "| old | dapg_door_s0 (from dapg_door) | 0 |" in report
    # A CSV that no export lists is refused with what to give instead.
    stray = tmp_path / "stray.csv"
    stray.write_text((run_dirs[0] / "log.csv").read_text())
    with pytest.raises(ValueError, match="give a run folder"):
        exported_run_summary(stray)


def test_export_catalog_is_well_formed() -> None:
    from rrl.config import PRESETS
    from rrl.experiments.definitions import EXPERIMENTS
    from rrl.experiments.exports import EXPORTS, ExperimentExport
    from rrl.tasks import TASKS

    names = [entry.name for entry in EXPORTS]
    assert len(names) == len(set(names)) and all(n and "/" not in n and n != "all" for n in names)
    for i, entry in enumerate(EXPORTS):
        if isinstance(entry, ExperimentExport):
            assert entry.scale in PRESETS and entry.task in EXPERIMENTS[entry.experiment].tasks and entry.seeds
            continue
        labels = [label for label, _ in entry.groups]
        assert entry.title and labels and len(labels) == len(set(labels)), entry.name
        assert all(label and "=" not in label for label in labels), entry.name  # `rrl results --group LABEL=...`
        runs = [run for _, group in entry.groups for run in group]
        assert all(group for _, group in entry.groups) and len(runs) == len(set(runs)), entry.name
        assert all(run and "," not in run and not Path(run).is_absolute() for run in runs), entry.name
        # an exported CSV comes from an export that `rrl export all` runs before this one, or from this export's
        # own folder (a run whose folder is gone, under a new label)
        assert all(run.split("/")[0] in names[: i + 1] for run in runs if run.endswith(".csv")), entry.name
        assert entry.published is None or entry.published in TASKS
        assert entry.figure is None or entry.figure.startswith("Fig. "), entry.name


def test_related_curves_name_groups_the_results_folders_have() -> None:
    """A combined figure's dashed curves come from other studies' exports by group label: a label that no longer
    matches would silently drop the curve from the figure."""
    from rrl.experiments.definitions import EXPERIMENTS

    root = Path(__file__).resolve().parents[1] / "results"
    checked = 0
    for exp in EXPERIMENTS.values():
        for rel in exp.related:
            meta = json.loads((root / rel.folder / "meta.json").read_text())
            runs = meta["groups"].get(rel.group)
            assert runs, f"{exp.name}: no group {rel.group!r} in results/{rel.folder}: {sorted(meta['groups'])}"
            assert {r["config"]["task"] for r in runs} == {rel.task}, (exp.name, rel.group)
            checked += 1
    assert checked >= 7  # main's related curves


def test_export_from_the_catalog_is_rrl_results(run_dirs: list[Path], tmp_path: Path, capsys) -> None:
    from rrl.cli import main
    from rrl.experiments.exports import Export, export_catalog, seeds

    tiny = Export("tiny", "Tiny door", (("DAPG", seeds("dapg_door", 0, 1)), ("gone", ("dapg_door_s9",))), note="n")
    gone = Export("gone", "Gone", (("gone", ("nowhere_s0", "elsewhere/x.csv")),))
    out = export_catalog("all", run_dirs[0].parent, tmp_path / "catalog", catalog=[tiny, gone])
    assert out == {"tiny": tmp_path / "catalog" / "tiny", "gone": None}
    assert not (tmp_path / "catalog" / "gone").exists()
    err = capsys.readouterr().err
    assert "skipped gone: no run of it is here (2 missing)" in err and "tiny: 1 of 3 runs are not here" in err
    group = f"DAPG={run_dirs[0]},{run_dirs[1]}"
    argv = ["results", "tiny", "--keep-previous", "--title", "Tiny door", "--note", "n", "--group", group]
    assert main([*argv, "--root", str(tmp_path / "direct")]) == 0
    files = sorted(p.name for p in out["tiny"].iterdir())
    assert files == sorted(p.name for p in (tmp_path / "direct" / "tiny").iterdir())
    for name in files:
        assert (out["tiny"] / name).read_bytes() == (tmp_path / "direct" / "tiny" / name).read_bytes(), name
    # the command line: real catalog entries whose runs are not here are skipped; unknown names are refused
    argv = ["export", "bc_state", "rewards_door_cpu", "--runs", str(tmp_path / "no_runs"), "--root", str(tmp_path)]
    assert main(argv) == 0 and not (tmp_path / "bc_state").exists()
    err = capsys.readouterr().err
    assert "skipped bc_state: no run of it is here" in err and "skipped rewards_door_cpu" in err
    assert main(["export", "no_such_export"]) == 2 and "unknown export no_such_export" in capsys.readouterr().err


def test_report_lists_paper_figures_in_paper_order_then_further_studies(run_dirs: list[Path], tmp_path: Path) -> None:
    results = tmp_path / "results"
    export_results("rewards_door_cpu", {"RRL sparse": run_dirs}, results, title="rewards: door (cpu)")  # Fig. 7
    write_result_folder(results / "robustness_door", title="Robustness, door", command="rrl experiment robustness",
                        files={"robustness.csv": "run,condition,success\n"})  # Fig. 4, though later by name
    export_results("bc_state", {"door": run_dirs[:1]}, results, title="BC only")  # a catalog export, no figure
    write_result_folder(results / "probe_door", title="A probe", command="probe", table="| a |\n| --- |")
    report = write_report(results, tmp_path / "docs" / "results.md").read_text()
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert headings == [
        "# Results", "## Paper figures", "### Fig. 4: Robustness, door", "### Fig. 7: rewards: door (cpu)",
        "## Further studies", "### BC only", "### A probe", "## The paper's experiments: where they stand",
    ]  # fmt: skip
    assert "| RRL sparse | dapg_door_s0 | 0 |" in report and "| a |" in report
    row = next(line for line in report.splitlines() if line.startswith("| RRL sparse | dapg_door_s0 |"))
    csv_rows = (results / "rewards_door_cpu" / "dapg_door_s0.csv").read_text().splitlines()
    header, values = csv_rows[0].split(","), [r.split(",") for r in csv_rows[1:]]
    last5 = [float(v[header.index("success_train")]) for v in values][-5:]
    assert row.split(" | ")[10] == f"{100 * sum(last5) / len(last5):.1f}%"  # the "train, last 5 it." column
    assert paper_figure("main_cpu", {}) == "Fig. 3" and paper_figure("main_door_cpu", {}) == "Fig. 3"
    assert paper_figure("main_cpu_door", {"groups": {}}) is None  # the scheme: <study>_<task>_<qualifiers>
    assert "Folder: [results/rewards_door_cpu](../results/rewards_door_cpu)" in report
    assert paper_figure("robustness_frames", {}) == "Fig. 11" and paper_figure("compute_cost_h200", {}) == "Fig. 4"
    assert paper_figure("rrl_code_pen", {}) == "Fig. 3" and paper_figure("pixels8_door_cpu", {"groups": {}}) is None


def test_result_names_follow_one_scheme() -> None:
    assert result_name("rewards", "door", "cpu") == "rewards_door_cpu"
    assert result_name("main", None, "cpu") == "main_cpu"  # a study of every task
    assert ExperimentExport("relocate_cameras", "relocate").name == "relocate_cameras_relocate_cpu"
    for bad in (("rewards", "door", ""), ("rewards", "door cpu"), ("a/b",)):
        with pytest.raises(ValueError, match="non-empty words"):
            result_name(*bad)
