"""``rrl experiment NAME --jobs N``: the experiment's runs, N at a time, each in a process of its own.

Each (task, variant, seed) is the same ``rrl experiment NAME --tasks T --variants V --seeds S --no-export``
call that one would type, started as a subprocess (a fresh interpreter: no EGL context, onnxruntime or torch
thread pool crosses a fork), its output appended to ``<run folder>.log`` beside the run folder. When every run
has ended, the parent exports the results folders once (``--export-only``), so concurrent runs never write
``results/`` at the same time. A SIGTERM or Ctrl-C to the parent is passed on to the running children, which
checkpoint and stop as ``rrl train`` does; a re-run resumes them.

>>> rrl experiment main --scale cpu --seeds 0,1 --tasks hammer,pen --jobs 2 --threads 1
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: How the children start: the CLI's entry point in a fresh interpreter.
CHILD = "import sys; from rrl.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass(frozen=True)
class Cell:
    """One run of the grid: its place, the ``rrl`` arguments that train it and its log file."""

    task: str
    variant: str  # the variant's slug
    seed: int
    args: tuple[str, ...]
    log: Path

    @property
    def label(self) -> str:
        return f"{self.task}/{self.variant}_s{self.seed}"


def grid(name: str, runs: list[dict], slugs: dict[str, str], common: list[str]) -> list[Cell]:
    """The cells of ``runs`` (``run_experiment(..., dry_run=True)["runs"]``; ``slugs``: variant label -> slug),
    each trained by ``rrl experiment name ... --no-export`` with the ``common`` options (scale, roots, overrides)."""
    cells = []
    for r in runs:
        slug = slugs[r["variant"]]
        args = ("experiment", name, "--tasks", r["task"], "--variants", slug, "--seeds", str(r["seed"]), *common,
                "--no-export")  # fmt: skip
        cells.append(Cell(r["task"], slug, int(r["seed"]), args, Path(r["out"]).with_suffix(".log")))
    return cells


def run_parallel(cells: list[Cell], jobs: int, poll_s: float = 0.5) -> dict[str, int]:
    """Train ``cells`` with at most ``jobs`` at once; each cell's exit status by label (0: trained or already
    finished). A KeyboardInterrupt (SIGTERM in the CLI) stops the running children with SIGTERM and is re-raised."""
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    pending = list(cells)
    running: dict[subprocess.Popen[bytes], tuple[Cell, IO[bytes]]] = {}
    status: dict[str, int] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                cell = pending.pop(0)
                cell.log.parent.mkdir(parents=True, exist_ok=True)
                log = open(cell.log, "ab")  # noqa: SIM115 (closed when the child ends)
                proc = subprocess.Popen([sys.executable, "-c", CHILD, *cell.args], stdout=log, stderr=subprocess.STDOUT)
                running[proc] = (cell, log)
                print(f"started {cell.label} (log: {cell.log})", file=sys.stderr, flush=True)
            time.sleep(poll_s)
            for proc in [p for p in running if p.poll() is not None]:
                cell, log = running.pop(proc)
                log.close()
                status[cell.label] = proc.returncode
                ended = "finished" if proc.returncode == 0 else f"failed (exit {proc.returncode}; see {cell.log})"
                print(f"{ended}: {cell.label}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc, (cell, log) in running.items():
            proc.wait()
            log.close()
            print(f"stopped: {cell.label} (resumes on a re-run)", file=sys.stderr, flush=True)
        raise
    return status


__all__ = ["CHILD", "Cell", "grid", "run_parallel"]
