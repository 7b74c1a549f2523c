"""A run folder's checkpoint and config, written safely and read as untrusted input.

``checkpoint.pt`` holds the training state (policy, baseline, RNG streams, the run's config) serialised by
``torch.save`` and wrapped with its SHA-256: ``{"format": "rrl-checkpoint", "sha256": HEX, "payload": uint8
tensor}``. Reading verifies the checksum before unpickling the payload (``weights_only=True`` either way), then
checks the structure, the sizes of every tensor before anything uses them, and that every number is finite.
Checkpoints written before the checksum existed (a plain state dict) are read without it.

Every failure is a :class:`ValueError` (or :class:`FileNotFoundError`) whose message names the file, what is
wrong and what to do; nothing here writes to a run folder except :func:`write_checkpoint`, atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rrl.config import TrainConfig
from rrl.errors import one_line
from rrl.paths import atomic_write

CHECKPOINT = "checkpoint.pt"
BC_POLICY = "bc_policy.pt"  # the policy after the behaviour-cloning warm-up (a plain state dict)
SUMMARY = "summary.json"  # written when a run reaches its iterations: its final evaluation
CHECKPOINT_FORMAT = 1  # of the state dict inside
WRAPPER_FORMAT = "rrl-checkpoint"
MAX_CHECKPOINT_BYTES = 4 << 30  # a paper-scale checkpoint is a few MB
MAX_TENSOR_ELEMENTS = 1 << 28
MAX_CONFIG_BYTES = 1 << 20
REQUIRED_KEYS = ("format", "next_iteration", "samples", "policy", "baseline", "rng", "config")

_WHAT_TO_DO = (
    "The run folder is left as it is: resume from a copy of the run that holds a good checkpoint.pt, "
    "or start a new run with another --out"
)


def write_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename) with its SHA-256."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    wrapped = {
        "format": WRAPPER_FORMAT,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8),
    }
    return atomic_write(path, lambda f: torch.save(wrapped, f), binary=True)


def _load(source: Any, path: Path) -> Any:
    try:
        return torch.load(source, weights_only=True, map_location="cpu")
    except Exception as err:  # truncated, random bytes, a refused pickle: all the same to the user
        raise ValueError(f"cannot read the checkpoint {path}: {one_line(err)}. {_WHAT_TO_DO}") from None


def _check_tensors(obj: Any, path: Path, where: str) -> None:
    """Bound every tensor's size (a stride-0 tensor can claim terabytes) and require finite numbers."""
    if isinstance(obj, torch.Tensor):
        if obj.numel() > MAX_TENSOR_ELEMENTS:
            raise ValueError(f"the checkpoint {path} holds a tensor {where} of {obj.numel():,} elements. {_WHAT_TO_DO}")
        if obj.numel() and obj.untyped_storage().nbytes() < obj.numel() * obj.element_size():
            raise ValueError(f"the checkpoint {path} holds a tensor {where} larger than its storage. {_WHAT_TO_DO}")
        if obj.is_floating_point() and not bool(torch.isfinite(obj).all()):
            raise ValueError(f"the checkpoint {path} holds NaN or inf in {where}. {_WHAT_TO_DO}")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _check_tensors(value, path, f"{where}.{key}" if where else str(key))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _check_tensors(value, path, f"{where}[{i}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"the checkpoint {path} holds NaN or inf in {where}. {_WHAT_TO_DO}")


def _load_file(path: Path, what: str, missing: str) -> Any:
    """``path`` loaded with ``weights_only=True`` once it exists, is not empty and not absurdly large."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {missing}")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{what} {path} is empty. {_WHAT_TO_DO}")
    if size > MAX_CHECKPOINT_BYTES:
        raise ValueError(f"{what} {path} is {size:,} bytes, far more than a run writes. {_WHAT_TO_DO}")
    return _load(path, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The training state in ``path``, verified (checksum, structure, sizes, finite numbers)."""
    path = Path(path)
    state = _load_file(path, "the checkpoint", "the run has no checkpoint yet")
    if isinstance(state, dict) and state.get("format") == WRAPPER_FORMAT:
        payload = state.get("payload")
        if not isinstance(payload, torch.Tensor) or payload.dtype != torch.uint8 or payload.dim() != 1:
            raise ValueError(f"the checkpoint {path} has no payload. {_WHAT_TO_DO}")
        data = payload.numpy().tobytes()
        if hashlib.sha256(data).hexdigest() != state.get("sha256"):
            raise ValueError(
                f"the checkpoint {path} fails its checksum: it changed or was damaged after rrl wrote it. {_WHAT_TO_DO}"
            )
        state = _load(io.BytesIO(data), path)
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS if not isinstance(state, dict) or k not in state]
        raise ValueError(f"the checkpoint {path} is not an rrl training checkpoint (missing {missing}). {_WHAT_TO_DO}")
    if state["format"] != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint format {state['format']!r}, this rrl reads {CHECKPOINT_FORMAT}")
    for key in ("next_iteration", "samples"):
        value = state[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"the checkpoint {path} has {key} = {value!r}, not a count >= 0. {_WHAT_TO_DO}")
    if not isinstance(state["policy"], dict) or not all(isinstance(v, torch.Tensor) for v in state["policy"].values()):
        raise ValueError(f"the checkpoint {path} has no policy weights. {_WHAT_TO_DO}")
    if not isinstance(state["baseline"], dict):
        raise ValueError(f"the checkpoint {path} has no value baseline. {_WHAT_TO_DO}")
    _check_tensors({"policy": state["policy"], "baseline": state["baseline"]}, path, "")
    if not isinstance(state["config"], dict):
        raise ValueError(f"the checkpoint {path} has no config. {_WHAT_TO_DO}")
    return state


def read_policy_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A policy's plain state dict (a run's ``bc_policy.pt``), verified as :func:`read_checkpoint` verifies one,
    less the checksum: size, structure, finite numbers."""
    path = Path(path)
    state = _load_file(
        path, "the policy file", "the run has not finished its behaviour-cloning warm-up, or its folder predates it"
    )
    if not isinstance(state, dict) or not state or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{path} holds no policy weights (a dict of named tensors). {_WHAT_TO_DO}")
    _check_tensors(state, path, "")
    return state


def read_run_meta(run_dir: str | Path) -> tuple[dict[str, Any], TrainConfig]:
    """``config.json`` of a run folder and the :class:`TrainConfig` it records, with clear errors."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {run_dir} is not an rrl run folder")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ValueError(f"{path} is {path.stat().st_size:,} bytes; an rrl config.json is a few kB")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); restore it from a copy of the run folder") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ValueError(f"{path} has no 'config' object; it is not an rrl run's config.json (or it was edited)")
    try:
        cfg = TrainConfig.from_json(meta["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None
    return meta, cfg


def identity_mismatch(saved: dict[str, Any], cfg: TrainConfig, fields: tuple[str, ...]) -> list[str]:
    """The run-defining ``fields`` whose value in the checkpoint's config (``saved``) differs from ``cfg``."""
    now = cfg.to_json()

    def norm(v: Any) -> Any:
        return tuple(norm(x) for x in v) if isinstance(v, (list, tuple)) else v

    return [f for f in fields if f in saved and norm(saved[f]) != norm(now.get(f))]


def training_state(trainer: Any, **extra: Any) -> dict[str, Any]:
    """What every trainer's checkpoint holds (counters, policy, demo fingerprints, the global RNG streams, the
    run's config) plus the trainer's own ``extra`` entries (e.g. ``baseline``)."""
    demos = trainer.demos
    return {
        "format": CHECKPOINT_FORMAT,
        "next_iteration": trainer.next_iteration,
        "samples": trainer.samples,
        "policy": trainer.policy.state_dict(),
        "demo_fingerprint": demos.fingerprint() if demos is not None else None,
        "demo_set_fingerprint": demos.source_fingerprint if demos is not None else None,
        "rng": capture_rng(),
        "config": trainer.cfg.to_json(),
        **extra,
    }


def capture_rng() -> dict[str, Any]:
    """torch's, numpy's and Python's global RNG states in a form ``weights_only`` loading accepts."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"name": name, "keys": torch.as_tensor(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},  # fmt: skip
        "python": [version, list(internal), gauss],
    }


def parse_rng(rng: dict[str, Any]) -> tuple[torch.Tensor, tuple, tuple]:
    """The states :func:`capture_rng` recorded, checked enough to set (raises KeyError/TypeError/ValueError)."""
    n = rng["numpy"]
    numpy_state = (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    python_state = (rng["python"][0], tuple(rng["python"][1]), rng["python"][2])
    return rng["torch"], numpy_state, python_state


def set_rng(parsed: tuple[torch.Tensor, tuple, tuple]) -> None:
    torch_state, numpy_state, python_state = parsed
    torch.set_rng_state(torch_state)
    np.random.set_state(numpy_state)
    random.setstate(python_state)


class TrainingDivergedError(RuntimeError):
    """A non-finite value appeared in an update; the last good checkpoint was left untouched."""


def raise_diverged(k: int, what: str, run_dir: Path, advice: str | None = None) -> None:
    """Raise :class:`TrainingDivergedError` for iteration ``k`` of the run in ``run_dir`` (``what``: the non-finite
    quantity), saying whether its last checkpoint is intact and how to resume (``advice``: what to change; default
    the natural-gradient step's settings)."""
    ckpt = Path(run_dir) / CHECKPOINT
    last = (
        f"the last good checkpoint {ckpt} (after iteration {k - 1}) is intact"
        if ckpt.exists()
        else "no checkpoint was written yet"
    )
    raise TrainingDivergedError(
        f"non-finite {what} in the update of iteration {k}: the run stopped and nothing of iteration {k} was "
        f"saved; {last}. "
        + (advice or f"Try a smaller rl_step_size or larger cg_damping, then `rrl train --resume {run_dir} "
           "--rl-step-size ...`.")
    )
