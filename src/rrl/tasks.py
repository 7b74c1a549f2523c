"""The ADROIT task suite as data (paper section 5.1, DAPG horizons and success rules).

One frozen :class:`TaskSpec` per task says which Gymnasium-Robotics environment it is, how long an episode
lasts, when a trajectory counts as a success, which joints form the proprioception, which cameras exist and
which parts of the MuJoCo *model* (not just ``qpos``/``qvel``) are randomised per episode and so belong to the
simulator state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The 24 hand joints of the ADROIT/Shadow hand (wrist and fingers), in qpos order.
HAND_JOINTS: tuple[str, ...] = (
    "WRJ1", "WRJ0",
    "FFJ3", "FFJ2", "FFJ1", "FFJ0",
    "MFJ3", "MFJ2", "MFJ1", "MFJ0",
    "RFJ3", "RFJ2", "RFJ1", "RFJ0",
    "LFJ4", "LFJ3", "LFJ2", "LFJ1", "LFJ0",
    "THJ4", "THJ3", "THJ2", "THJ1", "THJ0",
)  # fmt: skip


@dataclass(frozen=True)
class CameraSpec:
    """A camera of a task.

    ``pos is None`` means the camera exists in the Gymnasium-Robotics model and is used unchanged. Otherwise the
    camera is added to the model (or an existing one with that name is moved) at load time, looking from ``pos``
    at ``lookat`` (``up`` fixes the roll); ``quat`` keeps an explicit orientation instead.
    """

    name: str
    pos: tuple[float, float, float] | None = None
    lookat: tuple[float, float, float] | None = None
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    quat: tuple[float, float, float, float] | None = None
    fovy: float = 45.0


@dataclass(frozen=True)
class ModelField:
    """A model array entry that the task randomises at reset (part of the full simulator state)."""

    attr: str  # "body_pos", "body_quat" or "site_pos"
    name: str  # body or site name

    @property
    def key(self) -> str:
        return f"model.{self.attr}.{self.name}"


@dataclass(frozen=True)
class TaskSpec:
    """Everything rrl needs to know about one ADROIT task."""

    name: str
    env_id: str  # Gymnasium-Robotics id of the sparse-reward variant (the paper's setting)
    dense_env_id: str  # Gymnasium-Robotics id of the dense variant (rrl recomputes its reward, see rrl.envs.rewards)
    env_class: str  # class name in gymnasium_robotics.envs.adroit_hand
    horizon: int  # episode length used by DAPG/RRL
    success_threshold: int  # a trajectory succeeds when the goal holds on MORE than this many steps
    cameras: tuple[CameraSpec, ...]
    default_cameras: tuple[str, ...]  # the RRL camera(s)
    randomised: tuple[ModelField, ...]
    opaque_bodies: tuple[str, ...] = ()  # bodies whose geoms are made opaque for rendering
    hidden_bodies: tuple[str, ...] = ()  # bodies whose geoms are made invisible for rendering (physics unchanged)
    hand_joints: tuple[str, ...] = field(default=HAND_JOINTS)

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    def camera(self, name: str) -> CameraSpec:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise ValueError(f"unknown camera {name!r} for task {self.name!r}; valid cameras: {', '.join(self.camera_names)}")

    def is_success(self, successes: np.ndarray) -> bool:
        """DAPG/RRL rule: a trajectory succeeds when the goal is achieved on more than ``success_threshold`` steps."""
        return int(np.count_nonzero(successes)) > self.success_threshold


_GYM_CAMERAS = (CameraSpec("fixed"), CameraSpec("vil_camera"))
_DOWN = (0.0, 0.0, 0.0)

TASKS: dict[str, TaskSpec] = {
    "door": TaskSpec(
        name="door",
        env_id="AdroitHandDoorSparse-v1",
        dense_env_id="AdroitHandDoor-v1",
        env_class="AdroitHandDoorEnv",
        horizon=200,
        success_threshold=25,
        cameras=(CameraSpec("top", pos=(0.0, 0.0, 1.5), quat=(1.0, 0.0, 0.0, 0.0)), *_GYM_CAMERAS),
        default_cameras=("top",),
        randomised=(ModelField("body_pos", "frame"),),
    ),
    "hammer": TaskSpec(
        name="hammer",
        env_id="AdroitHandHammerSparse-v1",
        dense_env_id="AdroitHandHammer-v1",
        env_class="AdroitHandHammerEnv",
        horizon=200,
        success_threshold=25,
        cameras=(CameraSpec("top", pos=(0.0, 0.0, 1.1), quat=(1.0, 0.0, 0.0, 0.0)), *_GYM_CAMERAS),
        default_cameras=("top",),
        randomised=(ModelField("body_pos", "nail_board"),),
    ),
    "pen": TaskSpec(
        name="pen",
        env_id="AdroitHandPenSparse-v1",
        dense_env_id="AdroitHandPen-v1",
        env_class="AdroitHandPenEnv",
        horizon=100,
        success_threshold=20,
        cameras=(
            CameraSpec("vil_camera", pos=(0.0, -0.8, 0.8), quat=(0.92388, 0.382683, 0.0, 0.0)),
            CameraSpec("fixed"),
            *(CameraSpec(f"view_{i}") for i in range(1, 6)),
        ),
        default_cameras=("vil_camera",),
        randomised=(ModelField("body_quat", "target"),),
        opaque_bodies=("Object", "target"),
    ),
    "relocate": TaskSpec(
        name="relocate",
        env_id="AdroitHandRelocateSparse-v1",
        dense_env_id="AdroitHandRelocate-v1",
        env_class="AdroitHandRelocateEnv",
        horizon=200,
        success_threshold=25,
        cameras=(
            CameraSpec("cam1", pos=(0.0, -0.04, -1.0), quat=(0.0, 1.0, 0.0, 0.0)),  # below, through the table
            CameraSpec("cam2", pos=(0.0, 0.8, 0.2), lookat=(0.0, 0.0, 0.15), up=(0.0, 0.0, 1.0)),
            CameraSpec("cam3", pos=(0.8, 0.0, 0.2), lookat=(0.0, 0.0, 0.15), up=(0.0, 0.0, 1.0)),
            *_GYM_CAMERAS,
        ),
        default_cameras=("cam1",),
        randomised=(ModelField("body_pos", "Object"), ModelField("site_pos", "target")),
        hidden_bodies=("table",),
    ),
}


def get_task(name: str) -> TaskSpec:
    """Look a task up by name; unknown names raise ValueError listing the valid ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}") from None


def describe_tasks() -> str:
    """A table of the tasks with their dimensions (builds each environment once)."""
    from rrl.envs import EnvConfig, make_env

    rows = [("task", "env id", "horizon", "success", "state dim", "action dim", "proprio", "cameras (RRL first)")]
    for spec in TASKS.values():
        env = make_env(EnvConfig(task=spec.name, obs_mode="state"))
        cams = list(spec.default_cameras) + [c for c in spec.camera_names if c not in spec.default_cameras]
        rows.append(
            (
                spec.name,
                spec.env_id,
                str(spec.horizon),
                f">{spec.success_threshold} steps",
                str(env.observation_space.shape[0]),
                str(env.action_space.shape[0]),
                str(len(spec.hand_joints)),
                ",".join(cams),
            )
        )
        env.close()
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
