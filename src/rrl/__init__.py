"""rrl: ResNet as Representation for Reinforcement Learning (Shah & Kumar).

Frozen ImageNet encoders + DAPG on the ADROIT suite. See README.md.
"""

import os as _os

# Headless rendering by default; the project sets this itself so that CI and users need not.
_os.environ.setdefault("MUJOCO_GL", "egl")
if _os.environ.get("MUJOCO_GL") == "egl":
    _os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

__version__ = "0.1.0"
