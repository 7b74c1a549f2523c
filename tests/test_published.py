"""RRL's released training logs (../shared/rrl_released_logs) as a reference curve."""

from __future__ import annotations

import json
import shutil

import matplotlib
import numpy as np
import pytest

from rrl import paths
from rrl.published import PUBLISHED_LABEL, draw_published, load_published, published_band
from rrl.results import export_results

matplotlib.use("Agg")


def test_loader_reads_the_released_logs_as_a_tidy_table():
    rows = load_published("door")
    assert {r["seed"] for r in rows} == {10, 11, 12}
    assert len(rows) == 3 * 300
    first = [r for r in rows if r["seed"] == 10][:2]
    # iteration 0 of seed 10: 40,000 samples, success_rate 0.0 %, stochastic return -42.98 (the RRL-code reward)
    assert (first[0]["iteration"], first[0]["samples"], first[0]["success"]) == (0, 40_000, 0.0)
    assert first[0]["return_train"] == pytest.approx(-42.976, abs=1e-3)
    assert first[1]["samples"] == 80_000
    assert {r["task"] for r in load_published()} == {"door", "hammer", "pen", "relocate"}


@pytest.mark.parametrize(
    "task,at_1m,at_2m,at_4m",
    [("door", 27.0, 76.3, 94.7), ("hammer", 6.3, 52.0, 86.2), ("pen", 50.6, 57.4, 68.6), ("relocate", 0.8, 4.2, 43.2)],
)
def test_band_reproduces_the_means_of_the_data_readme(task, at_1m, at_2m, at_4m):
    band = published_band(task)
    assert len(band.seeds) == 3
    for samples, mean in ((1e6, at_1m), (2e6, at_2m), (4e6, at_4m)):
        assert 100 * band.at(samples) == pytest.approx(mean, abs=0.05)
    assert np.all(band.min <= band.mean + 1e-12) and np.all(band.mean <= band.max + 1e-12)
    assert band.at(1000) is None
    level = band.at(2e6)  # the mean reaches its 2M value first at or before 2M samples, and no earlier iteration does
    first = band.first_at_least(level)
    assert first is not None and first <= 2e6 and band.at(first) >= level
    assert np.all(band.mean[band.samples < first] < level)
    assert band.first_at_least(1.01) is None


def test_draw_published_on_an_axis():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert draw_published(ax, "door", max_samples=1e6)
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == PUBLISHED_LABEL]
    x, y = line.get_data()
    assert x.max() <= 1e6 and len(x) == 25
    assert y[-1] == pytest.approx(27.0, abs=0.05)
    plt.close(fig)


def test_missing_or_damaged_logs_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no released RRL logs for task 'door'"):
        load_published("door", root=tmp_path)
    monkeypatch.setenv("RRL_RELEASED_LOGS_DIR", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paths, "_REPO_ROOT", tmp_path / "repo")
    with pytest.raises(FileNotFoundError, match="RRL_RELEASED_LOGS_DIR"):
        paths.released_logs_dir()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert draw_published(ax, "door") is False and not ax.get_lines()
    plt.close(fig)

    run = tmp_path / "logs" / "RRL" / "door-v0" / "door-v0_x_seed10" / "logs"
    run.mkdir(parents=True)
    (run / "log.csv").write_text("iteration,num_samples,success_rate,stoc_pol_mean\n0,40000,oops,-40\n")
    with pytest.raises(ValueError, match=r"log.csv:2: 'oops' is not a number"):
        load_published("door", root=tmp_path / "logs")
    (run / "log.csv").write_text("iteration,samples\n0,40000\n")
    with pytest.raises(ValueError, match="lacks the columns"):
        load_published("door", root=tmp_path / "logs")


def test_export_draws_and_records_the_published_curve(tmp_path):
    """An exported run (a CSV of an earlier export) plotted with the published door band; re-exports keep it."""
    src = tmp_path / "results" / "first"
    src.mkdir(parents=True)
    rows = ["iteration,samples,success_train,success_eval,return_train"]
    rows += [f"{i},{40000 * (i + 1)},{i / 30},{i / 30},{-48 + i}" for i in range(30)]
    (src / "r_s0.csv").write_text("\n".join(rows) + "\n")
    summary = {"run": "r_s0", "command": "rrl train", "resumed_with": [], "commit": "x", "created": None, "seed": 0,
               "config": {}, "iterations": 30, "samples": 1_200_000, "wall_time_s": None, "first_train_ge_90": None,
               "first_eval_ge_90": None, "first_train_ge_80": None, "last_success_train": 0.97,
               "last_success_eval": 0.97, "max_success_train": 0.97}  # fmt: skip
    (src / "meta.json").write_text(json.dumps({"name": "first", "groups": {"ours": [summary]}}))
    out = export_results("door_ref", {"ours": [src / "r_s0.csv"]}, tmp_path / "results", published="door")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["published"] == "door"
    assert "| ours | 1.0M | 1 | 80.0% (80.0-80.0) | 27.0% | +53.0 points |" in meta["comparison"]  # 24/30
    png = (out / "curve.png").read_bytes()
    export_results("door_ref", {"ours": [src / "r_s0.csv"]}, tmp_path / "results", keep_previous=True)
    assert json.loads((out / "meta.json").read_text())["published"] == "door"
    shutil.rmtree(out)
    export_results("door_ref", {"ours": [src / "r_s0.csv"]}, tmp_path / "results")
    assert "published" not in json.loads((out / "meta.json").read_text())
    assert (out / "curve.png").read_bytes() != png  # the band is drawn only when asked for


def test_comparison_at_fixed_samples():
    from rrl.published import compare_at_samples, comparison_markdown

    def log(values: list[float]) -> list[dict[str, str]]:
        return [{"samples": str(40_000 * (i + 1)), "success_train": str(v)} for i, v in enumerate(values)]

    short, long = log([0.5] * 30), log([0.1] * 25 + [0.3] * 29)  # 1.2M and 2.16M samples
    rows = compare_at_samples("door", {"both": [short, long], "long": [long]})
    got = {(r["group"], r["samples"]): r for r in rows}
    assert set(got) == {("both", 400_000), ("both", 1_000_000), ("long", 400_000), ("long", 1_000_000),
                        ("long", 2_000_000)}  # fmt: skip  (a mark counts only where every run got there)
    r = got[("both", 1_000_000)]  # iteration 24 (1.0M): 0.5 and 0.1
    assert r["ours"] == pytest.approx(0.3) and (r["ours_min"], r["ours_max"]) == (0.1, 0.5)
    assert r["published"] == pytest.approx(0.27) and r["difference"] == pytest.approx(0.03)
    assert got[("long", 2_000_000)]["ours"] == pytest.approx(0.3)
    table = comparison_markdown(rows)
    assert "| both | 1.0M | 2 | 30.0% (10.0-50.0) | 27.0% | +3.0 points |" in table
