"""Linear probe: how much of what a task hides from the policy can it read from frozen encoder features?

Not in the paper; a diagnostic for it. RRL's policy sees ``[features, proprioception]`` (paper Eq. 10), never
object state, so whatever the task randomises per episode (door: where the door frame, and so the handle, is;
hammer: the nail board; pen: the target orientation; relocate: the object and the target) must be read from the
image. This module measures how linearly readable it is: for ``episodes`` reset seeds it records the simulator
state at reset and after some random actions (the hand moves into view and occludes), renders the task's RRL
camera (or ``--cameras``, views side by side as in training) at each representation's size, encodes, and fits a
ridge regression representation -> randomised quantities on 75% of the episodes (inputs scaled as the policy
scales them; ridge strength chosen by 5-fold cross-validation grouped by episode), then reports the held-out R^2
and RMSE per quantity. Baselines: the 24 hand joint positions alone (they cannot see the
object: R^2 about 0) and raw pixels downsampled to 8x8 (how much a plain linear read of the image gets).

A representation is ``ENCODER@SIZE`` (e.g. ``efficientnet_lite0@128``, the ``cpu`` preset: 146-pixel render,
128 crop; ``efficientnet_lite0@224``: 256 render, 224 crop, the paper's sizes; ``random:resnet34@128``),
``proprio`` (``proprio+arm``: with the arm joints) or ``pixels8@SIZE``. ``--palm`` adds the palm's position
(where the hand is) to the quantities: a pixel policy gets the hand joints only, so the arm's pose, too, must
come from the frames. Outputs (each written atomically): ``probe.csv`` (one row per representation
and quantity), ``probe.png`` (held-out R^2 bars) and ``meta.json`` (command, commit, date, versions, settings, table).

Run::

    rrl experiment feature_probe --task door --episodes 300 --out results/feature_probe_door \
        --representations \
        efficientnet_lite0@128,efficientnet_lite0@224,random:efficientnet_lite0@128,pixels8@128,proprio
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rrl.result_folder import csv_file, write_file, write_meta, write_result_folder
from rrl.tasks import get_task

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_REPRESENTATIONS = (
    "efficientnet_lite0@128", "efficientnet_lite0@224", "random:efficientnet_lite0@128", "pixels8@128", "proprio",
)  # fmt: skip
ALPHAS = tuple(10.0**k for k in range(-3, 6))
COLUMNS = ("representation", "dim", "quantity", "r2", "rmse", "target_std", "alpha", "n_train", "n_test")


# ---------------------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class ProbeData:
    """Simulator states of the probe frames, with what the probe predicts.

    ``states``: one :func:`rrl.envs.get_sim_state` dict per frame; ``episode``: the episode index of each frame;
    ``targets`` (frames, quantities): the randomised model fields, flattened (and the palm's position with
    ``palm``); ``names``: one per target column; ``proprio`` (frames, joints): hand joint positions; ``arm``
    (frames, joints): arm joint positions (``TaskSpec.arm_joints``).
    """

    task: str
    states: list[dict[str, np.ndarray]]
    episode: np.ndarray
    targets: np.ndarray
    names: tuple[str, ...]
    proprio: np.ndarray
    arm: np.ndarray


def collect(
    task: str, episodes: int, steps: Sequence[int] = (0, 10, 30), seed: int = 0, palm: bool = False
) -> ProbeData:
    """Reset ``episodes`` times (seeds ``seed``, ``seed + 1``, ...) and record the state after each of ``steps``
    uniformly random actions. Target columns that never vary (e.g. a fixed coordinate) are dropped. ``palm``:
    the palm's position (site ``S_grasp``: where the hand is, which the arm joints set) is a target too."""
    from rrl.envs import EnvConfig, get_sim_state, make_env
    from rrl.envs.wrappers import joint_qpos_indices, proprio_joint_names

    if episodes < 8:
        raise ValueError(f"episodes must be at least 8 (75/25 split, 5-fold cross-validation), got {episodes}")
    steps = sorted(set(int(s) for s in steps))
    if not steps or steps[0] < 0:
        raise ValueError(f"steps must be non-negative step counts, got {list(steps)}")
    spec = get_task(task)
    env = make_env(EnvConfig(task=task))
    try:
        model = env.unwrapped.model
        qpos_idx = joint_qpos_indices(model, proprio_joint_names(spec, include_arm=False))
        arm_idx = joint_qpos_indices(model, spec.arm_joints)
        rng = np.random.default_rng(seed)
        low, high = env.action_space.low, env.action_space.high
        states, episode, proprio, arm, palms = [], [], [], [], []
        for ep in range(episodes):
            env.reset(seed=seed + ep)
            t = 0
            for target_t in steps:
                for _ in range(target_t - t):
                    env.step(rng.uniform(low, high).astype(env.action_space.dtype))
                t = target_t
                states.append(get_sim_state(env))
                episode.append(ep)
                proprio.append(env.unwrapped.data.qpos[qpos_idx].copy())
                arm.append(env.unwrapped.data.qpos[arm_idx].copy())
                palms.append(env.unwrapped.data.site("S_grasp").xpos.copy())
    finally:
        env.close()
    columns, names = [], []
    for field in spec.randomised:
        values = np.stack([s[field.key] for s in states]).astype(np.float64)
        for j in range(values.shape[1]):
            if values[:, j].std() > 1e-9:
                columns.append(values[:, j])
                kind = field.attr.split("_")[1]  # pos or quat
                names.append(f"{field.name} {'xyz'[j]}" if kind == "pos" else f"{field.name} {kind}[{j}]")
    if not columns:
        raise ValueError(f"nothing that task {task!r} randomises varied over {episodes} episodes")
    if palm:
        columns += list(np.asarray(palms, dtype=np.float64).T)
        names += ["palm x", "palm y", "palm z"]
    targets = np.stack(columns, axis=1)
    return ProbeData(task, states, np.asarray(episode), targets, tuple(names), np.asarray(proprio), np.asarray(arm))


def parse_representation(spec: str) -> tuple[str, int | None]:
    """``"efficientnet_lite0@128"`` -> ``("efficientnet_lite0", 128)``; ``"proprio"`` -> ``("proprio", None)``
    (``proprio+arm``: with the arm joints)."""
    if spec in ("proprio", "proprio+arm"):
        return spec, None
    name, sep, size = spec.rpartition("@")
    if not sep or not name or not size.isdigit() or int(size) < 16:
        raise ValueError(f"representation {spec!r}: expected ENCODER@SIZE (e.g. efficientnet_lite0@128), "
                         "pixels8@SIZE, proprio or proprio+arm")  # fmt: skip
    return name, int(size)


def render_frames(data: ProbeData, image_size: int, cameras: tuple[str, ...] | None = None) -> np.ndarray:
    """Every probe state rendered from ``cameras`` (``None``: the task's RRL camera(s)) at
    :func:`~rrl.encoders.preprocessing.resize_size` and centre-cropped to ``image_size``: uint8 (N, cams, S, S, 3)."""
    from rrl.encoders.preprocessing import resize_size
    from rrl.envs import EnvConfig, make_env, render_state

    env = make_env(EnvConfig(task=data.task, obs_mode="rgb", cameras=cameras, render_size=resize_size(image_size),
                             crop_size=image_size))  # fmt: skip
    try:
        return np.stack([render_state(env, s) for s in data.states])
    finally:
        env.close()


def features(
    data: ProbeData,
    spec: str,
    device: str = "cpu",
    cameras: tuple[str, ...] | None = None,
    batch: int = 32,
    frames: np.ndarray | None = None,
) -> np.ndarray:
    """The representation ``spec`` of every probe frame from ``cameras`` (``None``: the task's RRL camera(s); views
    concatenated as in training): (frames, dim) float64. ``frames``: the spec's size's :func:`render_frames`
    when the caller already has them (rendered here otherwise)."""
    name, size = parse_representation(spec)
    if name == "proprio":
        return data.proprio.astype(np.float64)
    if name == "proprio+arm":
        return np.concatenate([data.arm, data.proprio], axis=1).astype(np.float64)
    assert size is not None
    if frames is None:
        frames = render_frames(data, size, cameras)
    if name == "pixels8":  # mean of 8x8 blocks of a grid over the crop, per colour channel
        n, cams, s = frames.shape[:3]
        edges = np.linspace(0, s, 9).astype(int)
        spans = list(zip(edges, edges[1:]))
        cells = [frames[:, :, a:b, c:d].mean(axis=(2, 3)) for a, b in spans for c, d in spans]
        return np.stack(cells, axis=2).reshape(n, -1).astype(np.float64) / 255.0
    from rrl.encoders import make_encoder

    encoder = make_encoder(name, device=device, image_size=size)
    out = [encoder.encode_views(frames[i : i + batch]) for i in range(0, len(frames), batch)]
    return np.concatenate(out).astype(np.float64)


# ---------------------------------------------------------------------------------------------------------------
# Ridge probe


def _ridge_fit(x: np.ndarray, y: np.ndarray, alphas: Sequence[float]) -> list[np.ndarray]:
    """Weights of ridge regression ``min |x w - y|^2 + alpha |w|^2`` for every alpha (x, y already centred)."""
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    uty = u.T @ y
    return [vt.T @ ((s / (s * s + a))[:, None] * uty) for a in alphas]


def _standardize(train: np.ndarray, *others: np.ndarray, floor: float = 0.1) -> list[np.ndarray]:
    """Shift and scale by the training part's mean and std, as the policy scales its inputs: the std of a column
    that moves is at least ``floor`` times the median std of the moving columns (TrainConfig.feature_scale_floor;
    without it, features that barely move on the training frames are blown up and the probe fits their noise)."""
    from rrl.policy import CONSTANT_STD

    mean, std = train.mean(axis=0), train.std(axis=0)
    moving = std >= CONSTANT_STD
    lower = floor * np.median(std[moving]) if moving.any() else 0.0
    std = np.where(moving, np.maximum(std, lower), 1.0)
    return [(a - mean) / std for a in (train, *others)]


def ridge_probe(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    test_fraction: float = 0.25,
    folds: int = 5,
    alphas: Sequence[float] = ALPHAS,
    seed: int = 0,
) -> dict[str, Any]:
    """Held-out fit of a ridge probe ``x -> y`` with whole groups (episodes) held out.

    The groups are split ``1 - test_fraction`` / ``test_fraction``; the ridge strength is the one with the lowest
    ``folds``-fold cross-validated error on the training groups (inputs and targets standardised on the training
    part, with the policy's floor on the input scale, :func:`_standardize`). Returns ``r2`` and ``rmse`` per
    target column on the held-out groups (R^2 = 1 - SSE / SST, SST about the training mean, so a useless probe
    scores about 0 or below), ``alpha``, ``n_train``, ``n_test``, and the held-out ``pred`` and ``true``.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if len(x) != len(y) or len(x) != len(groups):
        raise ValueError(f"x, y and groups need one row per sample, got {len(x)}, {len(y)}, {len(groups)}")
    ids = np.unique(groups)
    if len(ids) < 2 * folds:
        raise ValueError(f"need at least {2 * folds} groups for a {folds}-fold probe with a test split, got {len(ids)}")
    rng = np.random.default_rng(seed)
    ids = rng.permutation(ids)
    n_test = max(1, int(round(test_fraction * len(ids))))
    test = np.isin(groups, ids[:n_test])
    train_ids = ids[n_test:]
    xtr, ytr = x[~test], y[~test]
    fold_of = {g: k % folds for k, g in enumerate(train_ids)}
    fold = np.array([fold_of[g] for g in groups[~test]])
    cv_err = np.zeros(len(alphas))
    for k in range(folds):
        fit, val = fold != k, fold == k
        xa, xb = _standardize(xtr[fit], xtr[val])
        ya, yb = _standardize(ytr[fit], ytr[val])
        for i, w in enumerate(_ridge_fit(xa, ya, alphas)):
            cv_err[i] += float(np.mean((xb @ w - yb) ** 2))
    best = int(np.argmin(cv_err))
    xa, xb = _standardize(xtr, x[test])
    y_mean, y_std = ytr.mean(axis=0), np.where(ytr.std(axis=0) > 1e-12, ytr.std(axis=0), 1.0)
    (w,) = _ridge_fit(xa, (ytr - y_mean) / y_std, [alphas[best]])
    pred = xb @ w * y_std + y_mean
    err = pred - y[test]
    sse = (err**2).sum(axis=0)
    sst = ((y[test] - y_mean) ** 2).sum(axis=0)
    return {
        "r2": 1.0 - sse / np.maximum(sst, 1e-30),
        "rmse": np.sqrt((err**2).mean(axis=0)),
        "alpha": float(alphas[best]),
        "n_train": int((~test).sum()),
        "n_test": int(test.sum()),
        "pred": pred,
        "true": y[test],
    }


def probe(data: ProbeData, representations: Sequence[str], device: str = "cpu", seed: int = 0,
          cameras: tuple[str, ...] | None = None, progress: Any = None) -> list[dict[str, Any]]:  # fmt: skip
    """One row per representation and target quantity (see :data:`COLUMNS`)."""
    rows = []
    rendered: dict[int, np.ndarray] = {}  # one rendering per crop size, shared by the representations of that size
    for spec in representations:
        t0 = time.perf_counter()
        size = parse_representation(spec)[1]
        if size is not None and size not in rendered:
            rendered[size] = render_frames(data, size, cameras)
        x = features(data, spec, device=device, cameras=cameras, frames=rendered.get(size))
        res = ridge_probe(x, data.targets, data.episode, seed=seed)
        for j, name in enumerate(data.names):
            rows.append({
                "representation": spec, "dim": x.shape[1], "quantity": name, "r2": float(res["r2"][j]),
                "rmse": float(res["rmse"][j]), "target_std": float(data.targets[:, j].std()), "alpha": res["alpha"],
                "n_train": res["n_train"], "n_test": res["n_test"],
            })  # fmt: skip
        if progress is not None:
            r2 = ", ".join(f"{r['quantity']} {r['r2']:.2f}" for r in rows[-len(data.names):])
            progress(f"{spec}: {x.shape[1]} dims, held-out R^2 {r2} ({time.perf_counter() - t0:.0f} s)")
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Outputs


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table: representation x quantity -> held-out R^2 (RMSE / target std in brackets)."""
    quantities = list(dict.fromkeys(r["quantity"] for r in rows))
    reps = list(dict.fromkeys(r["representation"] for r in rows))
    cell = {(r["representation"], r["quantity"]): r for r in rows}
    lines = ["| representation | dims | " + " | ".join(quantities) + " |"]
    lines.append("| --- | ---: |" + " ---: |" * len(quantities))
    for rep in reps:
        cells = []
        for q in quantities:
            r = cell[(rep, q)]
            cells.append(f"{r['r2']:.2f} ({r['rmse'] / r['target_std']:.2f})")
        lines.append(f"| {rep} | {cell[(rep, quantities[0])]['dim']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(rows: Sequence[Mapping[str, Any]], title: str) -> Figure:
    """Grouped bars: x = representation, one bar per randomised quantity, height = held-out R^2."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    quantities = list(dict.fromkeys(r["quantity"] for r in rows))
    reps = list(dict.fromkeys(r["representation"] for r in rows))
    r2 = {(r["representation"], r["quantity"]): r["r2"] for r in rows}
    fig = Figure(figsize=(max(6.5, 1.4 * len(reps) + 1.5), 4.4), dpi=130, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(quantities)
    x = np.arange(len(reps))
    for k, q in enumerate(quantities):
        vals = np.array([max(r2[(rep, q)], -0.2) for rep in reps])  # clip very negative R^2 for the axis
        ax.bar(x + (k - (len(quantities) - 1) / 2) * width, vals, width * 0.92, label=q, zorder=2)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(reps, fontsize=8, rotation=12)
    ax.set_ylim(-0.2, 1.25)
    ax.set_ylabel("held-out R$^2$ of a linear (ridge) probe")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.legend(fontsize=8, title="quantity", title_fontsize=8, loc="upper center", ncol=len(quantities))
    return fig


def _title(meta: Mapping[str, Any]) -> str:
    what = " and where the palm is" if meta.get("palm") else ""
    return (f"Linear probe of what {meta.get('task')} randomises{what}, per representation (camera "
            f"{'+'.join(meta.get('cameras', []))})\n{meta.get('episodes')} episodes, frames after {meta.get('steps')} "
            "random actions, 25% of episodes held out")  # fmt: skip


def _meta_title(meta: Mapping[str, Any]) -> str:
    what = " (and where the hand is)" if meta.get("palm") else ""
    return (f"Feature probe, {meta.get('task')} (camera {'+'.join(meta.get('cameras', []))}): can a linear read "
            f"of the features find what the task randomises{what}?")  # fmt: skip


def replot(out_dir: str | Path) -> Path:
    """Redraw ``probe.png`` (and the title in ``meta.json``) from the ``probe.csv`` and ``meta.json`` of an earlier
    run: no rendering, no fit, the numbers stay as they are."""
    out = Path(out_dir)
    for name in ("probe.csv", "meta.json"):
        if not (out / name).is_file():
            raise FileNotFoundError(f"{out / name} does not exist: run the probe into {out} first")
    with open(out / "probe.csv") as f:
        rows = [{**r, "r2": float(r["r2"])} for r in csv.DictReader(f)]
    meta = json.loads((out / "meta.json").read_text())
    write_file(out / "probe.png", figure(rows, _title(meta)))
    write_meta(out, {**meta, "title": _meta_title(meta)})  # the run's command, commit and date stay
    return out / "probe.png"


def write_outputs(rows: Sequence[Mapping[str, Any]], out_dir: str | Path, command: str, **extra: Any) -> Path:
    """Write ``probe.csv``, ``probe.png`` and ``meta.json`` (:func:`rrl.result_folder.write_result_folder`, with
    ``extra`` as the settings); returns the folder."""
    return write_result_folder(
        out_dir,
        title=_meta_title(extra),
        command=command,
        note="cells: held-out R^2 (RMSE / target std); a probe no better than the training mean scores about 0",
        table=format_table(rows),
        files={"probe.csv": csv_file(rows, COLUMNS), "probe.png": figure(rows, _title(extra))},
        extra_meta=extra,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``rrl experiment feature_probe --task door --out DIR [--episodes 300] [--representations ...]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="rrl experiment feature_probe",
        description="Held-out R^2 of a linear probe from frozen features (or proprioception, or 8x8 pixels) to "
        "what the task randomises per episode (door: handle position): how readable the hidden state is.",
    )
    parser.add_argument("--task", default="door", help="door, hammer, pen or relocate (default door)")
    parser.add_argument("--out", required=True, help="output folder (probe.csv, probe.png, meta.json)")
    parser.add_argument("--episodes", type=int, default=300, help="reset seeds (default 300)")
    parser.add_argument("--steps", default="0,10,30", help="frames after this many random actions (default 0,10,30)")
    parser.add_argument("--representations", default=",".join(DEFAULT_REPRESENTATIONS),
                        help="comma-separated ENCODER@SIZE, pixels8@SIZE, proprio or proprio+arm "
                             "(default: %(default)s)")  # fmt: skip
    parser.add_argument("--palm", action="store_true", help="also probe the palm's position (where the hand is)")
    parser.add_argument("--cameras", default=None, help="comma-separated cameras (default: the task's RRL camera)")
    parser.add_argument("--device", default="cpu", help="encoder device (default cpu)")
    parser.add_argument("--seed", type=int, default=0, help="first reset seed, action noise and split (default 0)")
    parser.add_argument("--plot-only", action="store_true", help="only redraw probe.png from --out's probe.csv")
    args = parser.parse_args(argv)
    if args.plot_only:
        try:
            print(f"wrote {replot(args.out)}")
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    command = shlex.join(["rrl", "experiment", "feature_probe", *argv])
    try:
        spec = get_task(args.task)
        cameras = tuple(c.strip() for c in args.cameras.split(",") if c.strip()) if args.cameras else None
        for cam in cameras or ():
            spec.camera(cam)  # an unknown name raises ValueError listing the valid ones
        representations = [r.strip() for r in args.representations.split(",") if r.strip()]
        for r in representations:
            parse_representation(r)
        steps = [int(s) for s in args.steps.split(",") if s.strip()]
        t0 = time.perf_counter()
        data = collect(args.task, args.episodes, steps, args.seed, palm=args.palm)
        rows = probe(data, representations, args.device, args.seed, cameras,
                     progress=lambda line: print(line, file=sys.stderr, flush=True))  # fmt: skip
        out = write_outputs(rows, args.out, command, task=args.task, cameras=list(cameras or spec.default_cameras),
                            episodes=args.episodes, steps=steps, seed=args.seed, palm=args.palm,
                            frames=len(data.states),
                            elapsed_s=round(time.perf_counter() - t0, 1))  # fmt: skip
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_table(rows))
    print(f"\nwrote {out / 'probe.csv'}, {out / 'probe.png'}, {out / 'meta.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
