"""Offscreen multi-camera rendering of a MuJoCo model (paper 7.2: render 256x256, center crop 224).

One :class:`CameraRenderer` is created per environment and reused for every frame; it owns one OpenGL context
(EGL when headless) and is released by :meth:`CameraRenderer.close`.
"""

from __future__ import annotations

import importlib.util

import mujoco
import numpy as np


def import_triton_before_gl() -> None:
    """Import triton (if installed) before the first GL context exists.

    With the CUDA build of torch used here, importing triton lazily (torch.optim does) after a Mesa EGL context
    was created segfaults; importing it first is harmless.
    """
    if importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


def _check_headless_backend() -> None:
    """Fail clearly when mujoco picked a windowing GL backend on a machine without a display."""
    import os

    if os.environ.get("MUJOCO_GL", "glfw") == "glfw" and not os.environ.get("DISPLAY"):
        raise RuntimeError(
            "MuJoCo was imported with the GLFW backend but there is no display. Set MUJOCO_GL=egl (or osmesa) "
            "before anything imports mujoco, or import rrl first (it sets MUJOCO_GL=egl)."
        )


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Center crop the last-but-one two axes (H, W) of ``(..., H, W, C)`` frames to ``size``."""
    h, w = frames.shape[-3], frames.shape[-2]
    if size > h or size > w:
        raise ValueError(f"crop size {size} is larger than the rendered frame {h}x{w}")
    top, left = (h - size) // 2, (w - size) // 2
    return frames[..., top : top + size, left : left + size, :]


class CameraRenderer:
    """Renders ``(n_cameras, crop, crop, 3)`` uint8 frames of the current ``MjData``.

    Args:
        model: compiled model (its offscreen buffer must be at least ``size`` pixels).
        cameras: camera names, rendered in this order.
        size: square render size in pixels (paper: 256).
        crop: center crop size (paper: 224); ``None`` keeps the full frame.
        shadows, reflections: MuJoCo render flags; off by default (about 4x faster with software GL).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        cameras: tuple[str, ...],
        size: int = 256,
        crop: int | None = 224,
        shadows: bool = False,
        reflections: bool = False,
    ) -> None:
        if crop is not None and crop > size:
            raise ValueError(f"crop size {crop} must not exceed render size {size}")
        self.cameras = tuple(cameras)
        self._camera_ids = []
        for name in self.cameras:
            cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, name)
            if cam_id < 0:
                raise ValueError(f"camera {name!r} is not in the model")
            self._camera_ids.append(cam_id)
        self.size, self.crop = size, crop
        self._model = model
        import_triton_before_gl()
        _check_headless_backend()
        self._renderer = mujoco.Renderer(model, height=size, width=size)
        flags = self._renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = reflections
        out = crop if crop is not None else size
        self.frame_shape = (len(self.cameras), out, out, 3)

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """Render every camera for the current ``qpos`` of ``data``.

        After ``mj_step`` the body poses in ``data`` lag ``qpos`` by one physics sub-step, so the position-only
        stages (kinematics, centre of mass, cameras/lights) are recomputed first. The next ``mj_step`` recomputes
        them anyway, so the dynamics are unchanged, and a state restored later renders to the same image.
        """
        mujoco.mj_kinematics(self._model, data)
        mujoco.mj_comPos(self._model, data)
        mujoco.mj_camlight(self._model, data)
        frames = np.empty((len(self.cameras), self.size, self.size, 3), dtype=np.uint8)
        for i, cam_id in enumerate(self._camera_ids):
            self._renderer.update_scene(data, camera=cam_id)
            self._renderer.render(out=frames[i])
        return np.ascontiguousarray(center_crop(frames, self.crop)) if self.crop is not None else frames

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass
