"""Visual distractors for evaluating frozen policies (paper Fig. 4 centre/right, Fig. 11, appendix 7.5).

Each distractor changes one visual property of the scene, freshly sampled at every reset, and never the
physics: lights and colours are render-only model fields, and the inserted object is a non-colliding geom.

- ``light_position``: moves the scene light sideways by 1-2 m.
- ``light_direction``: turns the scene light.
  For cameras that look up from below the scene (relocate's ``cam1``) both first mirror the light below the
  scene, shining up: a light from above never reaches what such a camera sees (:func:`cameras_look_up`).
- ``object_color``: recolours the task objects (door: door, frame and handle; hammer: hammer parts and nail;
  pen: pen; relocate: ball).
- ``random_object``: shows a sphere, capsule, ellipsoid, cylinder or box of random size, colour and position,
  placed where the cameras see it.

A new distractor is one :class:`Distractor` subclass plus one line in :data:`DISTRACTORS`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

#: Bodies whose geoms ``object_color`` recolours, per task.
TASK_OBJECT_BODIES: dict[str, tuple[str, ...]] = {
    "door": ("frame", "door", "latch"),
    "hammer": ("Object", "nail"),
    "pen": ("Object",),
    "relocate": ("Object",),
}

#: Name of the render-only geom that ``random_object`` adds to the model at load time.
DISTRACTOR_GEOM = "rrl_distractor"

_SHAPES = (
    mujoco.mjtGeom.mjGEOM_SPHERE,
    mujoco.mjtGeom.mjGEOM_CAPSULE,
    mujoco.mjtGeom.mjGEOM_ELLIPSOID,
    mujoco.mjtGeom.mjGEOM_CYLINDER,
    mujoco.mjtGeom.mjGEOM_BOX,
)


def add_distractor_geom(spec: mujoco.MjSpec) -> None:
    """Add the invisible, non-colliding geom that ``random_object`` shows (call before compiling)."""
    spec.worldbody.add_geom(
        name=DISTRACTOR_GEOM,
        type=mujoco.mjtGeom.mjGEOM_SPHERE,
        size=[0.05, 0.05, 0.05],
        pos=[0.0, 0.0, -5.0],
        rgba=[0.0, 0.0, 0.0, 0.0],
        contype=0,
        conaffinity=0,
        mass=0.0,
        density=0.0,
    )


class Distractor:
    """Changes one visual property of ``model`` per episode, drawing from ``rng``.

    ``data`` and ``cameras`` (the rendered views) let a distractor check what the cameras will see.
    """

    name: str = ""

    def __init__(
        self,
        model: mujoco.MjModel,
        task: str,
        data: mujoco.MjData | None = None,
        cameras: tuple[str, ...] = (),
    ) -> None:
        self.model, self.task, self.data, self.cameras = model, task, data, tuple(cameras)

    def apply(self, rng: np.random.Generator) -> None:
        raise NotImplementedError


def cameras_look_up(model: mujoco.MjModel, cameras: tuple[str, ...]) -> bool:
    """Whether the rendered ``cameras`` look upwards on average (relocate's ``cam1``, below the hidden table).

    Such a camera sees the undersides of things, which a light shining down from above never reaches: the
    light distractors then light the scene from below instead (else they would change no pixel it sees).
    """
    if not cameras:
        return False
    data = mujoco.MjData(model)  # a scratch copy: the env's own data is left alone
    mujoco.mj_kinematics(model, data)
    mujoco.mj_camlight(model, data)
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, c) for c in cameras]
    forward_z = [-data.cam_xmat[i].reshape(3, 3)[2, 2] for i in ids if i >= 0]  # a camera looks along its -z
    return bool(forward_z) and float(np.mean(forward_z)) > 0


def lights_below_scene(model: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray]:
    """Positions and directions of the model's lights mirrored through the floor plane (z -> -z): shining up."""
    flip = np.array([1.0, 1.0, -1.0])
    return model.light_pos * flip, model.light_dir * flip


class LightPosition(Distractor):
    name = "light_position"

    #: Each light moves sideways (perpendicular to where it points) by this many metres, in a uniformly random
    #: direction. Moving a spot light along its axis, or by a few centimetres, changes almost no pixel.
    distance = (1.0, 2.0)

    def __init__(self, model: mujoco.MjModel, task: str, **kwargs: Any) -> None:
        super().__init__(model, task, **kwargs)
        self.origin, self.direction = model.light_pos.copy(), None
        if cameras_look_up(model, self.cameras):
            self.origin, self.direction = lights_below_scene(model)

    def apply(self, rng: np.random.Generator) -> None:
        if self.direction is not None:
            self.model.light_dir[:] = self.direction
        for i in range(self.model.nlight):
            axis = self.model.light_dir[i] / np.linalg.norm(self.model.light_dir[i])
            sideways = rng.normal(size=3)
            sideways -= sideways.dot(axis) * axis
            sideways /= np.linalg.norm(sideways)
            self.model.light_pos[i] = self.origin[i] + rng.uniform(*self.distance) * sideways


class LightDirection(Distractor):
    name = "light_direction"
    #: Spread of the direction around the scene-hitting one for cameras below the scene (radians, roughly).
    cone = 0.3

    def __init__(self, model: mujoco.MjModel, task: str, **kwargs: Any) -> None:
        super().__init__(model, task, **kwargs)
        self.up = cameras_look_up(model, self.cameras)
        if self.up:
            model.light_pos[:], self.aim = lights_below_scene(model)

    def apply(self, rng: np.random.Generator) -> None:
        for i in range(self.model.nlight):
            if self.up:
                # from below, an unlit scene is what the camera sees anyway: turn the light within a cone around
                # the direction that hits the scene, so that every draw lights it differently
                d = self.aim[i] + self.cone * rng.normal(size=3)
                d[2] = abs(d[2])
            else:
                d = rng.normal(size=3)
                d[2] = -abs(d[2]) - 0.2  # keep shining downwards-ish so the scene is not black
            self.model.light_dir[i] = d / np.linalg.norm(d)


class ObjectColor(Distractor):
    name = "object_color"

    def __init__(self, model: mujoco.MjModel, task: str, **kwargs: Any) -> None:
        super().__init__(model, task, **kwargs)
        bodies = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in TASK_OBJECT_BODIES[task]]
        visible = model.geom_rgba[:, 3] > 0
        self.geoms = np.flatnonzero(np.isin(model.geom_bodyid, bodies) & visible)
        if self.geoms.size == 0:
            raise ValueError(f"no visible object geoms found for task {task!r}")

    def apply(self, rng: np.random.Generator) -> None:
        self.model.geom_matid[self.geoms] = -1  # a material would override the colour
        self.model.geom_rgba[self.geoms, :3] = rng.uniform(0, 1, size=(self.geoms.size, 3))
        self.model.geom_rgba[self.geoms, 3] = 1.0


class RandomObject(Distractor):
    """A random shape placed where every rendered camera sees its centre (not behind the door frame)."""

    name = "random_object"
    #: World-frame box the object's centre is drawn from (the workspace of all four tasks).
    region = ((-0.45, -0.45, 0.0), (0.45, 0.35, 0.45))
    #: The centre must project inside this fraction of the image (per axis) and be this far from the camera.
    in_view, min_depth, tries = 0.85, 0.25, 200

    def __init__(self, model: mujoco.MjModel, task: str, **kwargs: Any) -> None:
        super().__init__(model, task, **kwargs)
        self.geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, DISTRACTOR_GEOM)
        if self.geom < 0:
            raise ValueError(
                "the model has no distractor geom; build the env with EnvConfig(distractor='random_object')"
            )
        self.camera_ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, c) for c in self.cameras]

    def apply(self, rng: np.random.Generator) -> None:
        m, g = self.model, self.geom
        m.geom_type[g] = _SHAPES[rng.integers(len(_SHAPES))]
        m.geom_size[g] = rng.uniform(0.03, 0.08, size=3)
        m.geom_rgba[g] = [*rng.uniform(0, 1, size=3), 1.0]
        quat = rng.normal(size=4)
        m.geom_quat[g] = quat / np.linalg.norm(quat)
        m.geom_rbound[g] = float(np.linalg.norm(m.geom_size[g]) * 2)
        for _ in range(self.tries):
            m.geom_pos[g] = rng.uniform(*self.region)
            if self.visible(m.geom_pos[g]):
                break

    def visible(self, pos: np.ndarray) -> bool:
        """Whether ``pos`` is in front of every camera, inside its view and not hidden behind scene geometry."""
        if self.data is None or not self.camera_ids:
            return True
        m, d = self.model, self.data
        mujoco.mj_kinematics(m, d)  # camera poses for the current qpos (render-only: qpos/qvel untouched)
        alpha = m.geom_rgba[self.geom, 3]
        m.geom_rgba[self.geom, 3] = 0.0  # mj_ray skips transparent geoms: look past the object itself
        try:
            for cam in self.camera_ids:
                ray = pos - d.cam_xpos[cam]
                local = d.cam_xmat[cam].reshape(3, 3).T @ ray  # camera frame: x right, y up, looking along -z
                depth = -local[2]
                if depth < self.min_depth:
                    return False
                half = np.tan(np.deg2rad(m.cam_fovy[cam]) / 2)
                if max(abs(local[0]), abs(local[1])) / depth > self.in_view * half:
                    return False
                dist = float(np.linalg.norm(ray))
                hit = mujoco.mj_ray(m, d, d.cam_xpos[cam], ray / dist, None, 1, -1, np.zeros(1, np.int32))
                if 0 <= hit < dist:
                    return False
            return True
        finally:
            m.geom_rgba[self.geom, 3] = alpha


DISTRACTORS: dict[str, type[Distractor]] = {
    cls.name: cls for cls in (LightPosition, LightDirection, ObjectColor, RandomObject)
}


class VisualDistractor(gym.Wrapper):
    """Resamples a :class:`Distractor` at every reset (wrap inside the observation wrapper that renders)."""

    def __init__(self, env: gym.Env, name: str, task: str, cameras: tuple[str, ...] = ()) -> None:
        super().__init__(env)
        if name not in DISTRACTORS:
            raise ValueError(f"unknown distractor {name!r}; valid: {', '.join(DISTRACTORS)}")
        base = env.unwrapped
        self.distractor = DISTRACTORS[name](base.model, task, data=base.data, cameras=cameras)
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng([seed, 0xD15])
        self.distractor.apply(self._rng)
        return obs, info
