"""Where rrl looks for external data and where it caches derived artefacts."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_REPO_ROOT = Path(__file__).resolve().parents[2]


def hand_dapg_dir() -> Path:
    """Folder with the published hand_dapg files (demonstrations/, policies/).

    Resolution order: ``$RRL_HAND_DAPG_DIR``, ``<cwd>/../shared/hand_dapg``, ``<repo>/../shared/hand_dapg``.
    Raises FileNotFoundError naming every place tried and how to point rrl at the data.
    """
    env = os.environ.get("RRL_HAND_DAPG_DIR")
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd().parent / "shared" / "hand_dapg", _REPO_ROOT.parent / "shared" / "hand_dapg"]
    for path in candidates:
        if path.is_dir():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"hand_dapg data folder not found (tried: {tried}). Set RRL_HAND_DAPG_DIR to the folder that holds "
        "demonstrations/ and policies/ from the public hand_dapg release (commands that fetch them: docs/demos.md, "
        "'Getting the data')."
    )


def released_logs_dir() -> Path:
    """Folder with RRL's released training logs (``RRL/<task>-v0/<run>/logs/log.csv``).

    Resolution order: ``$RRL_RELEASED_LOGS_DIR``, ``<cwd>/../shared/rrl_released_logs``,
    ``<repo>/../shared/rrl_released_logs``. Raises FileNotFoundError naming every place tried.
    """
    env = os.environ.get("RRL_RELEASED_LOGS_DIR")
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd().parent / "shared" / "rrl_released_logs"]
    candidates += [_REPO_ROOT.parent / "shared" / "rrl_released_logs"]
    for path in candidates:
        if (path / "RRL").is_dir():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"RRL's released training logs not found (tried: {tried}). Set RRL_RELEASED_LOGS_DIR to the folder that "
        "holds RRL/<task>-v0/ (experiment_logs/ of the public facebookresearch/RRL repository; docs/demos.md, "
        "'Getting the data'), or plot without the published curve."
    )


def cache_dir() -> Path:
    """User cache folder (``$RRL_CACHE_DIR`` or ``~/.cache/rrl``), created on demand."""
    path = Path(os.environ.get("RRL_CACHE_DIR", Path.home() / ".cache" / "rrl"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def git_commit(path: str | Path | None = None) -> str:
    """Short commit of the rrl checkout (``+dirty`` with uncommitted changes to tracked files), or ``unknown``
    (an installed wheel, no git). Recorded in every run folder's ``config.json``."""
    import subprocess

    cwd = Path(path) if path is not None else _REPO_ROOT
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def current_umask() -> int:
    """The process's file mode creation mask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], Any], binary: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    A crash or an exception leaves the previous file untouched and no temporary file behind. The file gets the
    usual permissions (``mkstemp`` alone would make it owner-only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": "", "encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
