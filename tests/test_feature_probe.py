"""rrl.experiments.feature_probe: the ridge probe on data with a known answer, and a small real run on door."""

import csv
import json

import numpy as np
import pytest

from rrl.experiments import feature_probe as fp


def synthetic(n_groups: int = 40, per_group: int = 3, dim: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), per_group)
    x = rng.normal(size=(len(groups), dim))
    return rng, groups, x


def test_ridge_probe_recovers_a_linear_target_and_not_noise():
    rng, groups, x = synthetic()
    w = rng.normal(size=(x.shape[1], 2))
    y_linear = x @ w + 0.05 * rng.normal(size=(len(x), 2))
    y_noise = rng.normal(size=(len(x), 1))
    good = fp.ridge_probe(x, y_linear, groups)
    bad = fp.ridge_probe(x, y_noise, groups)
    assert good["r2"].shape == (2,) and np.all(good["r2"] > 0.95)
    assert bad["r2"][0] < 0.1
    assert good["n_train"] + good["n_test"] == len(x) and good["n_test"] == 10 * 3  # 25% of 40 groups, whole groups


def test_ridge_probe_holds_out_whole_groups():
    """A target that is a per-group constant x-independent code is unreadable on unseen groups: R^2 ~ 0 or below,
    although a probe that saw the test groups could memorise it."""
    rng, groups, _ = synthetic(per_group=5)
    x = np.eye(groups.max() + 1)[groups] + 0.01 * rng.normal(size=(len(groups), groups.max() + 1))
    y = rng.normal(size=groups.max() + 1)[groups]
    assert fp.ridge_probe(x, y, groups)["r2"][0] < 0.1


def test_ridge_probe_rejects_bad_input():
    _, groups, x = synthetic(n_groups=6)
    with pytest.raises(ValueError, match="at least 10 groups"):
        fp.ridge_probe(x, x[:, :1], groups)
    with pytest.raises(ValueError, match="one row per sample"):
        fp.ridge_probe(x, x[:-1, :1], groups)


@pytest.mark.parametrize("spec", ["efficientnet_lite0", "resnet34@", "resnet34@8", "@128", "pixels8@x"])
def test_parse_representation_rejects_malformed_specs(spec):
    with pytest.raises(ValueError, match="ENCODER@SIZE"):
        fp.parse_representation(spec)


def test_parse_representation():
    assert fp.parse_representation("random:resnet34@128") == ("random:resnet34", 128)
    assert fp.parse_representation("proprio") == ("proprio", None)
    from rrl.encoders.preprocessing import resize_size  # the render size of the probe's frames

    assert resize_size(224) == 256 and resize_size(128) == 146


def test_collect_door_targets_vary_and_proprio_sees_nothing_at_reset():
    data = fp.collect("door", episodes=8, steps=(0, 4))
    assert len(data.states) == 16 and list(data.episode[:4]) == [0, 0, 1, 1]
    assert data.names == ("frame x", "frame y", "frame z")
    assert data.targets.shape == (16, len(data.names))
    assert np.all(data.targets[0::2].std(axis=0) > 1e-3)  # the door frame moves between episodes
    np.testing.assert_array_equal(data.targets[0::2], data.targets[1::2])  # ... and not within one
    assert data.proprio.shape == (16, 24)
    assert np.ptp(data.proprio[0::2], axis=0).max() < 1e-9  # the hand starts in the same pose every episode
    assert np.ptp(data.proprio[1::2], axis=0).max() > 1e-3  # random actions move it


def test_palm_target_is_read_from_the_arm_joints_not_the_hand_joints():
    """``palm=True``: the palm position is a target; the arm joints (``proprio+arm``) predict it, the hand joints
    alone hardly (random actions move arm and fingers independently; the wrist joints move the palm a little)."""
    data = fp.collect("door", episodes=24, steps=(5, 10, 20), palm=True)
    assert data.names == ("frame x", "frame y", "frame z", "palm x", "palm y", "palm z")
    assert data.arm.shape == (72, 4)
    palm = data.targets[:, 3:]
    r2 = {}
    for spec in ("proprio", "proprio+arm"):
        res = fp.ridge_probe(fp.features(data, spec), palm, data.episode)
        r2[spec] = res["r2"]
    assert r2["proprio+arm"].min() > 0.8 and r2["proprio"].max() < 0.5, r2


def test_main_writes_outputs(tmp_path, isolated_caches, capsys):
    out = tmp_path / "probe"
    rc = fp.main(["--task", "door", "--episodes", "12", "--steps", "0", "--representations",
                  "efficientnet_lite0@48,pixels8@48,proprio", "--cameras", "top,fixed", "--out", str(out)])  # fmt: skip
    assert rc == 0
    with open(out / "probe.csv") as f:
        rows = list(csv.DictReader(f))
    reps = [r["representation"] for r in rows]
    assert sorted(set(reps)) == ["efficientnet_lite0@48", "pixels8@48", "proprio"]
    assert {r["dim"] for r in rows if r["representation"] == "pixels8@48"} == {"384"}  # 2 cameras x 8 x 8 cells x RGB
    assert {r["dim"] for r in rows if r["representation"] == "efficientnet_lite0@48"} == {"2560"}  # views side by side
    assert all(np.isfinite(float(r["r2"])) for r in rows)
    # At reset the hand pose is the same in every episode: proprioception cannot beat the training mean.
    assert all(float(r["r2"]) <= 1e-6 for r in rows if r["representation"] == "proprio")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["command"].startswith("rrl experiment feature_probe --task door") and meta["frames"] == 12
    assert (out / "probe.png").stat().st_size > 1000
    assert "efficientnet_lite0@48" in capsys.readouterr().out
    png = (out / "probe.png").read_bytes()
    (out / "probe.png").unlink()
    assert fp.main(["--out", str(out), "--plot-only"]) == 0  # redrawn from probe.csv and meta.json alone
    assert (out / "probe.png").read_bytes() == png
    assert json.loads((out / "meta.json").read_text())["title"] == meta["title"]
    assert meta["title"].startswith("Feature probe, door (camera top+fixed)")


def test_plot_only_needs_an_earlier_run(tmp_path, capsys):
    assert fp.main(["--out", str(tmp_path), "--plot-only"]) == 2
    assert "run the probe into" in capsys.readouterr().err


def test_main_reports_bad_arguments(tmp_path, capsys):
    assert fp.main(["--out", str(tmp_path), "--representations", "resnet34"]) == 2
    assert "ENCODER@SIZE" in capsys.readouterr().err
    assert fp.main(["--out", str(tmp_path), "--episodes", "3", "--representations", "proprio"]) == 2
    assert "at least 8" in capsys.readouterr().err
    assert not (tmp_path / "probe.csv").exists()


def test_cli_routes_to_the_probe(tmp_path, capsys):
    from rrl.cli import main

    assert main(["experiment", "feature_probe", "--out", str(tmp_path), "--representations", "resnet34"]) == 2
    assert "ENCODER@SIZE" in capsys.readouterr().err


def test_main_rejects_an_unknown_camera(tmp_path, capsys):
    assert fp.main(["--out", str(tmp_path), "--cameras", "nope", "--representations", "proprio"]) == 2
    assert "valid cameras" in capsys.readouterr().err
