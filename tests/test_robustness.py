"""Visual-distractor robustness of frozen pixel policies (paper Fig. 4 centre/right, Fig. 11, appendix 7.5)."""

from __future__ import annotations

import csv
import json
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rrl.config import TrainConfig
from rrl.evaluate import evaluate_run
from rrl.experiments.robustness import COLUMNS, frames_figure, main, robustness, write_outputs
from rrl.train import train

CONDITIONS = ["clean", "light_position", "object_color"]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    from rrl.demos import make_expert_demos, save_demos
    from rrl.demos.storage import DemoSet

    demos = make_expert_demos("door", n=2, seed=0)

    def cut(t: dict) -> dict:  # 24 steps per demo: fewer frames to render and encode (the test needs speed only)
        return {k: cut(v) if isinstance(v, dict) else v[:24] for k, v in t.items()}

    demos = DemoSet([cut(t) for t in demos.trajectories], demos.metadata, demos.episode_info)
    return save_demos(demos, tmp_path_factory.mktemp("demos") / "door2.h5")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RRL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rrl-cache"))


@pytest.fixture(scope="module")
def pixel_run(tmp_path_factory, demo_file) -> Path:
    mp = pytest.MonkeyPatch()
    mp.setenv("RRL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rrl-cache"))
    cfg = TrainConfig(
        task="door", obs="rgb+proprio", algo="dapg", demos=str(demo_file), n_demos=2, seed=1, iterations=1,
        trajectories=2, horizon=12, eval_episodes=1, policy_size=(16, 16), vf_size=(16, 16),
        encoder="efficientnet_lite0", render_size=73, image_size=64, n_envs=1, n_groups=1,  # 1 worker: fast start
        out=str(tmp_path_factory.mktemp("run") / "door_pix_s1"),
    )  # fmt: skip
    try:
        return train(cfg, progress=False)
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def rows(pixel_run: Path) -> list[dict]:
    return robustness([pixel_run], episodes=2, distractors=("light_position", "object_color"))


def test_rows_per_condition_and_clean_matches_evaluate_run(rows: list[dict], pixel_run: Path) -> None:
    assert [r["condition"] for r in rows] == CONDITIONS
    for r in rows:
        assert r["run"] == "door_pix_s1" and r["seed"] == 1 and r["task"] == "door"
        assert r["encoder"] == "efficientnet_lite0" and r["episodes"] == 2
        assert 0.0 <= r["success_rate"] <= 1.0 and np.isfinite(r["mean_return"])
        assert set(COLUMNS) <= set(r)
    clean = evaluate_run(pixel_run, 2)  # same (default) seed: the same episodes
    assert rows[0]["success_rate"] == clean.success_rate
    assert rows[0]["mean_return"] == pytest.approx(clean.mean_return)


def test_write_outputs(rows: list[dict], tmp_path: Path) -> None:
    out = write_outputs(rows, tmp_path / "rob", command="python -m rrl.experiments.robustness RUN --episodes 2")
    with open(out / "robustness.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COLUMNS
        read = list(reader)
    assert [r["condition"] for r in read] == CONDITIONS
    assert [float(r["success_rate"]) for r in read] == [r["success_rate"] for r in rows]
    png = out / "robustness.png"
    assert png.stat().st_size > 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads((out / "meta.json").read_text())
    assert meta["command"] == "python -m rrl.experiments.robustness RUN --episodes 2"
    assert meta["episodes"] == [2] and meta["commit"] and meta["date"]
    assert [r["run"] for r in meta["runs"]] == ["door_pix_s1"] and meta["conditions"] == CONDITIONS
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temp files


def test_frames_figure_resamples_each_episode(tmp_path: Path) -> None:
    import imageio.v3 as iio

    size = 48
    path = frames_figure("door", tmp_path / "door_distractors.png", seed=0, render_size=size)
    img = iio.imread(path)
    assert img.shape == (5 * size, 4 * size, 3)  # rows: clean + 4 distractors; columns: 4 resets
    tiles = img.reshape(5, size, 4, size, 3).transpose(0, 2, 1, 3, 4).astype(int)
    clean, light = tiles[0], tiles[1]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(light[i], light[j]), (i, j)  # light moved at each reset
    for i in range(4):
        for j in range(4):
            assert not np.array_equal(clean[i], light[j]), (i, j)
    for row in tiles[2:]:  # every distractor changes the picture of the same initial state
        assert all(not np.array_equal(row[i], clean[i]) for i in range(4))
    assert (tmp_path / "door_distractors_labelled.png").stat().st_size > 0


def test_state_runs_are_rejected(tmp_path: Path, demo_file: Path, pixel_run: Path) -> None:
    cfg = TrainConfig(
        task="door", algo="bc", demos=str(demo_file), n_demos=2, trajectories=1, horizon=12, eval_episodes=1,
        policy_size=(16, 16), out=str(tmp_path / "state_run"),
    )  # fmt: skip
    state_run = train(cfg, progress=False)
    with pytest.raises(ValueError, match="distractors only affect pixels"):
        robustness([pixel_run, state_run], episodes=1)
    with pytest.raises(ValueError, match="unknown distractor"):
        robustness([pixel_run], episodes=1, distractors=("fog",))


def test_cli_argument_errors(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--out", "x"])  # no run folders and no --frames-only
    assert "RUN_DIR" in capsys.readouterr().err
    assert main(["does-not-exist", "--out", "x"]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_writes_outputs_and_prints_table(rows: list[dict], tmp_path: Path, monkeypatch, capsys) -> None:
    import rrl.experiments.robustness as mod

    calls = []

    def fake_robustness(dirs, episodes, distractors, *a, **k):
        calls.append((dirs, episodes, distractors))
        return rows

    def fake_frames(task, out, *a, **k):
        calls.append(("frames", task, Path(out).name))
        return Path(out)

    monkeypatch.setattr(mod, "robustness", fake_robustness)
    monkeypatch.setattr(mod, "frames_figure", fake_frames)
    out = tmp_path / "cli"
    argv = ["run_a", "--episodes", "2", "--distractors", "light_position,object_color", "--out", str(out), "--frames"]
    assert main(argv) == 0
    assert calls == [(["run_a"], 2, ["light_position", "object_color"]), ("frames", "door", "door_distractors.png")]
    printed = capsys.readouterr().out
    assert "| condition | mean success |" in printed and "| light_position |" in printed
    command = json.loads((out / "meta.json").read_text())["command"]
    assert command == shlex.join(["python", "-m", "rrl.experiments.robustness", *argv])
    assert (out / "robustness.csv").is_file() and (out / "robustness.png").is_file()


def test_input_shift_measures_distance_from_the_demos(rows: list[dict], pixel_run: Path, tmp_path: Path) -> None:
    """The evaluation reports mean |z| of the normalised policy inputs; a distractor moves the features."""
    shifts = {r["condition"]: r["input_shift"] for r in rows}
    assert all(np.isfinite(v) and v > 0 for v in shifts.values())
    assert shifts["light_position"] != pytest.approx(shifts["clean"], rel=1e-3)
    clean = evaluate_run(pixel_run, 2)
    assert clean.input_shift == pytest.approx(shifts["clean"])
    out = write_outputs(rows, tmp_path / "rob", command="python -m rrl.experiments.robustness RUN --episodes 2")
    meta = json.loads((out / "meta.json").read_text())
    assert "| condition | mean success |" in meta["table"] and f"{shifts['clean']:.2f}" in meta["table"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a CUDA GPU")
def test_gpu_trained_run_evaluates_on_the_cpu_with_device(pixel_run: Path, tmp_path: Path) -> None:
    """A run whose config says --device cuda fails clearly here, and evaluates with device='cpu'."""
    moved = tmp_path / "from_gpu_box"
    shutil.copytree(pixel_run, moved)
    meta = json.loads((moved / "config.json").read_text())
    meta["config"]["device"] = "cuda"
    (moved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="no CUDA GPU.*--device cpu"):
        evaluate_run(moved, 2)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        robustness([moved], episodes=1, distractors=("light_position",))
    on_cpu = evaluate_run(moved, 2, device="cpu")
    reference = evaluate_run(pixel_run, 2)  # the same policy, encoder and episodes: the same result
    assert on_cpu.success_rate == reference.success_rate
    assert on_cpu.input_shift == pytest.approx(reference.input_shift)
