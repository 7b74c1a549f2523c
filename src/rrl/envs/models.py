"""Model edits applied when an ADROIT environment loads: RRL cameras and purely visual changes.

Edits go through ``mujoco.MjSpec`` before compilation. They add or move cameras and change geom colours only,
so the physics of the compiled model is that of Gymnasium-Robotics (``tests/test_envs.py`` checks that
trajectories are identical).
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys

import mujoco
import numpy as np

from rrl.tasks import CameraSpec, TaskSpec


def lookat_quat(pos, lookat, up) -> np.ndarray:
    """Quaternion (w, x, y, z) of a camera at ``pos`` looking at ``lookat`` (MuJoCo cameras look along -z)."""
    z = np.asarray(pos, float) - np.asarray(lookat, float)
    z /= np.linalg.norm(z)
    x = np.cross(np.asarray(up, float), z)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError(f"camera up vector {up} is parallel to its viewing direction")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.column_stack([x, y, z]).ravel())
    return quat


def _place_camera(spec: mujoco.MjSpec, cam: CameraSpec) -> None:
    if cam.pos is None:
        return
    quat = cam.quat if cam.quat is not None else lookat_quat(cam.pos, cam.lookat, cam.up)
    existing = spec.camera(cam.name)
    target = existing if existing is not None else spec.worldbody.add_camera(name=cam.name)
    target.pos = list(cam.pos)
    target.quat = list(quat)
    target.fovy = cam.fovy


def _body_geoms(spec: mujoco.MjSpec, body_name: str):
    body = spec.body(body_name)
    if body is None:
        raise ValueError(f"body {body_name!r} not found in the model")
    return body.find_all(mujoco.mjtObj.mjOBJ_GEOM)


def edit_spec(
    spec: mujoco.MjSpec, task: TaskSpec, render_size: int, distractor_geom: bool = False, multisample: int = 0
) -> None:
    """Apply the task's camera and visual edits to ``spec`` in place (plus the ``random_object`` geom if asked)."""
    for cam in task.cameras:
        _place_camera(spec, cam)
    for name in task.opaque_bodies:
        for geom in _body_geoms(spec, name):
            rgba = np.array(geom.rgba, dtype=float)
            if rgba[3] > 0:  # keep fully hidden helper geoms hidden
                rgba[3] = 1.0
                geom.rgba = rgba
    for name in task.hidden_bodies:
        for geom in _body_geoms(spec, name):
            geom.rgba = [0.0, 0.0, 0.0, 0.0]
            geom.material = ""
    if distractor_geom:
        from rrl.envs.distractors import add_distractor_geom

        add_distractor_geom(spec)
    # The offscreen buffer exactly as large as needed: the XML asks for 3024x1680, and software GL clears and
    # resolves the whole buffer on every frame (a 146-pixel frame cost 16 ms with it, 3 ms without).
    spec.visual.global_.offwidth = render_size
    spec.visual.global_.offheight = render_size
    # Multisample anti-aliasing of the offscreen buffer (the XML asks for 8 samples). With software GL it is
    # most of the cost of a frame: 16.3 ms -> 6.7 ms at 146 px, 22.0 -> 11.1 ms at 256 px without it, for a
    # mean absolute pixel difference of 1.5 / 255 (edges only). Off unless asked for (EnvConfig.multisample).
    spec.visual.quality.offsamples = multisample


@functools.cache
def edited_env_class(task: TaskSpec, render_size: int, distractor_geom: bool = False, multisample: int = 0) -> type:
    """Subclass of the task's Gymnasium-Robotics env whose model is loaded through :func:`edit_spec`."""
    # Its import prints (to stderr, once per process) that the v1 dense rewards changed; rrl computes dense
    # rewards itself (rrl.envs.rewards), so that notice is dropped and anything else printed is passed on.
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        import gymnasium_robotics.envs.adroit_hand as adroit
    for line in captured.getvalue().splitlines():
        if "reward functions were updated" not in line:
            print(line, file=sys.stderr)

    base = getattr(adroit, task.env_class)

    def _initialize_simulation(self):
        spec = mujoco.MjSpec.from_file(self.fullpath)
        edit_spec(spec, task, max(render_size, self.width, self.height), distractor_geom, multisample)
        model = spec.compile()
        return model, mujoco.MjData(model)

    return type(f"RRL{base.__name__}", (base,), {"_initialize_simulation": _initialize_simulation})
