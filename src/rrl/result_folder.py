"""One writer for the results folders that are not training-curve exports (compute cost, robustness, probes...).

>>> write_result_folder("results/robustness_door", title="Robustness, door", command="python -m ...",
...                     files={"robustness.csv": csv_file(rows, COLUMNS), "robustness.png": fig},
...                     extra_meta={"episodes": [75]})

Every file is written atomically (:func:`rrl.paths.atomic_write`), ``meta.json`` last, so a folder whose
``meta.json`` is new holds the files it describes. ``meta.json`` starts with the fields every result records
(title, command, commit, date in UTC, library versions; note and table when given), then the producer's own.
Files of the folder that the call does not name are left as they are.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import platform
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from rrl.paths import atomic_write, git_commit

#: Distributions whose versions a result records (``None`` where one is not installed).
VERSIONED_PACKAGES = ("rrl", "numpy", "torch", "onnxruntime", "mujoco", "gymnasium", "gymnasium-robotics",
                      "matplotlib")  # fmt: skip

#: Files a callable writes as text (any other name gets a binary file).
TEXT_SUFFIXES = (".csv", ".json", ".md", ".txt", ".tsv")

#: The fields :func:`write_result_folder` writes itself; ``extra_meta`` may not set them.
COMMON_FIELDS = ("title", "command", "commit", "date", "note", "table", "versions")


@runtime_checkable
class SavesFigure(Protocol):
    """A matplotlib figure (anything with ``savefig``)."""

    def savefig(self, fname: Any, **kwargs: Any) -> Any: ...


#: What a file of a result folder is made from: bytes, text, a figure, or a callable writing into an open file.
FileContent = bytes | str | SavesFigure | Callable[[IO[Any]], Any]


def result_name(study: str, task: str | None = None, *qualifiers: str) -> str:
    """The one naming scheme of ``results/``: ``<study>[_<task>][_<qualifier>...]``, most general first.

    The study (``rewards``, ``feature_probe``, ``main``), then the task when the folder is about one, then what sets it
    apart (scale, demos, trajectories per iteration, cameras): ``rewards_door_cpu``, ``main_cpu`` (every task),
    ``pixels_door_human_t200``. ``ls results/`` then groups a study's folders together, and a task's within them.
    """
    parts = [study, *([task] if task else []), *qualifiers]
    if not all(parts) or any(p != p.strip() or "/" in p or " " in p for p in parts):
        raise ValueError(f"a results folder name is made of non-empty words without spaces or '/': {parts}")
    return "_".join(parts)


def adopt_renamed(root: str | os.PathLike, old: str, new: str) -> bool:
    """Rename the results folder ``root/old`` to ``root/new`` (a folder made before the naming scheme of
    :func:`result_name`) when only the old one exists, recording ``renamed_from`` in its ``meta.json``; True if it
    did. A folder under both names is left alone (and reported by the caller)."""
    src, dst = Path(root) / old, Path(root) / new
    if old == new or not src.is_dir() or dst.exists():
        return False
    src.rename(dst)
    meta_path = dst / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        meta.setdefault("renamed_from", old)
        write_meta(dst, meta)
    return True


def library_versions(packages: Sequence[str] = VERSIONED_PACKAGES) -> dict[str, str | None]:
    """Python's version and each distribution's (an imported module's ``__version__``, which keeps local tags such
    as torch's ``+cu130``; else the installed metadata; ``None`` where it is not installed)."""
    import importlib.metadata as md

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        module = sys.modules.get(name.replace("-", "_"))
        version = getattr(module, "__version__", None)
        if not isinstance(version, str):
            try:
                version = md.version(name)
            except md.PackageNotFoundError:
                version = None
        out[name] = version
    return out


def utc_now() -> str:
    """The current time in UTC, ISO 8601 to the second (``2026-11-25T18:53:35+00:00``)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def csv_file(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Callable[[IO[str]], None]:
    """A ``files`` entry that writes ``rows`` as CSV with a header of ``columns`` (other keys are left out)."""

    def write(f: IO[str]) -> None:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    return write


def write_file(path: str | os.PathLike, content: FileContent) -> Path:
    """Write one file atomically: bytes or text as they are, a figure with ``savefig`` (format from the suffix),
    a callable into the open file (text for :data:`TEXT_SUFFIXES`, binary otherwise)."""
    path = Path(path)
    if isinstance(content, bytes):
        return atomic_write(path, lambda f: f.write(content), binary=True)
    if isinstance(content, str):
        return atomic_write(path, lambda f: f.write(content))
    if isinstance(content, SavesFigure):
        fmt = path.suffix.lstrip(".") or "png"
        return atomic_write(path, lambda f: content.savefig(f, format=fmt), binary=True)
    if callable(content):
        return atomic_write(path, content, binary=path.suffix.lower() not in TEXT_SUFFIXES)
    raise TypeError(f"{path.name}: cannot write a {type(content).__name__} (give bytes, str, a figure or a callable)")


def write_meta(folder: str | os.PathLike, meta: Mapping[str, Any]) -> Path:
    """``<folder>/meta.json`` (indented JSON), written atomically."""
    return write_file(Path(folder) / "meta.json", json.dumps(meta, indent=2) + "\n")


def write_result_folder(
    folder: str | os.PathLike,
    *,
    title: str,
    command: str,
    note: str = "",
    table: str = "",
    files: Mapping[str, FileContent] | None = None,
    extra_meta: Mapping[str, Any] | None = None,
    date: str | None = None,
) -> Path:
    """Write ``files`` (name -> :data:`FileContent`) into ``folder``, then its ``meta.json``; returns the folder.

    ``meta.json``: ``title``, ``command`` (how to make the folder again), ``commit`` (:func:`rrl.paths.git_commit`),
    ``date`` (UTC ISO 8601; ``date`` gives another, e.g. when a measurement started), ``note`` and ``table`` (a
    markdown table ``rrl report`` prints) when not empty, ``versions`` (:func:`library_versions`), then
    ``extra_meta``. Raises ValueError when ``extra_meta`` sets a common field or a file name leaves the folder.
    """
    out = Path(folder)
    clash = sorted(set(extra_meta or {}) & set(COMMON_FIELDS))
    if clash:
        raise ValueError(f"extra_meta sets {', '.join(clash)}, which write_result_folder writes itself")
    for name in files or {}:
        if Path(name).name != name or name == "meta.json":
            raise ValueError(f"{name!r} is not a plain file name of the folder (meta.json is written from the fields)")
    out.mkdir(parents=True, exist_ok=True)
    for name, content in (files or {}).items():
        write_file(out / name, content)
    meta: dict[str, Any] = {"title": title, "command": command, "commit": git_commit(), "date": date or utc_now()}
    meta.update({key: value for key, value in (("note", note), ("table", table)) if value})
    meta["versions"] = library_versions()
    meta.update(extra_meta or {})
    write_meta(out, meta)
    return out
