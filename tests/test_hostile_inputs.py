"""Hostile and careless inputs: each gets a non-zero exit and one line saying what is wrong, and every file that
was in the run folder before is byte-for-byte unchanged after (real CLI calls on a real tiny run)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from rrl.checkpoint import read_checkpoint, write_checkpoint
from rrl.cli import main

TINY = ["--task", "door", "--algo", "dapg", "--trajectories", "2", "--horizon", "20", "--iterations", "2",
        "--eval-episodes", "1", "--policy-size", "8,8", "--vf-size", "8,8", "--n-demos", "2", "--threads", "1",
        "--no-progress"]  # fmt: skip


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _fails_with_one_line(capsys, argv: list[str], match: str) -> str:
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc != 0, f"{argv} exited 0"
    assert len(lines) == 1, f"{argv} printed {len(lines)} lines:\n{err}"
    assert match.lower() in lines[0].lower(), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A real finished run (2 iterations, door from state) written by the CLI."""
    out = tmp_path_factory.mktemp("hostile") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "run"))


def _legacy(run: Path, edit: Callable[[dict], None]) -> None:
    """Rewrite the checkpoint as a plain (pre-checksum) state dict after ``edit``: a hand-crafted file."""
    state = read_checkpoint(run / "checkpoint.pt")
    edit(state)
    torch.save(state, run / "checkpoint.pt")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/rrl-hostile-pwned",))


def _pickle_bomb(path: Path) -> None:
    """A plain pickle whose loading would run a command (weights_only must refuse it)."""
    with open(path, "wb") as f:
        pickle.dump({"policy": _Exploit()}, f)


CHECKPOINT_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (lambda r: (r / "checkpoint.pt").write_bytes((r / "checkpoint.pt").read_bytes()[:500]),
                  "cannot read the checkpoint"),
    "empty": (lambda r: (r / "checkpoint.pt").write_bytes(b""), "is empty"),
    "random bytes": (lambda r: (r / "checkpoint.pt").write_bytes(np.random.default_rng(0).bytes(4096)),
                     "cannot read the checkpoint"),
    "code payload": (lambda r: _pickle_bomb(r / "checkpoint.pt"), "cannot read the checkpoint"),
    "negative next_iteration": (lambda r: _legacy(r, lambda s: s.update(next_iteration=-3)), "next_iteration = -3"),
    "next_iteration past the log": (lambda r: _legacy(r, lambda s: s.update(next_iteration=50)), "lacks 48 of them"),
    "NaN weights": (lambda r: _legacy(r, lambda s: next(iter(s["policy"].values())).fill_(float("nan"))), "NaN"),
    "stride-0 tensor": (lambda r: _legacy(r, lambda s: s["policy"].update(bomb=torch.zeros(1).expand(1 << 29))),
                        "elements"),
    "wrong shapes": (lambda r: _legacy(r, lambda s: s["policy"].update({"net.0.weight": torch.zeros(3, 3)})),
                     "does not fit this run"),
    "missing keys": (lambda r: torch.save({"format": 1}, r / "checkpoint.pt"), "not an rrl training checkpoint"),
}  # fmt: skip


def _flip_a_bit(run: Path) -> None:
    data = bytearray((run / "checkpoint.pt").read_bytes())
    data[len(data) // 2] ^= 0x10
    (run / "checkpoint.pt").write_bytes(bytes(data))


CHECKPOINT_CASES["bit flip"] = (_flip_a_bit, "checksum")


@pytest.mark.parametrize("case", list(CHECKPOINT_CASES))
def test_a_bad_checkpoint_is_refused_by_resume_and_eval(case, run, capsys):
    corrupt, match = CHECKPOINT_CASES[case]
    corrupt(run)
    before = _hashes(run)
    _fails_with_one_line(capsys, ["train", "--resume", str(run), "--iterations", "4", "--no-progress"], match)
    assert _hashes(run) == before  # config.json does not record the refused --iterations 4, log.csv is whole
    if case != "next_iteration past the log":  # eval reads the policy only
        _fails_with_one_line(capsys, ["eval", str(run), "--episodes", "1"], "checkpoint")
        assert _hashes(run) == before
    assert not Path("/tmp/rrl-hostile-pwned").exists()


def _edit_config(run: Path, edit: Callable[[dict], None]) -> None:
    meta = json.loads((run / "config.json").read_text())
    edit(meta)
    (run / "config.json").write_text(json.dumps(meta))


CONFIG_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "seed edited": (lambda r: _edit_config(r, lambda m: m["config"].update(seed=7)), "['seed']"),
    "reward edited": (lambda r: _edit_config(r, lambda m: m["config"].update(reward="dense")), "['reward']"),
    "wrong type": (lambda r: _edit_config(r, lambda m: m["config"].update(iterations="abc")), "'iterations'"),
    "list for a number": (lambda r: _edit_config(r, lambda m: m["config"].update(rl_step_size=[1])), "'rl_step_size'"),
    "no config key": (lambda r: _edit_config(r, lambda m: m.pop("config")), "no 'config' object"),
    "not JSON": (lambda r: (r / "config.json").write_text("{not json"), "not valid JSON"),
    "NaN step size": (lambda r: _edit_config(r, lambda m: m["config"].update(rl_step_size=float("nan"))),
                      "finite"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_a_bad_config_json_is_refused(case, run, capsys):
    corrupt, match = CONFIG_CASES[case]
    corrupt(run)
    before = _hashes(run)
    _fails_with_one_line(capsys, ["train", "--resume", str(run), "--no-progress"], match)
    assert _hashes(run) == before


@pytest.mark.parametrize(
    "flags,match",
    [
        (["--rl-step-size", "nan"], "--rl-step-size"),
        (["--init-log-std", "nan"], "--init-log-std"),
        (["--lam-0", "inf"], "--lam-0"),
        (["--bc-lr", "inf"], "--bc-lr"),
        (["--vf-lr", "nan"], "--vf-lr"),
        (["--cg-damping", "inf"], "--cg-damping"),
        (["--policy-size", "0"], "--policy-size"),
        (["--policy-size", "-4"], "--policy-size"),
        (["--seed", "-1"], "--seed"),
        (["--demo-seed", "-2"], "--demo-seed"),
    ],
)
def test_bad_flags_fail_before_anything_runs(flags, match, tmp_path, capsys):
    _fails_with_one_line(capsys, ["train", *TINY, *flags, "--out", str(tmp_path / "new")], match)
    assert not (tmp_path / "new").exists()


def test_a_folder_with_the_users_files_is_never_overwritten(tmp_path, capsys):
    mine = tmp_path / "u"
    mine.mkdir()
    for name in ("log.csv", "config.json", "demos.h5", "summary.json", "curve.png"):
        (mine / name).write_text("mine\n")
    before = _hashes(mine)
    _fails_with_one_line(capsys, ["train", *TINY, "--out", str(mine)], "new or empty --out folder")
    assert _hashes(mine) == before


def test_eval_refuses_a_negative_episode_count(run, capsys):
    before = _hashes(run)
    _fails_with_one_line(capsys, ["eval", str(run), "--episodes", "-1"], "--episodes")
    assert _hashes(run) == before


def test_an_empty_encoder_weights_file(tmp_path, capsys):
    empty = tmp_path / "weights.pth"
    empty.write_bytes(b"")
    _fails_with_one_line(
        capsys,
        ["train", *TINY, "--obs", "rgb+proprio", "--encoder", "resnet18", "--encoder-weights", str(empty),
         "--out", str(tmp_path / "new")],  # fmt: skip
        "not a readable state dict",
    )
    assert not (tmp_path / "new").exists()


def _demo_file(run: Path, tmp_path: Path, edit: Callable) -> Path:
    import h5py

    path = tmp_path / "demos.h5"
    shutil.copyfile(run / "demos.h5", path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def test_nan_demonstrations_are_refused(run, tmp_path, capsys):
    def poison(f):
        ep = f["episodes"][sorted(f["episodes"])[0]]
        actions = ep["actions"][()]
        actions[3, 2] = np.nan
        ep["actions"][...] = actions

    path = _demo_file(run, tmp_path, poison)
    _fails_with_one_line(capsys, ["train", *TINY, "--demos", str(path), "--out", str(tmp_path / "new")], "NaN")
    assert not (tmp_path / "new").exists()


def test_a_demo_file_declaring_terabytes_is_refused_before_reading(run, tmp_path, capsys):
    def bomb(f):
        ep = f["episodes"][sorted(f["episodes"])[0]]
        del ep["actions"]
        ep.create_dataset("actions", shape=(1 << 38, 28), dtype="f4", chunks=(1024, 28), compression="gzip")

    path = _demo_file(run, tmp_path, bomb)
    assert path.stat().st_size < 10 << 20  # a small file ...
    _fails_with_one_line(capsys, ["train", *TINY, "--demos", str(path), "--out", str(tmp_path / "new")],
                         "declares")  # fmt: skip  ... that claims about 30 TB once decompressed


def test_a_full_disk_gives_one_line_and_leaves_the_run_intact(run, capsys, monkeypatch):
    import errno
    import tempfile

    import rrl.paths

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rrl.paths.tempfile, "mkstemp", full)
    before = _hashes(run)
    line = _fails_with_one_line(capsys, ["train", "--resume", str(run), "--iterations", "3", "--no-progress"],
                                "no space left on device")  # fmt: skip
    assert "--resume" in line
    monkeypatch.setattr(rrl.paths.tempfile, "mkstemp", tempfile.mkstemp)
    assert _hashes(run) == before


def test_resume_removes_temporaries_of_a_killed_write_and_continues(run, capsys):
    (run / ".checkpoint.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    (run / ".log.csv.xyz.tmp").write_text("iteration\n")
    assert main(["train", "--resume", str(run), "--iterations", "3", "--no-progress"]) == 0
    assert not list(run.glob(".*.tmp"))
    assert read_checkpoint(run / "checkpoint.pt")["next_iteration"] == 3


def test_a_legacy_checkpoint_without_checksum_still_resumes(run):
    _legacy(run, lambda s: None)
    assert main(["train", "--resume", str(run), "--iterations", "3", "--no-progress"]) == 0
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["format"] == "rrl-checkpoint" and len(state["sha256"]) == 64  # rewritten with its checksum


def test_write_checkpoint_round_trip(tmp_path):
    path = tmp_path / "c.pt"
    write_checkpoint(path, {"x": torch.arange(3)})
    wrapped = torch.load(path, weights_only=True)
    inner = torch.load(io.BytesIO(wrapped["payload"].numpy().tobytes()), weights_only=True)
    assert torch.equal(inner["x"], torch.arange(3))
    assert hashlib.sha256(wrapped["payload"].numpy().tobytes()).hexdigest() == wrapped["sha256"]


def test_nan_demonstrations_are_never_written(run):
    from rrl.demos import load_demos, save_demos

    demos = load_demos(run / "demos.h5")
    demos.trajectories[1]["observations"][5, 0] = np.inf
    target = run / "nan_demos.h5"
    with pytest.raises(ValueError, match="demonstration 1 holds NaN or inf in 'observations'"):
        save_demos(demos, target)
    assert not target.exists() and not list(run.glob(".*.tmp"))


def test_an_expert_that_fails_inside_train_gives_one_line(tmp_path, capsys, monkeypatch):
    import rrl.demos

    def failing(task, n, seed, **kwargs):
        raise RuntimeError(f"only 3 of 100 expert episodes of {task} succeeded, {n} needed")

    monkeypatch.setenv("RRL_CACHE_DIR", str(tmp_path / "cache"))  # no cached expert demos
    monkeypatch.setattr(rrl.demos, "make_expert_demos", failing)
    _fails_with_one_line(capsys, ["train", *TINY, "--out", str(tmp_path / "new")], "cannot make expert demonstrations")
    assert not (tmp_path / "new").exists()


def _signal_after_first_checkpoint(proc, run, delay: float, signum: int) -> None:
    """Send ``signum`` to the ``rrl train`` process ``proc`` ``delay`` seconds after ``run`` has its first
    checkpoint (or once it has exited or 300 s have passed)."""
    import time

    deadline = time.monotonic() + 300
    while not (run / "checkpoint.pt").is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(signum)


@pytest.mark.parametrize("delay", [0.0, 0.35])
def test_kill_9_during_training_resumes_exactly(tmp_path, delay):
    """A real ``kill -9`` of ``rrl train`` at two moments after its first checkpoint; the resumed run's log rows and
    final weights equal an uninterrupted run's."""
    import signal
    import subprocess
    import sys

    from rrl.train import read_log

    argv = [sys.executable, "-m", "rrl.cli", "train", *TINY, "--iterations", "4"]
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run([*argv, "--out", str(reference)], check=True, capture_output=True)
    proc = subprocess.Popen([*argv, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _signal_after_first_checkpoint(proc, killed, delay, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert main(["train", "--resume", str(killed), "--no-progress"]) == 0
    timing = ("t_", "wall_time", "rss_peak_mb")
    rows = [[{k: v for k, v in r.items() if not k.startswith(timing)} for r in read_log(d / "log.csv")]
            for d in (reference, killed)]  # fmt: skip
    assert rows[0] == rows[1] and len(rows[0]) == 4
    a, b = read_checkpoint(reference / "checkpoint.pt"), read_checkpoint(killed / "checkpoint.pt")
    for key in a["policy"]:
        assert torch.equal(a["policy"][key], b["policy"][key]), key


def test_sigterm_stops_training_cleanly_and_the_run_resumes(tmp_path):
    """``kill`` (SIGTERM) of ``rrl train`` with worker processes: exit status 130, one line saying how to continue,
    no worker tracebacks, and the folder resumes."""
    import signal
    import subprocess
    import sys

    from rrl.train import read_log

    run = tmp_path / "run"
    tiny = [a for a in TINY if a != "--no-progress"]  # with the progress bar
    argv = [sys.executable, "-m", "rrl.cli", "train", *tiny, "--iterations", "500", "--workers", "2", "--out", str(run)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _signal_after_first_checkpoint(proc, run, 0.2, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"rrl train --resume {run}" in err and "Traceback" not in err and "BrokenPipe" not in err, err
    stop = err.index("stopped: continue")  # the progress bar, closed once, is not redrawn after the message
    assert err[stop:].splitlines()[1:] == ["rrl train: interrupted"] and err[:stop].count(" 0/500 ") == 1, err
    done = len(read_log(run / "log.csv"))
    assert 1 <= done < 500
    assert main(["train", "--resume", str(run), "--iterations", str(done + 1), "--no-progress"]) == 0
    assert len(read_log(run / "log.csv")) == done + 1


def test_a_stop_before_the_first_iteration_says_how_to_continue(tmp_path, monkeypatch, capsys):
    """Ctrl-C while the environment workers start, after the run folder exists: the same line as later stops,
    and ``--resume`` then starts the run from the beginning. (A stop while the inputs load leaves no folder.)"""
    import rrl.run.loop as loop
    from rrl.train import read_log

    start = loop.make_default_sampler

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "make_default_sampler", stop)
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run)]) == 130
    err = capsys.readouterr().err
    assert f"stopped: continue {run} from its last checkpoint with `rrl train --resume {run}`" in err, err
    assert (run / "config.json").is_file() and not (run / "checkpoint.pt").exists()
    monkeypatch.setattr(loop, "make_default_sampler", start)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0 and len(read_log(run / "log.csv")) == 2


BC_POLICY_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing": (lambda r: (r / "bc_policy.pt").unlink(), "not found"),
    "random bytes": (lambda r: (r / "bc_policy.pt").write_bytes(np.random.default_rng(1).bytes(4096)), "cannot read"),
    "code payload": (lambda r: _pickle_bomb(r / "bc_policy.pt"), "cannot read"),
    "not weights": (lambda r: torch.save({"format": 1}, r / "bc_policy.pt"), "no policy weights"),
    "NaN weights": (lambda r: torch.save({"log_std": torch.full((28,), float("nan"))}, r / "bc_policy.pt"), "NaN"),
    "wrong shapes": (lambda r: torch.save({"in_shift": torch.zeros(3), "out_shift": torch.zeros(2)},
                                          r / "bc_policy.pt"), "does not match"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BC_POLICY_CASES))
def test_a_bad_bc_policy_is_refused_by_eval(case, run, capsys):
    corrupt, match = BC_POLICY_CASES[case]
    corrupt(run)
    before = _hashes(run)
    _fails_with_one_line(capsys, ["eval", str(run), "--episodes", "1", "--policy", "bc"], match)
    assert _hashes(run) == before
    assert main(["eval", str(run), "--episodes", "1", "--no-progress"]) == 0  # the final policy is unaffected
    assert not Path("/tmp/rrl-hostile-pwned").exists()
