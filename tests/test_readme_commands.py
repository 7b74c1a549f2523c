"""Every ``rrl train`` command that README.md shows (new runs, not ``--resume``) parses into a valid
:class:`~rrl.config.TrainConfig`: a setting the library has come to refuse fails here, not in a user's shell."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _train_commands() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / "README.md").read_text().splitlines())
    return [line for line in lines if line.startswith("rrl train ") and "--resume" not in line]


def test_readme_has_train_commands():
    assert len(_train_commands()) >= 5


@pytest.mark.parametrize("command", _train_commands())
def test_readme_train_command_is_a_valid_config(command: str):
    from rrl.cli import build_parser
    from rrl.config import TrainConfig
    from rrl.train import config_overrides

    args = build_parser().parse_args(shlex.split(command)[1:])
    overrides = config_overrides(args)
    preset, task = overrides.pop("preset", None), overrides.pop("task", "door")
    TrainConfig.from_preset(preset, task, **overrides)
