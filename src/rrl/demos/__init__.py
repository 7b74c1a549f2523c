"""Demonstrations for DAPG/RRL (paper Algorithm 1 input, section 3.3).

>>> from rrl.demos import make_expert_demos, save_demos, load_demos
>>> demos = make_expert_demos("door", n=25, seed=0)        # roll out the published DAPG expert
>>> save_demos(demos, "door.h5"); demos = load_demos("door.h5", task="door")
>>> demos.trajectories[0]["observations"].shape, demos.trajectories[0]["sim_states"]["qpos"].shape
>>> demos = get_demos("hammer")   # <cache>/demos/hammer-expert-n25-seed0.h5, made on first use

- :mod:`rrl.demos.safe_pickle`: allow-list unpickler for the untrusted hand_dapg pickles.
- :mod:`rrl.demos.expert`: the published expert policies as numpy :class:`ExpertPolicy` objects.
- :mod:`rrl.demos.storage`: the versioned HDF5 format (docs/demos.md), :class:`DemoSet`.
- :mod:`rrl.demos.rollout`: expert demonstrations; :mod:`rrl.demos.human`: the human door demos rebuilt as states.
- :mod:`rrl.demos.visual`: encoder features of re-rendered frames, cached.
"""

from rrl.demos.expert import ExpertPolicy, load_expert_policy
from rrl.demos.human import human_door_demos, open_loop_replay
from rrl.demos.rollout import default_demo_path, get_demos, make_expert_demos
from rrl.demos.safe_pickle import CorruptPickleError, ForbiddenGlobalError, safe_load
from rrl.demos.storage import FORMAT_VERSION, DemoFormatError, DemoSet, load_demos, save_demos
from rrl.demos.visual import contact_sheet, demo_proprio, visual_features

__all__ = [
    "CorruptPickleError",
    "DemoFormatError",
    "DemoSet",
    "ExpertPolicy",
    "FORMAT_VERSION",
    "ForbiddenGlobalError",
    "contact_sheet",
    "default_demo_path",
    "demo_proprio",
    "get_demos",
    "human_door_demos",
    "load_demos",
    "load_expert_policy",
    "make_expert_demos",
    "open_loop_replay",
    "safe_load",
    "save_demos",
    "visual_features",
]
