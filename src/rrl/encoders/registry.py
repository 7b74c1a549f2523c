"""Name -> :class:`~rrl.encoders.base.EncoderArch` registry. Entries may be lazy (``"module:Class"``) so that
``import rrl.encoders`` does not import timm or torchvision models until an encoder is made.

Encoders from outside rrl, usable everywhere a name is (``rrl train --encoder``, ``rrl eval``, experiments):

- an installed package's entry point in the group ``rrl.encoders`` (``name = "package.module:Class"`` in its
  ``[project.entry-points."rrl.encoders"]``), found when a name is not registered;
- an import path ``package.module:Class`` given as the name itself (the module must be importable: installed or
  on ``PYTHONPATH``), as ``gymnasium.make("module:Env-v0")`` does.
"""

from __future__ import annotations

import importlib
import importlib.metadata

from rrl.encoders.base import EncoderArch

RANDOM_PREFIX = "random:"
ENTRY_POINT_GROUP = "rrl.encoders"
_REGISTRY: dict[str, type[EncoderArch] | str] = {}


def register_encoder(name: str, arch: type[EncoderArch] | str, *, overwrite: bool = False) -> None:
    """Make ``make_encoder(name)`` build ``arch``: an :class:`EncoderArch` subclass or a lazy
    ``"package.module:ClassName"`` string imported on first use.

    Raises:
        ValueError: if ``name`` is taken (pass ``overwrite=True`` to replace it) or is not a plain name.
    """
    if not name or name.startswith(RANDOM_PREFIX) or ":" in name:
        raise ValueError(f"encoder names are plain words (no ':'), got {name!r}")
    if not isinstance(arch, str) and not (isinstance(arch, type) and issubclass(arch, EncoderArch)):
        raise TypeError(f"register_encoder needs an EncoderArch subclass or 'module:Class', got {arch!r}")
    if name in _REGISTRY and not overwrite and _REGISTRY[name] != arch:
        raise ValueError(f"encoder {name!r} is already registered ({_REGISTRY[name]}); pass overwrite=True")
    _REGISTRY[name] = arch


def register_entry_points() -> None:
    """Register the ``rrl.encoders`` entry points of installed packages (lazily; a registered name wins)."""
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _REGISTRY and ":" not in ep.name and not ep.name.startswith(RANDOM_PREFIX):
            _REGISTRY[ep.name] = ep.value


def available_encoders() -> tuple[str, ...]:
    """Registered encoder names, installed packages' entry points included (each also works as ``random:<name>``)."""
    register_entry_points()
    return tuple(sorted(_REGISTRY))


def parse_name(name: str) -> tuple[str, bool]:
    """``"random:resnet34"`` -> ``("resnet34", True)``; ``"resnet34"`` -> ``("resnet34", False)``; an import path
    ``"pkg.mod:Class"`` (optionally ``random:``-prefixed) is checked to import an :class:`EncoderArch`."""
    random = name.startswith(RANDOM_PREFIX)
    base = name[len(RANDOM_PREFIX) :] if random else name
    if base not in _REGISTRY:
        register_entry_points()
    if base not in _REGISTRY and ":" in base:
        _import_arch(base)  # raises a ValueError that says what is wrong
    elif base not in _REGISTRY:
        raise ValueError(
            f"unknown encoder {name!r}; valid: {', '.join(available_encoders())}, {RANDOM_PREFIX}<name> for "
            "seeded random weights, or an import path 'package.module:Class' of an EncoderArch subclass"
        )
    return base, random


def _import_arch(path: str) -> type[EncoderArch]:
    module, _, cls_name = path.partition(":")
    try:
        entry = getattr(importlib.import_module(module), cls_name)
    except (ImportError, AttributeError) as e:
        raise ValueError(
            f"encoder {path!r}: cannot import {cls_name!r} from module {module!r} ({e}); the module must be "
            "installed or on PYTHONPATH"
        ) from e
    if not (isinstance(entry, type) and issubclass(entry, EncoderArch)):
        raise ValueError(f"encoder {path!r} is {entry!r}, not an rrl.encoders.EncoderArch subclass")
    return entry


def get_arch(base: str) -> EncoderArch:
    """Instantiate the architecture registered as ``base`` (or imported from the path ``base``)."""
    entry = _REGISTRY.get(base, base)
    return (_import_arch(entry) if isinstance(entry, str) else entry)(base)


def describe_encoders() -> str:
    """A table of the available encoders (``rrl encoders``): feature size, class, whether the default weights are
    here; below it, what to do for each encoder whose weights are missing."""
    rows, notes = [], []
    for name in available_encoders():
        entry = _REGISTRY[name]
        source = entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__qualname__}"
        try:
            arch = get_arch(name)
            dim = str(arch.feature_dim)
        except Exception as e:  # a broken plugin must not hide the others
            rows.append((name, "?", source, f"cannot load: {e}"))
            continue
        try:
            path = arch.find_weights(None)
            status = "none needed" if path is None else f"found: {path}"
        except FileNotFoundError as e:
            status = "missing (below)"
            notes.append(f"{name}: {e}")
        rows.append((name, dim, source, status))
    header = ("encoder", "features", "class", "default weights")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3] for r in (header, *rows)]
    lines += ["", f"Each name also works as {RANDOM_PREFIX}<name> (seeded random weights, no file needed), and any "
              "importable EncoderArch as package.module:Class (docs/extending.md)."]  # fmt: skip
    return "\n".join(lines + ([""] + notes if notes else []))
