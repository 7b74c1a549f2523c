"""On-disk format of rrl demonstration sets: plain HDF5 with a versioned schema (see docs/demos.md).

Layout (format ``rrl-demos`` version 1)::

    /                      attrs: format="rrl-demos", format_version=1, task, env_id, source, seed,
                                  n_episodes, created_utc, versions (JSON), extra (JSON)
    /episodes/ep_000000/   attrs: per-episode info (e.g. reset seed, success steps)
        observations  (T, obs_dim) float64   observation at which actions[t] was taken
        actions       (T, act_dim) float64   action applied at step t (clipped to the action space)
        rewards       (T,)         float64   sparse reward returned by step t
        successes     (T,)         bool      info["success"] returned by step t
        sim_states/<key> (T, ...)  float64   full simulator state at which observations[t] was produced
                                             (qpos, qvel and the task's randomised model fields)
        <other>       (T, ...)               optional per-step extras (e.g. reconstruction_error)

Datasets are gzip-compressed with a Fletcher-32 checksum, so damaged data fails to read instead of loading wrong
numbers. Writes are atomic (temporary file in the target folder, then ``os.replace``): a failed write never
damages an existing file. Reads validate the format name, version, task and array shapes and fail with a clear message.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rrl.paths import current_umask

FORMAT_NAME = "rrl-demos"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("observations", "actions", "rewards", "successes")
_EPISODES = "episodes"
_STATES = "sim_states"


class DemoFormatError(ValueError):
    """A demo file is damaged, of another format or version, or holds another task's demonstrations."""


@dataclass(eq=False)
class DemoSet:
    """A set of demonstrations of one task.

    Attributes:
        trajectories: one dict per episode: ``observations``, ``actions``, ``rewards``, ``successes`` (numpy
            arrays with T rows), ``sim_states`` (dict of (T, ...) arrays) and optional per-step extras.
        metadata: ``task``, ``env_id``, ``source``, ``seed``, ``versions``, ... (see docs/demos.md).
        episode_info: one dict of scalar attributes per episode (e.g. ``reset_seed``, ``success_steps``).
        path: file the set was loaded from or saved to, if any.
    """

    trajectories: list[dict[str, Any]]
    metadata: dict[str, Any]
    episode_info: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    def __post_init__(self) -> None:
        if not self.episode_info:
            self.episode_info = [{} for _ in self.trajectories]
        if len(self.episode_info) != len(self.trajectories):
            raise ValueError(f"{len(self.episode_info)} episode_info entries for {len(self.trajectories)} trajectories")
        for i, traj in enumerate(self.trajectories):
            _validate_trajectory(traj, f"trajectory {i}")

    @property
    def task(self) -> str:
        return str(self.metadata["task"])

    def __len__(self) -> int:
        return len(self.trajectories)

    @property
    def lengths(self) -> list[int]:
        return [len(t["actions"]) for t in self.trajectories]

    def success_steps(self) -> list[int]:
        """Number of steps with ``successes`` true, per episode."""
        return [int(np.count_nonzero(t["successes"])) for t in self.trajectories]

    def fingerprint(self) -> str:
        """sha256 of the content (task, format version, every array's name, dtype, shape and bytes).

        Two sets with equal arrays have equal fingerprints whatever file they live in; any change to any
        array changes it. Used to key caches derived from the demonstrations (e.g. visual features).
        """
        h = hashlib.sha256()
        h.update(f"{FORMAT_NAME}:{FORMAT_VERSION}:{self.task}:{len(self)}".encode())
        for i, traj in enumerate(self.trajectories):
            for name, arr in sorted(_flatten(traj).items()):
                a = np.ascontiguousarray(arr)
                h.update(f"|{i}|{name}|{a.dtype.str}|{a.shape}|".encode())
                h.update(a.tobytes())
        return h.hexdigest()

    def summary(self) -> str:
        """Counts, lengths and success of the set in a few lines."""
        from rrl.tasks import get_task

        spec = get_task(self.task)
        lengths, steps = self.lengths, self.success_steps()
        ok = sum(spec.is_success(t["successes"]) for t in self.trajectories)
        md = self.metadata
        lines = [
            f"task {self.task} ({md.get('env_id', '?')}), source {md.get('source', '?')}, seed {md.get('seed', '?')}",
            f"episodes {len(self)}, steps {sum(lengths)}, length min/mean/max "
            f"{min(lengths, default=0)}/{np.mean(lengths) if lengths else 0:.1f}/{max(lengths, default=0)}",
            f"successful (goal on > {spec.success_threshold} steps): {ok}/{len(self)}; "
            f"goal steps per episode min/mean/max {min(steps, default=0)}/"
            f"{np.mean(steps) if steps else 0:.1f}/{max(steps, default=0)}",
        ]
        if self.path is not None:
            lines.append(f"file {self.path}")
        return "\n".join(lines)


def _flatten(traj: dict[str, Any]) -> dict[str, np.ndarray]:
    flat: dict[str, np.ndarray] = {}
    for key, value in traj.items():
        if key == _STATES:
            flat.update({f"{_STATES}/{k}": np.asarray(v) for k, v in value.items()})
        else:
            flat[key] = np.asarray(value)
    return flat


def _validate_trajectory(traj: dict[str, Any], where: str) -> None:
    missing = [k for k in (*REQUIRED_KEYS, _STATES) if k not in traj]
    if missing:
        raise DemoFormatError(f"{where}: missing {', '.join(missing)} (expected {', '.join(REQUIRED_KEYS)}, {_STATES})")
    if not isinstance(traj[_STATES], dict) or not {"qpos", "qvel"} <= set(traj[_STATES]):
        raise DemoFormatError(f"{where}: {_STATES} must be a dict holding at least qpos and qvel")
    n = len(traj["actions"])
    for name, arr in _flatten(traj).items():
        if arr.ndim == 0 or arr.shape[0] != n:
            raise DemoFormatError(f"{where}: {name} has shape {arr.shape}, expected {n} rows like actions")


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that determine the content of a demo set (:func:`rrl.result_folder.library_versions`
    of those)."""
    from rrl.result_folder import library_versions as versions

    return versions(("rrl", "numpy", "mujoco", "gymnasium", "gymnasium-robotics", "h5py"))


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_CORE_ATTRS = ("task", "env_id", "source", "seed")


def save_demos(demos: DemoSet, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``demos`` to ``path`` (HDF5, format ``rrl-demos`` v1) atomically and return the path.

    Raises FileExistsError when ``path`` exists and ``overwrite`` is false. The file appears only once it is
    complete; on any error the temporary file is removed and an existing ``path`` is left untouched.
    """
    import h5py

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another path or pass overwrite=True (--overwrite)")
    missing = [k for k in _CORE_ATTRS if k not in demos.metadata]
    if missing:
        raise ValueError(f"demo metadata lacks {', '.join(missing)}")
    for i, traj in enumerate(demos.trajectories):
        for name, arr in _flatten(traj).items():
            arr = np.asarray(arr)
            if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
                raise ValueError(
                    f"demonstration {i} holds NaN or inf in {name!r}; not writing {path} (the source recording or "
                    "policy is damaged)"
                )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["n_episodes"] = len(demos)
            f.attrs["created_utc"] = demos.metadata.get("created_utc") or datetime.now(UTC).isoformat()
            for key in _CORE_ATTRS:
                f.attrs[key] = _attr_value(demos.metadata[key])
            f.attrs["versions"] = json.dumps(demos.metadata.get("versions") or library_versions(), sort_keys=True)
            extra = {k: v for k, v in demos.metadata.items() if k not in (*_CORE_ATTRS, "versions", "created_utc")}
            extra.pop("format", None), extra.pop("format_version", None), extra.pop("n_episodes", None)
            f.attrs["extra"] = json.dumps(extra, sort_keys=True, default=_json_default)
            episodes = f.create_group(_EPISODES)
            for i, (traj, info) in enumerate(zip(demos.trajectories, demos.episode_info)):
                g = episodes.create_group(f"ep_{i:06d}")
                for k, v in info.items():
                    g.attrs[k] = _attr_value(v)
                for name, arr in _flatten(traj).items():
                    g.create_dataset(
                        name, data=arr, compression="gzip", compression_opts=4, shuffle=True, fletcher32=True
                    )
            f.flush()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    demos.path = path
    return path


def _attr_value(v: Any) -> Any:
    if v is None:
        return "none"
    if isinstance(v, (np.generic,)):
        return v.item()
    return v


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"metadata value of type {type(v).__name__} is not JSON serialisable")


def _read_attr(v: Any) -> Any:
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.generic):
        v = v.item()
    return None if v == "none" else v


#: Decompressed size a demo file may declare in all (25 door demos at 256 px with frames: about 1 GB).
MAX_DEMO_BYTES = 16 << 30


def load_demos(path: str | Path, task: str | None = None) -> DemoSet:
    """Read a demo set written by :func:`save_demos`.

    Args:
        path: HDF5 file.
        task: if given, the file must hold this task's demonstrations.

    Raises:
        FileNotFoundError: no file at ``path``.
        DemoFormatError: not an HDF5 file, another format or version, another task, inconsistent arrays.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"demo file not found: {path}. Make one with `rrl demos make --task TASK --source expert` "
            "(or --source human for door)."
        )
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DemoFormatError(f"{path} is not a readable HDF5 file ({err}); it is damaged or not a demo file") from err
    try:
        with f:
            fmt = _read_attr(f.attrs.get("format"))
            version = _read_attr(f.attrs.get("format_version"))
            if fmt != FORMAT_NAME:
                raise DemoFormatError(
                    f"{path} is not an rrl demo file (format attribute {fmt!r}, expected {FORMAT_NAME!r})"
                )
            if version != FORMAT_VERSION:
                raise DemoFormatError(
                    f"{path} uses {FORMAT_NAME} format version {version}, this rrl reads version {FORMAT_VERSION}; "
                    "remake it with `rrl demos make`"
                )
            file_task = _read_attr(f.attrs.get("task"))
            if task is not None and file_task != task:
                raise DemoFormatError(f"{path} holds {file_task!r} demonstrations, expected task {task!r}")
            metadata: dict[str, Any] = {k: _read_attr(f.attrs.get(k)) for k in (*_CORE_ATTRS, "created_utc")}
            metadata["versions"] = json.loads(_read_attr(f.attrs.get("versions")) or "{}")
            metadata.update(json.loads(_read_attr(f.attrs.get("extra")) or "{}"))
            metadata["format"], metadata["format_version"] = fmt, version
            n_expected = int(_read_attr(f.attrs.get("n_episodes")))
            if _EPISODES not in f:
                raise DemoFormatError(f"{path} has no /{_EPISODES} group")
            names = sorted(f[_EPISODES])
            if len(names) != n_expected:
                raise DemoFormatError(f"{path} holds {len(names)} episodes, its header says {n_expected}")
            trajectories, infos = [], []
            budget = [MAX_DEMO_BYTES]

            def read(dataset: Any, where: str) -> np.ndarray:
                """A dataset's array, after checking its declared size against what is left of the budget (a
                small compressed file can declare terabytes)."""
                if not isinstance(dataset, h5py.Dataset):
                    raise DemoFormatError(f"{path}: {where} is not a dataset")
                nbytes = int(np.prod(dataset.shape, dtype=np.float64) * dataset.dtype.itemsize)
                budget[0] -= nbytes
                if budget[0] < 0:
                    raise DemoFormatError(
                        f"{path}: {where} declares {nbytes:,} bytes, beyond the {MAX_DEMO_BYTES:,} a demo file may "
                        "hold once decompressed; it is damaged or not a demo file"
                    )
                return dataset[()]

            for name in names:
                g = f[_EPISODES][name]
                traj: dict[str, Any] = {}
                for key, item in g.items():
                    if isinstance(item, h5py.Group):
                        traj[key] = {k: read(item[k], f"{name}/{key}/{k}") for k in item}
                    else:
                        traj[key] = read(item, f"{name}/{key}")
                infos.append({k: _read_attr(v) for k, v in g.attrs.items()})
                _validate_trajectory(traj, f"{path}: episode {name}")
                trajectories.append(traj)
    except DemoFormatError:
        raise
    except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as err:
        raise DemoFormatError(f"{path} is damaged or incomplete ({type(err).__name__}: {err})") from err
    return DemoSet(trajectories=trajectories, metadata=metadata, episode_info=infos, path=path)
