"""Test-wide settings: headless EGL rendering must be chosen before mujoco is imported anywhere."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
