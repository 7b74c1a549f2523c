"""rrl.experiments.compute_cost: FLOP counting against an analytic count, and the run() outputs."""

import csv
import json
import math

import pytest

from rrl.experiments import compute_cost


def conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def resnet18_flops(s: int) -> float:
    """Analytic FLOPs (2 per multiply-add) of torchvision ResNet-18's convolutions up to global pooling."""
    macs = 0
    h = conv_out(s, 7, 2, 3)
    macs += h * h * 64 * 3 * 7 * 7  # conv1
    h = conv_out(h, 3, 2, 1)  # max pool
    c_in = 64
    for stage, c in enumerate((64, 128, 256, 512)):
        stride = 1 if stage == 0 else 2
        for block in range(2):
            st = stride if block == 0 else 1
            h_out = conv_out(h, 3, st, 1)
            macs += h_out * h_out * c * c_in * 9  # first 3x3
            macs += h_out * h_out * c * c * 9  # second 3x3
            if st != 1 or c_in != c:
                macs += h_out * h_out * c * c_in  # 1x1 downsample
            h, c_in = h_out, c
    return 2.0 * macs


def test_resnet18_flops_match_analytic_count():
    flops64 = compute_cost.encoder_flops("random:resnet18", image_size=64)
    assert flops64 == pytest.approx(resnet18_flops(64), rel=0.01)
    # The classifier head (512 x 1000 multiply-adds) is not counted: it would add ~1 MFLOP.
    assert resnet18_flops(224) == pytest.approx(3.64e9, rel=0.01)  # the analytic count is the textbook 1.82 GMACs
    flops224 = compute_cost.encoder_flops("random:resnet18", image_size=224)
    assert flops224 == pytest.approx(3.64e9, rel=0.02)
    assert flops224 / flops64 == pytest.approx((224 / 64) ** 2, rel=0.05)  # ~ proportional to pixels


def test_run_writes_csv_png_meta(tmp_path):
    encoders = ["random:resnet18", "efficientnet_lite0"]
    rows = compute_cost.run(
        tmp_path, image_size=32, encoders=",".join(encoders), repeats=1, backends=("torch",), threads=1
    )

    with open(tmp_path / "compute_cost.csv", newline="") as f:
        reader = csv.DictReader(f)
        table = list(reader)
    assert reader.fieldnames == compute_cost.columns(["torch"])
    for col in ("gflops_per_frame", "ms_per_frame_b1_torch", "ms_per_frame_b32_torch", "hours_4m_b1", "hours_4m_b32"):
        assert col in reader.fieldnames
    assert [r["encoder"] for r in table] == [*encoders, compute_cost.STATE_ROW]
    assert len(rows) == len(table)

    for r in table:
        for batch in (1, 32):
            seconds = float(r[f"ms_per_frame_b{batch}"]) / 1e3
            assert float(r[f"hours_4m_b{batch}"]) == pytest.approx(4e6 * seconds / 3600, rel=1e-9, abs=1e-12)
        assert float(r["pflops_4m"]) == pytest.approx(4e6 * float(r["gflops_per_frame"]) * 1e9 / 1e15, rel=1e-9)
    for r in table[:-1]:
        assert float(r["gflops_per_frame"]) > 0 and float(r["ms_per_frame_b1_torch"]) > 0
        assert r["best_backend_b1"] == r["best_backend_b32"] == "torch"
        assert float(r["ms_per_frame_b1"]) == float(r["ms_per_frame_b1_torch"])
    state = table[-1]
    assert float(state["hours_4m_b1"]) == float(state["gflops_per_frame"]) == 0.0
    # ResNet-18 at 32 px: the analytic count (one 1x1 spatial map in layer4).
    assert float(table[0]["gflops_per_frame"]) * 1e9 == pytest.approx(resnet18_flops(32), rel=0.01)

    png = (tmp_path / "compute_cost.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["image_size"] == 32 and meta["steps"] == 4_000_000
    assert meta["cpu_count"] >= 1 and meta["versions"]["torch"] and "onnxruntime" in meta["versions"]
    assert "run(" in meta["command"] and meta["date"]
    assert meta["per_encoder"]["efficientnet_lite0"]["torch"]["threads"] == 1
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temp files


def test_unknown_encoder_names_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="resnet34") as err:
        compute_cost.run(tmp_path, encoders="resnet99", backends=("torch",))
    assert "efficientnet_lite0" in str(err.value) and "resnet99" in str(err.value)
    assert not (tmp_path / "compute_cost.csv").exists()
    with pytest.raises(ValueError, match="onnxruntime"):
        compute_cost.run(tmp_path, encoders="random:resnet18", backends=("tensorrt",))


def test_main_rejects_unknown_encoder(capsys):
    with pytest.raises(SystemExit):
        compute_cost.main(["--out", "unused", "--encoders", "nope"])
    assert "valid:" in capsys.readouterr().err


def test_hours_for_steps():
    assert compute_cost.hours_for_steps(0.036) == pytest.approx(40.0)
    assert math.isclose(compute_cost.hours_for_steps(1.0, steps=3600), 1.0)
