"""The benchmark scripts under bench/ run end to end at toy sizes (so they cannot rot unnoticed).

Their numbers are not checked here: speed goals live in the benchmarks themselves (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.mark.parametrize("frozen", [0, 1])
def test_dapg_update_bench(tmp_path: Path, frozen: int) -> None:
    out = tmp_path / "update.json"
    text = _run(
        "dapg_update.py", "--trajectories", "2", "--horizon", "10", "--features", "8", "--proprio", "4",
        "--act-dim", "3", "--policy-size", "8,8", "--demos", "2", "--repeats", "1", "--threads", "1",
        "--rl-frozen-layers", str(frozen), "--json", str(out),
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["samples"] == 20 and result["obs_dim"] == 12 and result["rl_frozen_layers"] == frozen
    assert set(result["median_s"]) == {"t_advantages", "t_vf", "t_gradient", "t_cg", "t_step", "t_total"}
    assert all(0.0 < kl <= 2 * 0.05 for kl in result["kl"])  # the normalised step, inside max_kl_ratio
    assert "DAPG update: 20 samples" in text


def test_encoders_bench() -> None:
    text = _run(
        "encoders.py", "--encoders", "efficientnet_lite0", "--sizes", "32", "--batches", "2", "--rounds", "1",
        "--min-time", "0.01", "--threads", "1",
    )  # fmt: skip
    rows = [line for line in text.splitlines() if line.startswith("| efficientnet_lite0 |")]
    assert {row.split("|")[4].strip() for row in rows} == {"torch", "onnxruntime"}


def test_sampler_bench() -> None:
    text = _run(
        "sampler.py", "--size", "40", "--crop", "32", "--n-envs", "2", "--n-groups", "1", "--naive-steps", "5",
        "--trajectories", "2", "--horizon", "10",
    )  # fmt: skip
    for method in ("(a) naive loop", "(b) rrl PipelinedSampler", "(c) ceiling"):
        assert any(line.startswith(f"| {method}") for line in text.splitlines()), text


def test_sac_bench(tmp_path: Path) -> None:
    out = tmp_path / "sac.json"
    text = _run("sac.py", "--obs-dims", "6,300", "--act-dim", "3", "--hidden", "8,8", "--batch", "8", "--updates", "3",
                "--buffer", "50", "--threads", "1", "--actors", "sac,awac", "--json", str(out))  # fmt: skip
    rows = json.loads(out.read_text())["rows"]
    assert [(r["actor"], r["obs_dim"]) for r in rows] == [("sac", 6), ("sac", 300), ("awac", 6), ("awac", 300)]
    assert all(r["updates_per_s"] > 0 for r in rows)
    assert "SAC update (awac actor): 300 inputs" in text
