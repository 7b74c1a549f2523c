"""Evaluate a trained run: deterministic success rate, optionally under a visual distractor, and a video.

>>> from rrl.evaluate import evaluate_run
>>> result = evaluate_run("runs/door", episodes=75)                           # clean
>>> result = evaluate_run("runs/door", episodes=75, distractor="light_position")  # paper Fig. 4 / appendix 7.5
>>> result = evaluate_run("runs/door", episodes=75, progress=True)               # a tqdm bar on stderr
>>> write_video("runs/door", "door.mp4")

The policy is frozen (the last checkpoint of the run, or with ``policy="bc"`` the one RL started from); episodes
use the mean action and the task's success rule, seeded from ``seed`` exactly as the training loop's evaluation,
so a clean evaluation with the run's seed and ``eval_episodes`` reproduces ``summary.json``'s ``final_policy_eval``
(the checkpoint's policy). It is not the last ``success_eval`` of ``log.csv``: iteration k's row scores the policy
before that iteration's update (so row 0 scores ``policy="bc"``).

``rrl eval`` appends each result, with its command, commit and date, to the run's ``evaluations.jsonl``
(:func:`record_evaluation`), so that an export (``rrl results``, ``rrl experiment``) carries the numbers with
the run's curve.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rrl.checkpoint import BC_POLICY, CHECKPOINT, read_checkpoint, read_policy_weights, read_run_meta
from rrl.config import TrainConfig
from rrl.errors import one_line
from rrl.policy import GaussianMLP
from rrl.sampling import EvalResult, evaluate_policy


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The config of the run in ``run_dir``; FileNotFoundError unless it has ``config.json`` and a checkpoint,
    ValueError (naming the file and field) for a damaged or hand-edited config.json."""
    run_dir = Path(run_dir)
    for p in (run_dir / "config.json", run_dir / CHECKPOINT):
        if not p.is_file():
            raise FileNotFoundError(f"{p} not found: {run_dir} is not a finished-or-running rrl run folder")
    return read_run_meta(run_dir)[1]


#: Which of a run's policies :func:`load_run` reads: the last checkpoint's, or the one after behaviour cloning.
POLICIES = ("final", "bc")
EVALUATIONS = "evaluations.jsonl"  # rrl eval's results in a run folder, one JSON object a line


def load_run(
    run_dir: str | Path, device: str | None = None, policy: str = "final", encoder_weights: str | None = None
) -> tuple[TrainConfig, GaussianMLP]:
    """The config and a policy of ``run_dir`` (loaded with ``weights_only=True``): ``policy="final"`` the last
    checkpoint's, ``"bc"`` the one the run started RL from (``bc_policy.pt``: after the BC warm-up, Eq. 5; the
    initial policy of a run without demos).

    ``device`` replaces the run's encoder device (e.g. ``"cpu"`` for a run trained on a GPU box),
    ``encoder_weights`` its weights path (a run moved to another machine or folder: the file must hold the weights
    it was trained with, :func:`rrl.run.assembly.check_encoder_weights`).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    from rrl.run.assembly import make_policy

    run_dir = Path(run_dir)
    cfg_path, ckpt = run_dir / "config.json", run_dir / CHECKPOINT
    cfg = load_run_config(run_dir)
    if device is not None:
        cfg = dataclasses.replace(cfg, device=device)
    if encoder_weights is not None and encoder_weights != cfg.encoder_weights:  # the run's weights, moved
        from rrl.checkpoint import read_run_meta
        from rrl.run.assembly import check_encoder_weights

        cfg = dataclasses.replace(cfg, encoder_weights=encoder_weights)
        check_encoder_weights(read_run_meta(run_dir)[0], cfg, run_dir)
    if policy == "bc":
        ckpt = run_dir / BC_POLICY
        state = read_policy_weights(ckpt)  # structure, sizes and finite numbers verified
    else:
        state = read_checkpoint(ckpt)["policy"]  # checksum, structure, sizes and finite numbers verified
    if cfg.algo in ("sac", "ferm"):
        from rrl.train_ferm import FERMPolicy
        from rrl.train_sac import SACPolicy

        try:
            if cfg.algo == "ferm":
                return cfg, FERMPolicy.from_state(state, cfg)
            return cfg, SACPolicy.from_state(state, cfg.policy_size, cfg.sac_max_log_std, cfg.sac_min_log_std)
        except (KeyError, RuntimeError) as err:
            raise ValueError(
                f"the checkpoint {ckpt} does not hold the {cfg.algo.upper()} policy of {cfg_path}: {one_line(err)}"
            ) from None
    if "in_shift" not in state or "out_shift" not in state:
        raise ValueError(f"the checkpoint {ckpt} holds no rrl policy (no input/output shifts)")
    # The input size depends on the encoder and cameras; the shift buffers carry it (and the action size).
    obs_dim, act_dim = len(state["in_shift"]), len(state["out_shift"])
    net = make_policy(cfg, obs_dim, act_dim)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"the checkpoint {ckpt} does not match the policy of {cfg_path}: {one_line(err)}") from None
    return cfg, net


def _sampler(cfg: TrainConfig, run_dir: str | Path, distractor: str | None, n_envs: int | None):
    from rrl.run.assembly import make_default_sampler, make_run_encoder

    if not cfg.is_pixel:
        if distractor is not None:
            raise ValueError(
                "distractors change only rendered frames; this run learned from state, so they cannot affect it"
            )
        return make_default_sampler(cfg, run_dir=run_dir)
    if n_envs is not None:
        cfg = dataclasses.replace(cfg, n_envs=n_envs, n_groups=2 if n_envs % 2 == 0 else 1)
    return make_default_sampler(cfg, make_run_encoder(cfg), distractor=distractor)


class _CountingActor:
    """The policy's numpy actor; every ``mean`` call also reports how many environments it acted for."""

    def __init__(self, actor: Any, count: Callable[[int], None]) -> None:
        self._actor, self._count = actor, count

    def mean(self, x: np.ndarray) -> np.ndarray:
        out = self._actor.mean(x)
        self._count(len(x))
        return out

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._actor, name)


class _CountingPolicy:
    """A policy whose numpy actors are :class:`_CountingActor`; everything else is the wrapped policy's."""

    def __init__(self, policy: Any, count: Callable[[int], None]) -> None:
        self._policy, self._count = policy, count

    def numpy_actor(self) -> _CountingActor:
        return _CountingActor(self._policy.numpy_actor(), self._count)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._policy, name)


class _EpisodeBar:
    """A tqdm bar (stderr) over the ``episodes`` of one collection, advanced by environment steps.

    The samplers run the episodes in rounds of ``width`` environments of ``horizon`` steps each (the last round
    may keep fewer than ``width``); :meth:`steps` takes the number of environments that just took one step and
    moves the bar by the share of the current round's episodes that this completes.
    """

    def __init__(self, episodes: int, width: int, horizon: int, desc: str) -> None:
        from tqdm import tqdm

        self.episodes, self.width, self.horizon = episodes, max(1, width), max(1, horizon)
        self.env_steps = 0
        self.bar = tqdm(total=episodes, desc=desc, unit="episode")

    def steps(self, n: int) -> None:
        self.env_steps += n
        per_round = self.width * self.horizon
        rounds, within = divmod(self.env_steps, per_round)
        done = rounds * self.width
        if done < self.episodes:
            done += min(self.width, self.episodes - done) * within // per_round
        self.bar.update(min(done, self.episodes) - self.bar.n)

    def finish(self) -> None:
        """Fill the bar: episodes that end before the horizon leave it short."""
        self.bar.update(self.episodes - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def evaluate_run(
    run_dir: str | Path,
    episodes: int = 75,
    seed: int | None = None,
    distractor: str | None = None,
    n_envs: int | None = None,
    device: str | None = None,
    progress: bool = False,
    policy: str = "final",
    encoder_weights: str | None = None,
) -> EvalResult:
    """Deterministic success of the run's policy on ``episodes`` episodes (``distractor``: see ``rrl.envs``).

    ``seed=None`` uses the training loop's evaluation seed. ``n_envs`` overrides the run's number of envs,
    ``device`` its encoder device (features then differ by rounding, so success can differ slightly).
    ``progress``: a tqdm bar over the episodes on stderr (the result does not depend on it). ``policy``: ``"final"``
    (the last checkpoint's) or ``"bc"`` (the policy RL started from; :func:`load_run`), on the same episodes;
    ``encoder_weights``: see :func:`load_run`.
    """
    from rrl.seeding import STREAM_EVAL, stream_seed

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    cfg, net = load_run(run_dir, device, policy, encoder_weights)
    seed = stream_seed(cfg.seed, 0, STREAM_EVAL) if seed is None else seed
    sampler = _sampler(cfg, run_dir, distractor, n_envs)
    bar = None
    try:
        if progress:
            width = (n_envs or cfg.n_envs) if cfg.is_pixel else cfg.workers
            desc = f"eval {cfg.task}" + (f" ({distractor})" if distractor else "")
            bar = _EpisodeBar(episodes, width, cfg.effective_horizon, desc)
            net = _CountingPolicy(net, bar.steps)
        result = evaluate_policy(sampler, net, cfg.task_spec, episodes, seed)
        if bar is not None:
            bar.finish()
        return result
    finally:
        if bar is not None:
            bar.close()
        sampler.close()


def write_video(
    run_dir: str | Path,
    out: str | Path,
    seed: int = 0,
    distractor: str | None = None,
    fps: int = 25,
    device: str | None = None,
    policy: str = "final",
    encoder_weights: str | None = None,
) -> dict[str, Any]:
    """One deterministic episode of the run's policy (``policy``: see :func:`load_run`) as a video (mp4/gif by
    extension) of its camera(s).

    Pixel runs show exactly the frames the policy saw (every camera side by side); state runs show the task's
    RRL camera at 256 pixels. Returns ``{"path", "steps", "success"}``.
    """
    import imageio.v2 as imageio

    from rrl.envs import EnvConfig, make_env
    from rrl.envs.wrappers import EpisodeOffset
    from rrl.run.assembly import make_run_encoder, pixel_env_config, state_featurizer

    cfg, net = load_run(run_dir, device, policy, encoder_weights)
    actor = net.numpy_actor()
    if cfg.is_pixel:
        from rrl.sampling.pipelined import VisualFeaturizer

        env_cfg = pixel_env_config(cfg, distractor=distractor)
        featurize = VisualFeaturizer(make_run_encoder(cfg), len(env_cfg.camera_names), cfg.proprio_dim)
        policy_input = lambda env, obs: featurize({k: v[None] for k, v in obs.items()})  # noqa: E731
    else:
        env_cfg = EnvConfig(
            task=cfg.task, obs_mode="rgb", reward=cfg.reward, horizon=cfg.horizon, distractor=distractor, crop_size=None
        )
        featurize_state = state_featurizer(cfg, run_dir=run_dir)  # what the policy sees, as in training
        noise = EpisodeOffset(cfg.task_spec.state_noise_std(cfg.state_noise))  # and as precisely (one episode)
        noise.reset(seed)
        policy_input = lambda env, obs: featurize_state(noise(env.unwrapped._get_obs())[None])  # noqa: E731
    env = make_env(env_cfg)
    frames, flags = [], []
    try:
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            frames.append(np.concatenate(list(obs["pixels"]), axis=1))
            action = actor.mean(policy_input(env, obs))[0].astype(np.float32)
            obs, _, term, trunc, info = env.step(action)
            flags.append(bool(info.get("success", False)))
            done = term or trunc
    finally:
        env.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    pad = ((0, (-h) % 16), (0, (-w) % 16), (0, 0))  # mp4 encoders want sizes divisible by 16
    if out.suffix.lower() == ".mp4":
        imageio.mimwrite(out, [np.pad(f, pad) for f in frames], fps=fps, macro_block_size=16)
    else:
        imageio.mimwrite(out, frames, duration=1000 / fps)
    return {"path": str(out), "steps": len(frames), "success": bool(cfg.task_spec.is_success(np.array(flags)))}


def record_evaluation(run_dir: str | Path, command: str, policy: str, distractor: str | None, seed: int | None,
                      result: EvalResult) -> dict[str, Any]:  # fmt: skip
    """Append ``result`` to ``run_dir/evaluations.jsonl`` with its ``command``, the rrl commit, the date and the
    samples the evaluated policy had trained on (0 for ``policy="bc"``); the file is rewritten atomically, so an
    interrupted write leaves the earlier records as they were. Returns the record."""
    from rrl.paths import atomic_write, git_commit
    from rrl.result_folder import utc_now
    from rrl.run.logs import read_log

    run_dir = Path(run_dir)
    rows = read_log(run_dir / "log.csv") if (run_dir / "log.csv").is_file() else []
    trained = int(float(rows[-1]["samples"])) if rows and policy == "final" else 0
    record = {
        "command": command, "commit": git_commit(), "date": utc_now(), "policy": policy, "samples": trained,
        "distractor": distractor, "seed": seed, "episodes": result.episodes, "success_rate": result.success_rate,
        "mean_return": result.mean_return,
    }  # fmt: skip
    earlier = read_evaluations(run_dir)  # refuses to add to a damaged file
    lines = [json.dumps(r, sort_keys=True) for r in [*earlier, record]]
    atomic_write(run_dir / EVALUATIONS, lambda f: f.write("\n".join(lines) + "\n"))
    return record


def read_evaluations(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``run_dir/evaluations.jsonl`` (none without the file); ValueError naming the line of a
    damaged one."""
    path = Path(run_dir) / EVALUATIONS
    if not path.is_file():
        return []
    records = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            record, reason = None, one_line(err)
        else:
            reason = "not an object with command and success_rate"
        if not isinstance(record, dict) or not {"command", "success_rate"} <= set(record):
            raise ValueError(f"{path}, line {n}: {reason}; remove or mend that line (each line is one `rrl eval` "
                             "result)")  # fmt: skip
        records.append(record)
    return records
