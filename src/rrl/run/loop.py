"""Training and resuming a run folder: :func:`train`, :func:`resume` and the loop they share.

Run folder: ``config.json`` (every hyper-parameter, the command line, versions), ``log.csv`` (one row per
iteration), ``tb/`` (TensorBoard), ``curve.png``, ``bc.json`` (the warm-up's losses), ``checkpoint.pt`` (written
atomically after every iteration), ``demos.h5`` (the run's demonstrations), ``summary.json`` (final evaluation).
The trainer of each algorithm (:func:`make_trainer`) gives the loop ``behavior_clone()``, ``iteration(k)``
(the log row), ``state_dict``/``load_state_dict`` and ``save_checkpoint``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rrl.checkpoint import BC_POLICY, CHECKPOINT, SUMMARY, identity_mismatch, read_checkpoint, read_run_meta
from rrl.config import BC_STAGE_FIELDS, IDENTITY_FIELDS, TrainConfig
from rrl.paths import atomic_write
from rrl.result_folder import library_versions
from rrl.run.assembly import (
    RUN_DEMOS,
    check_demos_finite,
    check_encoder_weights,
    load_demo_set,
    load_state_demos,
    load_visual_demos,
    make_default_sampler,
    make_run_encoder,
)
from rrl.run.logs import RunLogger, read_log
from rrl.run.trainer import Trainer
from rrl.sampling import DemoData, Sampler, evaluate_policy
from rrl.seeding import STREAM_EVAL, stream_seed


def train(
    cfg: TrainConfig,
    sampler: Sampler | None = None,
    demos: DemoData | None = None,
    progress: bool = True,
) -> Path:
    """Run Algorithm 1 for ``cfg`` in a fresh run folder (``cfg.out``); returns the folder.

    ``sampler``/``demos`` default to the state sampler and state demonstrations of ``cfg``; the sampler passed
    in is not closed. Raises FileExistsError if the folder already holds a checkpoint (use :func:`resume`) or
    anything else: a new run goes into a new or empty folder, so it never overwrites a file.
    """
    run_dir = Path(cfg.out or cfg.default_out())
    if (run_dir / CHECKPOINT).exists():
        raise FileExistsError(
            f"{run_dir} already holds a run; resume it with `rrl train --resume {run_dir}` or pick another --out"
        )
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        entries = sorted(p.name for p in run_dir.iterdir())[:4] if run_dir.is_dir() else []
        what = f"is not empty ({', '.join(entries)})" if run_dir.is_dir() else "is a file"
        hint = (
            f"; it is a run that stopped before its first checkpoint: continue it with `rrl train --resume {run_dir}`"
            if (run_dir / "config.json").is_file() else ""
        )
        raise FileExistsError(f"{run_dir} {what}: a new run needs a new or empty --out folder{hint}")
    # missing weights or demonstrations fail here, before the folder exists (a fresh run never reads the
    # folder's demos.h5; it is replaced below)
    inputs = _load_inputs(cfg, None, sampler, demos, progress)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "log.csv").unlink(missing_ok=True)
    (run_dir / RUN_DEMOS).unlink(missing_ok=True)  # a fresh run keeps the demos of its own config
    from rrl.paths import git_commit

    meta = {
        "config": cfg.to_json(), "argv": sys.argv, "commit": git_commit(), "versions": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }  # fmt: skip
    weights_hash = getattr(inputs[0], "weights_hash", None)  # a frozen encoder's (FERM trains its own)
    if weights_hash is not None:  # lets the run find its weights at another path (check_encoder_weights)
        meta["encoder_weights_hash"] = weights_hash
    _write_json(run_dir / "config.json", meta)
    return _run(cfg, run_dir, sampler, demos, progress, fresh=True, inputs=inputs)


def resume(
    run_dir: str | Path,
    sampler: Sampler | None = None,
    demos: DemoData | None = None,
    progress: bool = True,
    adopt_demos: bool = False,
    **overrides: Any,
) -> Path:
    """Continue the run in ``run_dir`` from its last checkpoint (or start it if it stopped before one).

    ``overrides`` may change settings that do not define the run (e.g. ``iterations`` to extend it,
    ``rl_step_size`` after a divergence); they are recorded in ``config.json``. Without overrides the next
    iteration is exactly the one an uninterrupted run would have computed. ``adopt_demos``: see
    ``Trainer._check_demos`` (only for checkpoints older than the run folder's ``demos.h5``).
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    meta, cfg = read_run_meta(run_dir)
    _remove_stale_temporaries(run_dir)
    overrides = {k: v for k, v in overrides.items() if getattr(cfg, k, object()) != v}  # drop what already holds
    bad = sorted(k for k in overrides if k in IDENTITY_FIELDS)
    if bad:
        raise ValueError(f"cannot change {bad} when resuming (they define the run); start a new run instead")
    if "encoder_weights" in overrides:  # a run moved: the same weights at another path
        check_encoder_weights(meta, dataclasses.replace(cfg, **overrides), run_dir)
    fresh = not (run_dir / CHECKPOINT).exists()
    spent = sorted(k for k in overrides if k in BC_STAGE_FIELDS)
    if spent and not fresh:
        raise ValueError(
            f"{spent} act in behaviour cloning, before the first iteration, which this run is past; changing them "
            "on resume would do nothing. Start a new run instead"
        )
    record = None
    if overrides or adopt_demos:
        cfg = dataclasses.replace(cfg, **overrides)
        meta["config"] = cfg.to_json()
        from rrl.paths import git_commit

        entry = {
            "overrides": overrides, "argv": sys.argv, "commit": git_commit(), "at": time.strftime("%Y-%m-%dT%H:%M:%S")
        }
        meta.setdefault("resumed_with", []).append(entry | ({"adopt_demos": True} if adopt_demos else {}))

        def record() -> None:  # once every check has passed: a refused resume changes nothing on disk
            _write_json(cfg_path, meta)
            if "iterations" in overrides:  # an extended run is unfinished again: its summary describes an old end
                (run_dir / SUMMARY).unlink(missing_ok=True)

    return _run(cfg, run_dir, sampler, demos, progress, fresh=fresh, adopt_demos=adopt_demos, on_ready=record)


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Temporary files of :func:`rrl.paths.atomic_write` that a kill during a write left in the run folder."""
    for tmp in run_dir.glob(".*.tmp"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)


def _check_identity(state: dict[str, Any], cfg: TrainConfig, run_dir: Path) -> None:
    """The checkpoint's own config is the authority on what the run is: a run-defining field that differs from
    ``cfg`` (an edited config.json) is an error naming it."""
    changed = identity_mismatch(state["config"], cfg, IDENTITY_FIELDS)
    if changed:
        saved = {f: state["config"][f] for f in changed}
        raise ValueError(
            f"{run_dir / 'config.json'} disagrees with the run's checkpoint on {changed} (the checkpoint says "
            f"{saved}); these define the run: restore config.json, or start a new run with the new settings"
        )


def make_trainer(cfg: TrainConfig, sampler: Sampler, demos: DemoData | None, run_dir: Path, demo_set: Any = None):
    """The trainer of ``cfg.algo``: :class:`Trainer` (BC, NPG, DAPG), :class:`rrl.train_sac.SACTrainer` or
    :class:`rrl.train_ferm.FERMTrainer`."""
    if cfg.algo == "ferm":
        from rrl.train_ferm import FERMTrainer

        return FERMTrainer(cfg, sampler, demos, run_dir, demo_set)
    if cfg.algo == "sac":
        from rrl.train_sac import SACTrainer

        if demos is not None and demo_set is None:
            raise ValueError("--algo sac recomputes the demonstrations' rewards from their simulator states: give "
                             "the demonstrations as a demo set (--demos), not as policy inputs alone")  # fmt: skip
        return SACTrainer(cfg, sampler, demos, run_dir, demo_set)
    return Trainer(cfg, sampler, demos, run_dir)


def _check_log_covers(run_dir: Path, next_iteration: int) -> None:
    """The log must hold a row for every iteration the checkpoint has done (it is written before the checkpoint);
    checked before the log is truncated to them."""
    path = run_dir / "log.csv"
    try:
        logged = {int(r["iteration"]) for r in read_log(path)} if path.is_file() else set()
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path} is damaged (no readable 'iteration' column); restore it from a copy") from None
    missing = [k for k in range(next_iteration) if k not in logged]
    if missing:
        raise ValueError(
            f"the checkpoint of {run_dir} has done {next_iteration} iterations but {path} lacks {len(missing)} of "
            f"them (first: {missing[0]}): log and checkpoint come from different runs or times; restore both from "
            "one copy of the run folder"
        )


def _load_inputs(
    cfg: TrainConfig, run_dir: Path | None, sampler: Sampler | None, demos: DemoData | None, progress: bool
) -> tuple[Any, Any, DemoData | None]:
    """The run's encoder (pixel runs that build a sampler or featurise demos), ``DemoSet`` and ``DemoData``.

    The encoder comes first: missing weights fail before any demonstration is read or environment started.
    """
    encoder = None
    if cfg.is_pixel and (sampler is None or demos is None):
        encoder = make_run_encoder(cfg)
    demo_set = None
    if demos is None and cfg.demos != "none":
        demo_set = load_demo_set(cfg, run_dir)
        demos = load_visual_demos(cfg, encoder, progress, demo_set) if cfg.is_pixel else load_state_demos(cfg, demo_set)
    if demos is not None:
        check_demos_finite(demos, cfg.demos)
    return encoder, demo_set, demos


def _say_how_to_continue(run_dir: Path) -> None:
    """After Ctrl-C or SIGTERM: the command that continues the run (from its last checkpoint, or from the start
    where it stopped before its first)."""
    print(f"\nstopped: continue {run_dir} from its last checkpoint with `rrl train --resume {run_dir}`",
          file=sys.stderr)  # fmt: skip


def _run(
    cfg: TrainConfig,
    run_dir: Path,
    sampler: Sampler | None,
    demos: DemoData | None,
    progress: bool,
    fresh: bool,
    adopt_demos: bool = False,
    inputs: tuple[Any, Any, DemoData | None] | None = None,
    on_ready: Any = None,
) -> Path:
    """Train in ``run_dir`` (``fresh``: BC first, else from its checkpoint). ``inputs``: ``_load_inputs``'s result
    when the caller loaded them already. ``on_ready()`` runs once the inputs and the checkpoint have passed
    every check, before the first write to the run folder."""
    from tqdm import tqdm

    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    own_sampler = sampler is None
    try:  # making the demonstrations' features and starting the workers can take minutes
        encoder, demo_set, demos = inputs or _load_inputs(cfg, run_dir, sampler, demos, progress)
        state = None if fresh else read_checkpoint(run_dir / CHECKPOINT)  # verified before any environment starts
        if state is not None:
            _check_identity(state, cfg, run_dir)
            _check_log_covers(run_dir, state["next_iteration"])
        sampler = sampler if sampler is not None else make_default_sampler(cfg, encoder, demo_set=demo_set)
    except KeyboardInterrupt:
        _say_how_to_continue(run_dir)
        raise
    logger = None
    interrupted = False
    try:
        trainer = make_trainer(cfg, sampler, demos, run_dir, demo_set)
        if state is not None:
            trainer.load_state_dict(state, adopt_demos)
        if on_ready is not None:
            on_ready()
        if fresh:
            bc = trainer.behavior_clone()
            _write_json(run_dir / "bc.json", bc)
            atomic_write(run_dir / BC_POLICY, lambda f: torch.save(trainer.policy.state_dict(), f), binary=True)
        if demo_set is not None and not (run_dir / RUN_DEMOS).is_file():  # after the check: only the run's own demos
            from rrl.demos import save_demos

            save_demos(demo_set, run_dir / RUN_DEMOS)
        n_iterations = 1 if cfg.algo == "bc" else cfg.iterations
        logger = RunLogger(
            run_dir, trainer.next_iteration, f"{cfg.task} {cfg.obs} {cfg.algo} ({cfg.demos}, {cfg.reward})"
        )
        # wall_time counts the whole run: a resumed run continues from its last logged row
        prior = read_log(run_dir / "log.csv") if not fresh and (run_dir / "log.csv").exists() else []
        t_run = time.perf_counter() - (float(prior[-1]["wall_time"]) if prior and prior[-1].get("wall_time") else 0.0)
        bar = tqdm(total=n_iterations, initial=trainer.next_iteration, desc=f"{cfg.task} {cfg.algo}", unit="it",
                   disable=not progress)  # fmt: skip
        with bar:  # closed (drawn once more, then a new line) also when interrupted
            for k in range(trainer.next_iteration, n_iterations):
                samples_before = trainer.samples
                row = trainer.iteration(k)
                trainer.next_iteration = k + 1
                row["wall_time"] = time.perf_counter() - t_run
                row["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
                # log first, then checkpoint: a run killed in between re-runs iteration k on resume and the
                # log is truncated to the checkpoint's iterations, so log and checkpoint never disagree
                logger.log(row)
                trainer.save_checkpoint()
                bar.update(1)
                bar.set_postfix(
                    train=f"{100 * row['success_train']:.0f}%",
                    eval="-" if math.isnan(row["success_eval"]) else f"{100 * row['success_eval']:.0f}%",
                    sps=f"{(trainer.samples - samples_before) / max(row['t_sample'], 1e-9):.0f}",
                )
        _write_summary(trainer, run_dir)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM under the CLI (rrl.cli)
        interrupted = True
        _say_how_to_continue(run_dir)
        raise
    finally:
        if logger is not None:
            logger.close()
        if own_sampler:
            sampler.close(terminate=interrupted)
    return run_dir


def finished_iterations(run_dir: str | Path) -> int | None:
    """The iterations the run in ``run_dir`` finished, from its ``summary.json``; ``None`` if it has no readable
    summary (it never finished, or the summary was damaged: resuming rewrites it)."""
    try:
        done = json.loads((Path(run_dir) / SUMMARY).read_text(encoding="utf-8"))["iterations"]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError):
        return None
    return done if isinstance(done, int) and not isinstance(done, bool) else None


def _write_summary(trainer: Trainer, run_dir: Path) -> None:
    cfg = trainer.cfg
    rows = read_log(run_dir / "log.csv")
    summary: dict[str, Any] = {"iterations": len(rows), "samples": trainer.samples}
    for key in ("success_train", "success_eval"):
        first = next((r for r in rows if r[key] not in ("", None) and float(r[key]) >= 0.9), None)
        summary[f"first_{key}_ge_90"] = (
            None if first is None else {"iteration": int(first["iteration"]), "samples": int(first["samples"])}
        )
    if cfg.eval_episodes > 0:
        ev = evaluate_policy(
            trainer.sampler, trainer.policy, trainer.task, cfg.eval_episodes, stream_seed(cfg.seed, 0, STREAM_EVAL)
        )
        summary["final_policy_eval"] = {
            "success_rate": ev.success_rate, "mean_return": ev.mean_return, "episodes": ev.episodes
        }
    _write_json(run_dir / SUMMARY, summary)


def _write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, default=_json_default) + "\n"
    atomic_write(path, lambda f: f.write(text))


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, (tuple, set)):
        return list(v)
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"cannot serialise {type(v).__name__} to JSON")
