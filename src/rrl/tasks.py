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
    arm_joints: tuple[str, ...] = ()  # the arm's joints in qpos order (proprioception with include_arm)
    # (part, width) of the state vector in Gymnasium-Robotics' order (hand_qpos: the 24 HAND_JOINTS)
    state_layout: tuple[tuple[str, int], ...] = ()

    @property
    def state_dim(self) -> int:
        return sum(width for _, width in self.state_layout)

    def state_part_columns(self, part: str) -> list[int]:
        """Indices of one part of the state vector: a ``state_layout`` name (``handle_pos``) or one axis of a
        3-vector part (``handle_pos.z``)."""
        start = 0
        name, _, axis = part.partition(".")
        for layout_name, width in self.state_layout:
            if layout_name == name and (not axis or (width == 3 and len(axis) == 1 and axis in "xyz")):
                return [start + "xyz".index(axis)] if axis else list(range(start, start + width))
            start += width
        valid = ", ".join(n + (" (.x/.y/.z)" if w == 3 else "") for n, w in self.state_layout)
        raise ValueError(f"unknown state part {part!r} for task {self.name!r}; valid: {valid}")

    def state_columns(self, hide: tuple[str, ...] = ()) -> np.ndarray:
        """Indices of the state vector that remain after hiding the parts named in ``hide``
        (:meth:`state_part_columns` names). Used to ask what a state policy needs to know (``--state-hide``;
        docs/findings.md, "Which parts of the state are needed")."""
        hidden = {i for part in hide for i in self.state_part_columns(part)}
        return np.array([i for i in range(self.state_dim) if i not in hidden], dtype=np.int64)

    def state_noise_std(self, noise: tuple[str, ...]) -> np.ndarray:
        """Per-entry noise std of the state vector from ``("part=std", ...)`` (:meth:`state_part_columns` names,
        std in the part's units: metres for positions); entries not named get 0 (``--state-noise``)."""
        std = np.zeros(self.state_dim, dtype=np.float64)
        for item in noise:
            part, sep, value = item.partition("=")
            try:
                sigma = float(value)
            except ValueError:
                sigma = -1.0
            if not sep or not sigma >= 0:  # also rejects NaN
                raise ValueError(
                    f"state noise entries are 'part=std' with std >= 0 (e.g. palm_pos.x=0.03), got {item!r}"
                )
            std[self.state_part_columns(part)] = sigma
        return std

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    def camera(self, name: str) -> CameraSpec:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise ValueError(
            f"unknown camera {name!r} for task {self.name!r}; valid cameras: {', '.join(self.camera_names)}"
        )

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
        arm_joints=("ARTz", "ARRx", "ARRy", "ARRz"),
        state_layout=(
            ("arm_qpos", 3), ("hand_qpos", 24), ("latch", 1), ("door_hinge", 1), ("palm_pos", 3), ("handle_pos", 3),
            ("palm_to_handle", 3), ("door_open", 1),
        ),  # fmt: skip
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
        arm_joints=("ARRx", "ARRy"),
        state_layout=(
            ("arm_qpos", 2), ("hand_qpos", 24), ("nail_slide", 1), ("tool_qvel", 6), ("palm_pos", 3), ("tool_pos", 3),
            ("tool_euler", 3), ("nail_pos", 3), ("nail_impact", 1),
        ),  # fmt: skip
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
        state_layout=(
            ("hand_qpos", 24), ("pen_pos", 3), ("pen_vel", 6), ("pen_dir", 3), ("target_dir", 3),
            ("pen_to_target", 3), ("dir_error", 3),
        ),  # fmt: skip
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
        arm_joints=("ARTx", "ARTy", "ARTz", "ARRx", "ARRy", "ARRz"),
        state_layout=(
            ("arm_qpos", 6), ("hand_qpos", 24), ("palm_to_object", 3), ("palm_to_target", 3), ("object_to_target", 3),
        ),  # fmt: skip
        hidden_bodies=("table",),
    ),
}


def get_task(name: str) -> TaskSpec:
    """Look a task up by name; unknown names raise ValueError listing the valid ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}") from None
