"""Algorithm 1 of the paper: demonstrations -> behaviour cloning -> DAPG (or NPG) iterations; and the same run
folder for ``--algo sac`` and ``--algo ferm``.

>>> from rrl.train import TrainConfig, train, resume
>>> run_dir = train(TrainConfig(task="door", algo="dapg", demos="expert", iterations=50, out="runs/door"))
>>> resume("runs/door")    # continues a killed run; the next iteration equals the uninterrupted run's

The loop only sees policy-input vectors: a :class:`~rrl.sampling.Sampler` returns trajectories whose
observations are already featurized, and demonstrations arrive as :class:`~rrl.sampling.DemoData` in the same
space. :func:`train` builds the sampler and demos of its config itself; pass ``sampler=`` and ``demos=`` to train
on anything else (e.g. ``[encoder(frames), proprioception]``).

This module gathers the public names of :mod:`rrl.run` (assembly, trainer, logs, loop), where they live.
"""

from __future__ import annotations

from rrl.checkpoint import CHECKPOINT, TrainingDivergedError
from rrl.config import ALGOS, IDENTITY_FIELDS, TrainConfig, add_config_arguments, config_overrides
from rrl.run.assembly import (
    RUN_DEMOS,
    check_demos_finite,
    input_scale_floor,
    load_demo_set,
    load_state_demos,
    load_visual_demos,
    make_default_sampler,
    make_policy,
    make_run_encoder,
    pixel_env_config,
    state_featurizer,
)
from rrl.run.logs import LOG_COLUMNS, RunLogger, plot_curves, read_log
from rrl.run.loop import make_trainer, resume, train
from rrl.run.trainer import Trainer, dapg_settings
from rrl.seeding import stream_seed

__all__ = [
    "ALGOS",
    "CHECKPOINT",
    "IDENTITY_FIELDS",
    "LOG_COLUMNS",
    "RUN_DEMOS",
    "RunLogger",
    "TrainConfig",
    "Trainer",
    "TrainingDivergedError",
    "add_config_arguments",
    "check_demos_finite",
    "config_overrides",
    "dapg_settings",
    "input_scale_floor",
    "load_demo_set",
    "load_state_demos",
    "load_visual_demos",
    "make_default_sampler",
    "make_policy",
    "make_run_encoder",
    "make_trainer",
    "pixel_env_config",
    "plot_curves",
    "read_log",
    "resume",
    "state_featurizer",
    "stream_seed",
    "train",
]
