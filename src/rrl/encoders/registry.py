"""Name -> :class:`~rrl.encoders.base.EncoderArch` registry. Entries may be lazy (``"module:Class"``) so that
``import rrl.encoders`` does not import timm or torchvision models until an encoder is made."""

from __future__ import annotations

import importlib

from rrl.encoders.base import EncoderArch

RANDOM_PREFIX = "random:"
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


def available_encoders() -> tuple[str, ...]:
    """Registered encoder names (each also works as ``random:<name>``)."""
    return tuple(sorted(_REGISTRY))


def parse_name(name: str) -> tuple[str, bool]:
    """``"random:resnet34"`` -> ``("resnet34", True)``; ``"resnet34"`` -> ``("resnet34", False)``."""
    random = name.startswith(RANDOM_PREFIX)
    base = name[len(RANDOM_PREFIX) :] if random else name
    if base not in _REGISTRY:
        raise ValueError(
            f"unknown encoder {name!r}; valid: {', '.join(available_encoders())} "
            f"(or {RANDOM_PREFIX}<name> for seeded random weights)"
        )
    return base, random


def get_arch(base: str) -> EncoderArch:
    """Instantiate the architecture registered as ``base``."""
    entry = _REGISTRY[base]
    if isinstance(entry, str):
        module, _, cls_name = entry.partition(":")
        entry = getattr(importlib.import_module(module), cls_name)
        if not (isinstance(entry, type) and issubclass(entry, EncoderArch)):
            raise TypeError(f"{_REGISTRY[base]} is not an EncoderArch subclass")
    return entry(base)
