"""The paper's ablations as experiments: smoke-scale runs go through train, skip what cannot run, export results."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from rrl.checkpoint import read_checkpoint
from rrl.experiments.ablations import EXPERIMENTS, run_experiment

TINY = dict(iterations=1, trajectories=2, horizon=10, eval_episodes=1, n_demos=1, n_envs=2, n_groups=1)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RRL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rrl-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "no-hub"))  # no ResNet weights


def test_relocate_three_cameras_concatenate_features(tmp_path: Path) -> None:
    report = run_experiment(
        "relocate_cameras", scale="smoke", root=tmp_path / "runs", results_root=tmp_path / "results", **TINY
    )
    assert [r["variant"] for r in report["runs"]] == ["1 camera (cam1)", "3 cameras"] and not report["skipped"]
    dims = {}
    for r in report["runs"]:
        state = read_checkpoint(Path(r["out"]) / "checkpoint.pt")["policy"]
        dims[r["variant"]] = state["net.0.weight"].shape[1]
    assert dims == {"1 camera (cam1)": 1280 + 24, "3 cameras": 3 * 1280 + 24}
    out = tmp_path / "results" / "relocate_cameras_relocate_smoke"
    meta = json.loads((out / "meta.json").read_text())
    assert set(meta["groups"]) == {"1 camera (cam1)", "3 cameras"}
    assert (out / "curve.png").stat().st_size > 0 and len(list(out.glob("*.csv"))) == 2
    # a second call finds the finished runs and does not train again
    before = {r["out"]: (Path(r["out"]) / "checkpoint.pt").stat().st_mtime_ns for r in report["runs"]}
    run_experiment("relocate_cameras", scale="smoke", root=tmp_path / "runs", results_root=tmp_path / "results", **TINY)
    assert before == {r["out"]: (Path(r["out"]) / "checkpoint.pt").stat().st_mtime_ns for r in report["runs"]}
    # exporting a subset of the variants keeps the others' curves from the earlier export
    run_experiment(
        "relocate_cameras", scale="smoke", root=tmp_path / "runs", results_root=tmp_path / "results", export_only=True,
        variants=["1_camera__cam1"], **TINY,
    )  # fmt: skip
    groups = json.loads((out / "meta.json").read_text())["groups"]
    assert set(groups) == {"1 camera (cam1)", "3 cameras"} and groups["3 cameras"][0]["kept_from_previous_export"]
    # --export-only trains nothing: a missing run stays missing and only the existing one is exported
    shutil.rmtree(report["runs"][1]["out"])
    exported = run_experiment(
        "relocate_cameras", scale="smoke", root=tmp_path / "runs", results_root=tmp_path / "results", export_only=True,
        **TINY,
    )
    assert [m["variant"] for m in exported["missing"]] == ["3 cameras"] and not Path(report["runs"][1]["out"]).exists()
    exported_meta = json.loads((out / "meta.json").read_text())
    assert (
        set(exported_meta["groups"]) == {"1 camera (cam1)"}
        and "not run here) for: 3 cameras." in exported_meta["note"]
    )
    assert [f.name for f in out.glob("*.csv")] == ["1_camera__cam1_s0.csv"]  # no stale CSV of the dropped run


def test_representations_vae_random_state_and_skipped_resnet(tmp_path: Path) -> None:
    variants = ["random_resnet_34__no_pretraining", "vae", "dapg_from_state", "resnet_34__paper"]
    report = run_experiment(
        "representations", tasks=["door"], scale="smoke", variants=variants, root=tmp_path / "runs",
        results_root=tmp_path / "results", **TINY,
    )  # fmt: skip
    ran = {r["variant"] for r in report["runs"]}
    assert ran == {"random ResNet-34 (no pretraining)", "VAE", "DAPG from state"}
    [skipped] = report["skipped"]
    assert skipped["variant"] == "ResNet-34 (paper)" and "resnet34" in skipped["reason"]
    vae_run = next(Path(r["out"]) for r in report["runs"] if r["variant"] == "VAE")
    cfg = json.loads((vae_run / "config.json").read_text())["config"]
    assert cfg["encoder"] == "vae" and Path(cfg["encoder_weights"]).is_file()
    # the VAE saw whole renders in training, so its runs are not centre-cropped (the other variants are)
    assert cfg["image_size"] == cfg["render_size"] == 73
    random_run = next(Path(r["out"]) for r in report["runs"] if r["variant"].startswith("random"))
    assert json.loads((random_run / "config.json").read_text())["config"]["image_size"] == 64
    assert read_checkpoint(vae_run / "checkpoint.pt")["policy"]["net.0.weight"].shape[1] == 512 + 24
    meta = json.loads((tmp_path / "results" / "representations_door_smoke" / "meta.json").read_text())
    assert "ResNet-34 (paper)" in meta["note"]


def test_dry_run_lists_paper_commands_and_rejects_unknowns() -> None:
    report = run_experiment("proprioception", tasks=["hammer"], scale="paper", seeds=[0, 1], dry_run=True)
    commands = [r["command"] for r in report["runs"]]
    assert len(commands) == 6 and all(c.startswith("rrl train --task hammer --preset paper") for c in commands)
    assert any("--obs rgb" in c for c in commands) and any("--proprio-noise 0.02" in c for c in commands)
    assert set(EXPERIMENTS) == {"representations", "proprioception", "rewards", "policy_size", "relocate_cameras",
                                "main"}  # fmt: skip
    with pytest.raises(ValueError, match="unknown experiment"):
        run_experiment("fig99")
    with pytest.raises(ValueError, match="unknown variant"):
        run_experiment("rewards", variants=["nope"], dry_run=True)


def test_cli_help_lists_variants_and_options_before_the_name_reach_the_experiment(capsys) -> None:
    from rrl.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["experiment", "-h"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "policy_64_64" in out and "random_resnet_34__no_pretraining" in out and "3_cameras" in out
    assert main(["experiment", "--dry-run", "rewards", "--task", "door", "--scale", "paper"]) == 0
    assert "rrl train --task door --preset paper" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # other commands still reject unknown options
        main(["tasks", "--bogus"])


@pytest.mark.parametrize("name", ["proprioception", "rewards", "policy_size"])
def test_smoke_experiment_runs_each_variant_with_its_setting(name: str, tmp_path: Path) -> None:
    """Every variant of Fig. 6/7 trains at smoke scale and its run really uses the variant's setting. A results
    folder under the name of before the naming scheme (``<experiment>_<scale>_<task>``) is adopted."""
    legacy = tmp_path / "results" / f"{name}_smoke_door"
    legacy.mkdir(parents=True)
    (legacy / "meta.json").write_text(json.dumps({"name": legacy.name, "title": "earlier"}))
    report = run_experiment(
        name, tasks=["door"], scale="smoke", root=tmp_path / "runs", results_root=tmp_path / "results", **TINY
    )
    assert (
        not report["skipped"]
        and [r["variant"] for r in report["runs"]] == [v.label for v in EXPERIMENTS[name].variants]
    )
    for r in report["runs"]:
        cfg = json.loads((Path(r["out"]) / "config.json").read_text())["config"]
        policy = read_checkpoint(Path(r["out"]) / "checkpoint.pt")["policy"]
        weights = [v for k, v in policy.items() if k.startswith("net.") and k.endswith(".weight")]
        variant = next(v for v in EXPERIMENTS[name].variants if v.label == r["variant"])
        for key, value in variant.overrides.items():
            assert cfg[key] == (list(value) if isinstance(value, tuple) else value), (r["variant"], key)
        if name == "policy_size":
            assert [w.shape[0] for w in weights[:-1]] == list(cfg["policy_size"])
        if name == "proprioception":  # images only: no joint inputs; otherwise 1280 features + 24 joints
            assert weights[0].shape[1] == (1280 if cfg["obs"] == "rgb" else 1280 + 24)
        assert len((Path(r["out"]) / "log.csv").read_text().splitlines()) == 1 + TINY["iterations"]
    meta = json.loads((tmp_path / "results" / f"{name}_door_smoke" / "meta.json").read_text())
    assert set(meta["groups"]) == {v.label for v in EXPERIMENTS[name].variants} and not legacy.exists()


def test_rerun_extends_keeps_or_refuses_an_existing_run(tmp_path: Path, capsys) -> None:
    """A re-run brings existing run folders up to the request: more iterations resume, the same keep, a change of
    what defines the run is refused (not silently exported as if it were the requested run)."""
    kw = dict(tasks=["door"], scale="smoke", root=tmp_path / "runs", results_root=tmp_path / "results")
    tiny = {**TINY, "variants": ["rrl_sparse"]}
    run = Path(run_experiment("rewards", **kw, **tiny)["runs"][0]["out"])
    assert len((run / "log.csv").read_text().splitlines()) == 2
    run_experiment("rewards", **kw, **{**tiny, "iterations": 2, "threads": 1})
    assert len((run / "log.csv").read_text().splitlines()) == 3  # extended, not kept at 1 iteration
    resumed = json.loads((run / "config.json").read_text())["resumed_with"][-1]["overrides"]
    assert resumed == {"iterations": 2, "threads": 1}
    before = (run / "log.csv").read_text()
    run_experiment("rewards", **kw, **{**tiny, "iterations": 2, "rl_step_size": 0.1})
    assert (run / "log.csv").read_text() == before and "it ran with other rl_step_size" in capsys.readouterr().err
    with pytest.raises(ValueError, match="other trajectories than this experiment asks for.*another --root"):
        run_experiment("rewards", **kw, **{**tiny, "iterations": 2, "trajectories": 3})


def test_an_extension_stopped_before_its_end_is_not_taken_for_finished(tmp_path: Path, monkeypatch) -> None:
    """Extending a finished run drops its summary (it describes the old end) as the extension starts; a re-run then
    resumes the folder. A folder that kept a summary of fewer iterations than it records is resumed too."""
    import rrl.run.loop as loop

    kw = dict(tasks=["door"], scale="smoke", root=tmp_path / "runs", results_root=tmp_path / "results")
    tiny = {**TINY, "variants": ["rrl_sparse"], "threads": 1}
    run = Path(run_experiment("rewards", **kw, **tiny)["runs"][0]["out"])
    assert loop.finished_iterations(run) == 1
    old_summary = (run / "summary.json").read_text()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(loop, "_write_summary", killed)  # stopped after the last iteration, before the summary
        with pytest.raises(KeyboardInterrupt):
            loop.resume(run, progress=False, iterations=2)
    assert not (run / "summary.json").exists() and loop.finished_iterations(run) is None
    run_experiment("rewards", **kw, **{**tiny, "iterations": 2})
    assert loop.finished_iterations(run) == 2 and len((run / "log.csv").read_text().splitlines()) == 3
    (run / "summary.json").write_text(old_summary)  # as an extension by an older rrl left it
    run_experiment("rewards", **kw, **{**tiny, "iterations": 2})
    assert loop.finished_iterations(run) == 2 and len((run / "log.csv").read_text().splitlines()) == 3
    (run / "summary.json").write_text("{not json")
    assert loop.finished_iterations(run) is None


def test_experiment_cli_passes_device_and_sampler_settings(monkeypatch) -> None:
    import rrl.experiments.ablations as ab

    seen, run_experiment = {}, ab.run_experiment
    monkeypatch.setattr(ab, "run_experiment", lambda name, **kw: seen.update(kw) or {"runs": [], "results": [],
                                                                                         "skipped": [], "missing": []})
    argv = ["rewards", "--scale", "paper", "--device", "cuda", "--n-envs", "8", "--threads", "3", "--iterations", "5"]
    assert ab.main(argv) == 0
    assert {k: seen[k] for k in ("device", "n_envs", "threads", "iterations")} == {
        "device": "cuda", "n_envs": 8, "threads": 3, "iterations": 5
    }
    cfg = ab.variant_config(ab.EXPERIMENTS["rewards"], ab.EXPERIMENTS["rewards"].variants[0], "door", "paper", 0,
                            Path("runs"), device="cuda")
    assert "--device cuda" in cfg.command_line()
    # a machine setting of the pixel runs does not break the experiment's state variant
    runs = run_experiment("representations", tasks=["door"], scale="paper", dry_run=True, encoder_backend="torch")
    commands = [r["command"] for r in runs["runs"]]
    assert "--encoder-backend torch" in commands[0] and "--encoder-backend" not in commands[-1]


def test_main_experiment_sets_demos_cameras_reward_and_budgets_per_task() -> None:
    """Fig. 3: door from human demos, the others from expert rollouts, relocate through three cameras (pixel
    methods only), the RRL-code reward, each method's budget, pen's RRL BC epochs, and a time per run where it was
    measured."""
    report = run_experiment("main", scale="cpu", seeds=[0], dry_run=True)
    runs = {(r["task"], r["variant"]): r for r in report["runs"]}
    assert len(runs) == 4 * 5 and all("--reward rrl_code" in r["command"] for r in runs.values())
    assert "--demos human" in runs["door", "RRL"]["command"] and "--demos" not in runs["hammer", "RRL"]["command"]
    assert "--demos none" in runs["door", "NPG from pixels"]["command"]
    assert "--cameras cam1,cam2,cam3" in runs["relocate", "FERM"]["command"]
    assert "--cameras" not in runs["relocate", "DAPG from state"]["command"]
    assert "--algo ferm" in runs["pen", "FERM"]["command"] and runs["pen", "FERM"]["samples"] == 400_000
    assert "--sac-buffer 410000" in runs["pen", "FERM"]["command"]  # nothing overwritten, demos included
    assert all(runs[t, m]["samples"] == 2_000_000 for t in ("door", "pen") for m in ("DAPG from state",
                                                                                      "NPG from state"))  # fmt: skip
    assert runs["door", "RRL"]["samples"] >= 400_000 and all(r["hours"] > 0 for r in runs.values())
    # door from the human demos: the settings DAPG needed there; the demo-free methods and the other tasks keep theirs
    door_dapg = ("--init-log-std -3.0", "--bc-candidates 8", "--demo-weight mjrl")
    assert all(a in runs["door", m]["command"] for a in door_dapg for m in ("RRL", "DAPG from state"))
    assert "--trajectories 200" in runs["door", "RRL"]["command"] and runs["door", "RRL"]["samples"] == 2_000_000
    assert not any(a in runs[t, m]["command"] for a in door_dapg for t, m in runs if t != "door" or "NPG" in m)
    assert runs["relocate", "RRL"]["hours"] == pytest.approx(3 * runs["hammer", "RRL"]["hours"])  # three renders
    # pen's RRL fits BC for 20 epochs at cpu scale (5 underfit its pixel features); nothing else does
    assert [(t, m) for t, m in runs if "--bc-epochs" in runs[t, m]["command"]] == [("pen", "RRL")]
    assert "--bc-epochs 20" in runs["pen", "RRL"]["command"]
    paper = run_experiment("main", tasks=["door"], scale="paper", seeds=[0], dry_run=True)["runs"]
    assert [r["hours"] is None for r in paper] == [False, True, False, False, False]  # FERM: not measured


def test_dry_run_says_what_is_left_of_runs_already_started(tmp_path: Path, capsys) -> None:
    """A grid that spans several sittings: the dry run reads each run folder's log and gives the hours left."""
    from rrl.cli import main

    args = dict(tasks=["hammer"], scale="cpu", seeds=[0], root=tmp_path, dry_run=True, variants=["rrl", "ferm"])
    fresh = {r["variant"]: r for r in run_experiment("main", **args)["runs"]}
    assert all(r["done"] == 0 and r["hours_left"] == r["hours"] for r in fresh.values())
    out = Path(fresh["RRL"]["out"])
    out.mkdir(parents=True)
    (out / "log.csv").write_text("iteration,samples,success_train\n0,8000,0.5\n14,120000,0.9\n")
    started = {r["variant"]: r for r in run_experiment("main", **args)["runs"]}
    assert started["RRL"]["done"] == 120_000 and started["FERM"]["done"] == 0
    assert started["RRL"]["hours_left"] == pytest.approx(fresh["RRL"]["hours"] * (1 - 120_000 / 480_000))
    assert main(["experiment", "main", "--task", "hammer", "--seeds", "0", "--variants", "rrl,ferm", "--root",
                 str(tmp_path), "--dry-run"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "0.12M done, ~1.0 h left" in printed and "h left (one at a time" in printed
    assert main(["experiment", "main", "--tasks", "door,hammer", "--seeds", "0", "--variants", "rrl", "--root",
                 str(tmp_path), "--dry-run"]) == 0  # fmt: skip
    printed = capsys.readouterr().out  # --tasks: the spelling of `rrl experiment main --tasks door,hammer,...`
    assert "--task door " in printed and "--task hammer " in printed and "# 2 runs" in printed
    # a log that times its iterations gives the hours left at this machine's own rate (median, damaged rows skipped)
    (out / "log.csv").write_text("iteration,samples,t_iteration\n0,8000,400\n1,16000,\n2,24000,oops\n14,120000,420\n")
    timed = {r["variant"]: r for r in run_experiment("main", **args)["runs"]}["RRL"]
    assert timed["hours_left"] == pytest.approx(410 / 8000 * 360_000 / 3600) and timed["hours"] == fresh["RRL"]["hours"]
    assert "this run's median 410 s per 8,000-sample iteration (2 iterations logged)" in timed["source"]
    # a run not started yet takes the rate of the grid's started runs of its kind on this machine, per camera
    grid = dict(args, tasks=["hammer", "relocate"], variants=["rrl"])
    rows = {r["task"]: r for r in run_experiment("main", **grid)["runs"]}
    assert rows["hammer"]["hours_left"] == pytest.approx(timed["hours_left"])
    assert rows["relocate"]["hours_left"] == pytest.approx(3 * 410 / 8000 * 480_000 / 3600)  # three cameras
    assert "median rate of 1 started pixels run of this grid on this machine, 51.2 ms" in rows["relocate"]["source"]
    assert rows["relocate"]["hours"] == pytest.approx(3 * fresh["RRL"]["hours"])  # the whole run: the docs' rate
    ferm = {r["variant"]: r for r in run_experiment("main", **args)["runs"]}["FERM"]
    assert ferm["hours_left"] == ferm["hours"] and "median rate" not in ferm["source"]  # no started run of its kind
    assert main(["experiment", "main", "--tasks", "hammer,relocate", "--seeds", "0", "--variants", "rrl", "--root",
                 str(tmp_path), "--dry-run"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "0.12M done, ~5.1 h left" in printed and "~4.2 h; ~20.5 h on this machine (" in printed
    # another encoder at cpu scale: the preset's rate plus the difference in its measured encoding cost per frame
    reps = {r["variant"]: r for r in run_experiment("representations", tasks=["door"], scale="cpu", seeds=[0],
                                                    root=tmp_path / "reps", dry_run=True)["runs"]}  # fmt: skip
    lite, r34 = reps["EfficientNet-Lite0"], reps["ResNet-34 (paper)"]
    assert r34["hours"] == pytest.approx(lite["hours"] * (84 / 8000 + 9.2e-3) / (84 / 8000))
    assert reps["random ResNet-34 (no pretraining)"]["hours"] == pytest.approx(r34["hours"])
    assert "+9.2 ms per frame for resnet34's encoder" in r34["source"] and "ms per frame" not in lite["source"]
    # a grid with a run whose rate is not measured (FERM at paper scale) still gets its total, saying so
    assert main(["experiment", "main", "--scale", "paper", "--tasks", "door", "--seeds", "0", "--root",
                 str(tmp_path / "paper"), "--dry-run"]) == 0  # fmt: skip
    assert "# 5 runs, about 8.2 h for the 4 with a measured rate (1 not measured)" in capsys.readouterr().out


def test_main_experiment_exports_the_figure_and_table(tmp_path: Path) -> None:
    """Two methods of Fig. 3 on door trained for real (tiny state runs); the combined figure, its CSV and the
    table come out, with the published band where the released logs are."""
    report = run_experiment("main", tasks=["door"], scale="smoke", seeds=[0, 1], root=tmp_path / "runs",
                            results_root=tmp_path / "results", variants=["dapg_from_state", "npg_from_state"],
                            **TINY)  # fmt: skip
    assert len(report["runs"]) == 4 and str(tmp_path / "results" / "main_smoke") in report["results"]
    out = tmp_path / "results" / "main_smoke"
    meta = json.loads((out / "meta.json").read_text())
    assert "| door | DAPG from state | 2 |" in meta["table"] and "| door | NPG from state | 2 |" in meta["table"]
    from rrl.experiments.main_figure import _versus
    from rrl.published import PUBLISHED_LABEL, published_band

    band = published_band("door")  # its own row, and each cell's difference in points from it at the same samples
    assert f"| door | {PUBLISHED_LABEL} | 3 | {100 * band.at(100_000):.0f}% |" in meta["table"]
    assert _versus(band.at(1_000_000) - 0.1, band, 1_000_000).endswith("% (-10)") and _versus(None, band, 1) == "-"
    # a cell where only some seeds got there: the mean of those, marked; none: "-"
    import numpy as np

    from rrl.experiments.main_figure import _cell

    short, long = (np.array([1e5, 2e5]), np.array([0.2, 0.4])), (np.array([1e5, 2e5, 4e5]), np.array([0.4, 0.6, 1.0]))
    assert _cell([short, long], None, 200_000) == "50%" and _cell([short, long], None, 199_999) == "30%"
    assert _cell([short, long], None, 400_000) == "100% [1 of 2 seeds]" and _cell([short, long], None, 10**6) == "-"
    assert _cell([short, long], band, 400_000) == f"100% ({100 * (1 - band.at(400_000)):+.0f}) [1 of 2 seeds]"
    assert (out / "fig3.png").stat().st_size > 10_000
    rows = (out / "fig3.csv").read_text().splitlines()
    assert rows[0] == "task,method,run,samples,success_train,study" and len(rows) == 1 + 4 * TINY["iterations"]
    per_task = json.loads((tmp_path / "results" / "main_door_smoke" / "meta.json").read_text())
    assert per_task["published"] == "door"

    # Curves of other studies join the panel of their task, dashed, with their own table rows, where their reward
    # is the panel's; the results folders stay as they were (--figure-only needs no run folder).
    from rrl.cli import main
    from rrl.experiments.definitions import Related
    from rrl.experiments.main_figure import main_figure

    other = tmp_path / "results" / "other_study"
    shutil.copytree(tmp_path / "results" / "main_door_smoke", other)
    dense = tmp_path / "results" / "dense_study"
    shutil.copytree(other, dense)
    meta = json.loads((dense / "meta.json").read_text())
    for runs in meta["groups"].values():
        for r in runs:
            r["config"]["reward"] = "dense"
    (dense / "meta.json").write_text(json.dumps(meta))
    (tmp_path / "results" / "no_meta_study").mkdir()
    related = (Related("door", "other_study", "NPG from state", "NPG, elsewhere", scale="smoke"),
               Related("door", "dense_study", "NPG from state", "NPG, dense reward", scale="smoke"),
               Related("hammer", "other_study", "NPG from state", "NPG, not hammer", scale="smoke"),
               Related("door", "other_study", "NPG from state", "NPG, other scale", scale="cpu"),
               Related("door", "no_meta_study", "NPG from state", "NPG, no meta", scale="smoke"),
               Related("door", "missing_study", "NPG from state", "NPG, nowhere", scale="smoke"))  # fmt: skip
    misnamed = (Related("door", "other_study", "NPG from stat", "NPG, misnamed", scale="smoke"),)
    with pytest.raises(ValueError, match="group 'NPG from stat' of .*other_study.*correct the group"):
        main_figure(dataclasses.replace(EXPERIMENTS["main"], related=misnamed), "smoke", tmp_path / "results")
    before = {p.name: p.read_bytes() for p in (tmp_path / "results" / "main_door_smoke").iterdir()}
    with_related = dataclasses.replace(EXPERIMENTS["main"], related=related)
    assert main_figure(with_related, "smoke", tmp_path / "results") == out
    table = json.loads((out / "meta.json").read_text())["table"]
    assert "| door | NPG, elsewhere | 2 |" in table and "dense" not in table and "hammer" not in table
    assert "nowhere" not in table and "no meta" not in table and "other scale" not in table
    assert "Dashed: curves of other studies" in json.loads((out / "meta.json").read_text())["note"]
    rows = (out / "fig3.csv").read_text().splitlines()
    assert rows[0] == "task,method,run,samples,success_train,study"
    assert len(rows) == 1 + 6 * TINY["iterations"] and sum(',"NPG, elsewhere",' in r for r in rows) == 2
    assert sum(r.endswith(",other_study") for r in rows) == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "results" / "main_door_smoke").iterdir()} == before
    assert main(["experiment", "main", "--scale", "smoke", "--results", str(tmp_path / "results"),
                 "--figure-only"]) == 0  # fmt: skip
    assert "NPG, elsewhere" not in json.loads((out / "meta.json").read_text())["table"]  # main's own related only
    for refused in (["rewards", "--scale", "smoke"], ["main", "--scale", "smoke", "--tasks", "door"]):
        with pytest.raises(SystemExit):
            main(["experiment", *refused, "--figure-only"])


def test_main_figure_averages_few_episode_iterations_over_40_episodes(tmp_path: Path) -> None:
    """FERM's 2 episodes an iteration make a curve of 0/50/100% steps; Fig. 3 averages them over the last 20
    iterations (40 episodes), those there are at the start, and says so in the legend; the first sample count at
    >= 80% comes from the averaged curve. DAPG's batches stay raw."""
    from rrl.config import TrainConfig
    from rrl.experiments.definitions import rrl_main
    from rrl.experiments.main_figure import _curves, _settings_note, describe

    success = [0.0, 0.5, 1.0] + [0.0] * 27
    rows = ["samples,success_train"] + [f"{400 * (i + 1)},{v}" for i, v in enumerate(success)]
    (tmp_path / "ferm_s0.csv").write_text("\n".join(rows) + "\n")
    ferm = TrainConfig.from_preset("cpu", "door", algo="ferm").to_json()
    x, y, first = _curves(tmp_path, [{"run": "ferm_s0", "config": ferm}])
    assert ferm["trajectories"] == 2 and x[0] == 400 and len(y[0]) == 30 and first == ["-"]
    assert y[0][:3].tolist() == [0.0, 0.25, 0.5] and y[0][19] == pytest.approx(1.5 / 20)
    assert y[0][22] == pytest.approx(0.0) and y[0][20] == pytest.approx(1.5 / 20)  # iterations 2-21, then 3-22
    assert "success over the last 40 episodes" in describe(ferm)
    dapg = TrainConfig.from_preset("cpu", "door").to_json()
    x, y, first = _curves(tmp_path, [{"run": "ferm_s0", "config": dapg}])
    assert y[0][:3].tolist() == success[:3] and "episodes" not in describe(dapg) and first == ["0.00M"]
    assert "BC epochs" not in describe(dapg) and "BC epochs" not in describe(ferm)
    pen = TrainConfig.from_preset("cpu", "pen", **rrl_main("pen", "cpu")).to_json()
    assert describe(pen).endswith("80 traj/it, 20 BC epochs, initial std 0.135")
    assert describe(TrainConfig.from_preset("cpu", "door", **rrl_main("door", "cpu")).to_json()).endswith("std 0.05")
    # the figure's note reads the same settings: pen's only at cpu scale, none at smoke
    assert "20 epochs, not 5" in _settings_note("cpu") and "std of 0.135" in _settings_note("cpu")
    assert "std of 0.05" in _settings_note("paper") and "pen" not in _settings_note("paper")
    assert _settings_note("smoke") == ""


def test_jobs_train_runs_in_parallel_processes_and_export_once(tmp_path: Path, capsys) -> None:
    """--jobs 2: each run in a child process with its log beside its folder, one export at the end; a run that fails
    (a folder holding something else) is named, the others are trained and exported, and the exit status says so."""
    from rrl.cli import main

    root, results = tmp_path / "runs", tmp_path / "results"
    refused = root / "main" / "smoke" / "door" / "npg_from_state_s1"
    refused.mkdir(parents=True)
    (refused / "config.json").write_text("not json")
    argv = ["experiment", "main", "--scale", "smoke", "--tasks", "door", "--variants", "dapg_from_state,npg_from_state",
            "--seeds", "0,1", "--iterations", "1", "--threads", "1", "--root", str(root), "--results", str(results),
            "--jobs", "2"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("started ") == 4 and "failed (exit" in err and "1 of 4 runs failed: door/npg_from_state_s1" in err
    for run in ("dapg_from_state_s0", "dapg_from_state_s1", "npg_from_state_s0"):
        assert (root / "main" / "smoke" / "door" / run / "summary.json").is_file()
        assert (root / "main" / "smoke" / "door" / f"{run}.log").stat().st_size > 0
    assert "config.json is not valid JSON" in (refused.parent / "npg_from_state_s1.log").read_text()  # the child's
    assert (refused / "config.json").read_text() == "not json" and sorted(p.name for p in refused.iterdir()) == [
        "config.json"]  # fmt: skip
    meta = json.loads((results / "main_door_smoke" / "meta.json").read_text())
    assert {g: [r["run"] for r in runs] for g, runs in meta["groups"].items()} == {
        "DAPG from state": ["dapg_from_state_s0", "dapg_from_state_s1"], "NPG from state": ["npg_from_state_s0"]}
    assert (results / "main_smoke" / "fig3.png").is_file()


def test_jobs_pass_a_stop_on_to_the_running_children(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C (or SIGTERM, which the CLI turns into the same) while runs go: each running child gets SIGTERM (so it
    checkpoints and stops), the waiting ones never start, and the interrupt reaches the caller."""
    import os
    import signal
    import threading
    import time

    from rrl.experiments import parallel

    child = ("import pathlib, signal, sys, time; p = pathlib.Path(sys.argv[1]); "
             "signal.signal(signal.SIGTERM, lambda *a: (p.write_text('stopped'), sys.exit(3))); "
             "p.write_text('up'); time.sleep(60)")  # fmt: skip
    monkeypatch.setattr(parallel, "CHILD", child)
    marks = [tmp_path / f"m{i}" for i in range(3)]
    cells = [parallel.Cell("door", "v", i, (str(m),), tmp_path / f"r{i}.log") for i, m in enumerate(marks)]

    def interrupt_when_up() -> None:
        deadline = time.time() + 60
        while not all(m.exists() for m in marks[:2]) and time.time() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_up, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        parallel.run_parallel(cells, jobs=2, poll_s=0.05)
    assert [m.read_text() for m in marks[:2]] == ["stopped", "stopped"] and not marks[2].exists()
