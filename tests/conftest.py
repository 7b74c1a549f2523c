"""Test-wide settings: headless EGL rendering must be chosen before mujoco is imported anywhere."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import pytest


@pytest.fixture(scope="module")
def isolated_caches(tmp_path_factory):
    """ONNX exports and other rrl caches go to a temporary folder; the torch hub cache is empty (no weights)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RRL_CACHE_DIR", str(tmp_path_factory.mktemp("rrl_cache")))
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
        yield
