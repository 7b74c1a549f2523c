"""Encoder compute cost for 4 million environment steps (paper Fig. 4 left, appendix 7.6).

One experiment from measurement to table, figure and CLI (about 500 lines): FLOP counting, timing on two backends
and devices, the published comparison, and the result folder.

Appendix 7.6 defines the cost of a method as the compute spent for the same sample complexity, **4 million
environment steps**, with **no simulation** (a real robot has none) and **no parallel processing**. For RRL almost
all of it is encoding one camera frame per step with the frozen network, so per encoder this measures:

1. FLOPs per frame of the feature path (``Backbone.trunk``: the network up to global pooling, no ImageNet
   classifier head, no uint8 -> float normalisation), counted by ``torch.utils.flop_counter.FlopCounterMode``.
   Convention: one multiply-add = 2 FLOPs; only convolutions and matrix products are counted (batch norm,
   activations, pooling and other element-wise ops are not, a few percent at most for these networks).
2. Wall time per frame on this machine's CPU (or, with ``--device cuda``, its GPU through torch, the host-device
   copies included), for the ``torch`` and ``onnxruntime`` backends: batch 1 (the paper's
   "no parallelism": one step, one frame encoded) and batch 32 (frames of many environments encoded together, as
   rrl's sampler does; the encoder splits the call into its default chunks). Median of ``repeats`` timed repeats
   after a short warm-up; frames are uint8 ``(N, S, S, 3)`` already at the crop size, so no resize is timed.
   Intra-op threads are rrl's defaults unless ``--threads N`` (on a CPU shared with other jobs, torch with one
   thread per core can be several times slower than with fewer threads).
3. Hours for 4M steps: ``4e6 x seconds per frame / 3600`` at batch 1 and at batch 32 (best backend of each), and
   total FLOPs ``4e6 x FLOPs per frame`` in PFLOPs. A ``state (DAPG)`` row has no encoder and costs 0.

ResNet ImageNet weights are usually not available offline; ``random:<name>`` has the same architecture, and the
architecture, not the weight values, sets the cost (a dense CPU network does the same work for any weights).

Outputs (written atomically into ``--out``): ``compute_cost.csv``, ``compute_cost.png`` (log-scale bars of hours
for 4M steps, batch 1 vs 32, best backend) and ``meta.json`` (command, image size, versions, cores, date, load).

Run::

    python -m rrl.experiments.compute_cost --out results/compute_cost \
        --encoders random:resnet18,random:resnet34,random:resnet50,efficientnet_lite0 --repeats 3
    python -m rrl.experiments.compute_cost --out results/compute_cost_gpu --device cuda ...   # a GPU box
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from rrl.encoders import available_encoders, make_encoder
from rrl.encoders import registry as _registry
from rrl.encoders.backends import available_cores, onnxruntime_available
from rrl.result_folder import csv_file, utc_now, write_result_folder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STEPS = 4_000_000  # appendix 7.6: same sample complexity for every method
BATCHES = (1, 32)  # 1 = the paper's "no parallel processing"; 32 = batched encoding
BACKENDS = ("torch", "onnxruntime")
STATE_ROW = "state (DAPG)"
CALLS_PER_REPEAT = {1: 8, 32: 1}  # calls timed together per repeat (batch-1 calls are short)
WARMUP_CALLS = {1: 2, 32: 1}
FLOP_CONVENTION = (
    "FLOPs from torch.utils.flop_counter.FlopCounterMode: 1 multiply-add = 2 FLOPs; convolutions and matrix "
    "products only (batch norm, activations, pooling and element-wise ops not counted); feature path only "
    "(no ImageNet classifier head, no input normalisation); batch 1"
)
RANDOM_NOTE = (
    "random:<name> encoders have seeded random weights (no ImageNet weights offline); the architecture, not the "
    "weight values, sets FLOPs and time"
)


# ---------------------------------------------------------------------------------------------------------------
# What to measure


def default_encoders(weights: Mapping[str, str | os.PathLike] | None = None) -> list[str]:
    """Every registered encoder: pretrained where its weights are found, else ``random:<name>`` (same cost).

    ``vae`` needs a trained checkpoint and is included only when ``weights`` has an entry for it.
    """
    weights = dict(weights or {})
    names = []
    for base in available_encoders():
        if base in weights:
            names.append(base)
            continue
        if base == "vae":
            continue
        try:
            _registry.get_arch(base).find_weights(None)
        except (FileNotFoundError, ValueError):
            names.append(_registry.RANDOM_PREFIX + base)
        else:
            names.append(base)
    return names


def resolve_encoders(
    encoders: Sequence[str] | str | None, weights: Mapping[str, str | os.PathLike] | None = None
) -> list[str]:
    """Validated encoder names (a comma-separated string or a list); ``None``: :func:`default_encoders`.

    Raises:
        ValueError: an unknown name (the message lists the valid ones), or an empty list.
    """
    if encoders is None:
        return default_encoders(weights)
    if isinstance(encoders, str):
        encoders = encoders.split(",")
    names = [n.strip() for n in encoders if n.strip()]
    if not names:
        raise ValueError(f"no encoder given; valid: {', '.join(available_encoders())} (or random:<name>)")
    for name in names:
        if name == STATE_ROW:
            raise ValueError(f"{STATE_ROW!r} is always included; do not list it")
        _registry.parse_name(name)  # ValueError listing the valid names
    return list(dict.fromkeys(names))


def resolve_backends(backends: Sequence[str] | str) -> list[str]:
    """Validated backend names; ``onnxruntime`` is dropped with a warning when it is not installed.

    Raises:
        ValueError: an unknown backend, or none left.
    """
    if isinstance(backends, str):
        backends = backends.split(",")
    names = list(dict.fromkeys(b.strip() for b in backends if b.strip()))
    for b in names:
        if b not in BACKENDS:
            raise ValueError(f"unknown backend {b!r}; valid: {', '.join(BACKENDS)}")
    if "onnxruntime" in names and not onnxruntime_available():
        print("compute_cost: onnxruntime is not installed; measuring the other backends only", file=sys.stderr)
        names.remove("onnxruntime")
    if not names:
        raise ValueError(f"no backend to measure; valid: {', '.join(BACKENDS)}")
    return names


# ---------------------------------------------------------------------------------------------------------------
# Measurements


def count_flops(encoder: Any) -> float:
    """FLOPs per frame of an :class:`~rrl.encoders.Encoder`'s feature path (see :data:`FLOP_CONVENTION`).

    The trunk runs on one normalised NCHW float frame, as in the encoder itself (``enc.model.normalize``).
    """
    model = encoder.model
    s = encoder.image_size
    device = next(model.parameters()).device
    pixels = torch.zeros(1, s, s, 3, dtype=torch.uint8, device=device)
    with torch.no_grad():
        x = model.normalize(pixels)
        counter = FlopCounterMode(display=False)
        with counter:
            model.backbone.trunk(x)
    return float(counter.get_total_flops())


def encoder_flops(name: str, image_size: int = 224, weights: str | os.PathLike | None = None) -> float:
    """FLOPs per frame of encoder ``name`` at ``image_size`` (builds a torch encoder; see :func:`count_flops`)."""
    return count_flops(make_encoder(name, backend="torch", image_size=image_size, weights=weights))


def seconds_per_frame(encoder: Any, batch: int, repeats: int = 3) -> float:
    """Median wall time per frame of ``encoder(frames)`` on uint8 ``(batch, S, S, 3)`` frames.

    A short warm-up, then ``repeats`` timed repeats; a batch-1 repeat times several back-to-back calls.
    """
    s = encoder.image_size
    frames = np.random.default_rng(0).integers(0, 256, (batch, s, s, 3), dtype=np.uint8)
    calls = CALLS_PER_REPEAT.get(batch, 1)
    for _ in range(WARMUP_CALLS.get(batch, 1)):
        encoder(frames)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            encoder(frames)
        times.append((time.perf_counter() - t0) / (calls * batch))
    return float(np.median(times))


def hours_for_steps(seconds_per_step: float, steps: int = STEPS) -> float:
    """Appendix 7.6: encoder hours for ``steps`` environment steps (one frame encoded per step)."""
    return steps * seconds_per_step / 3600.0


def weights_kind(name: str, weights: str | os.PathLike | None) -> str:
    if name.startswith(_registry.RANDOM_PREFIX):
        return "random (architecture only)"
    return "file" if weights is not None else "pretrained"


def measure_encoder(
    name: str,
    image_size: int,
    backends: Sequence[str],
    repeats: int,
    weights: str | os.PathLike | None = None,
    info: dict | None = None,
    threads: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """One CSV row: FLOPs, ms/frame per backend and batch, best backend, hours and PFLOPs for 4M steps.

    ``info`` (optional) receives per-backend details for ``meta.json`` (chunk size, threads). ``threads``:
    intra-op threads of both backends (``None``: rrl's defaults, see :func:`rrl.encoders.make_encoder`).
    """
    row: dict[str, Any] = {"encoder": name, "weights": weights_kind(name, weights), "image_size": image_size}
    info = info if info is not None else {}
    for backend in backends:
        enc = make_encoder(
            name, backend=backend, device=device, image_size=image_size, weights=weights, num_threads=threads
        )
        if "gflops_per_frame" not in row and backend == "torch":
            row["feature_dim"] = enc.feature_dim
            row["gflops_per_frame"] = count_flops(enc) / 1e9
        for batch in BATCHES:
            row[f"ms_per_frame_b{batch}_{backend}"] = 1e3 * seconds_per_frame(enc, batch, repeats)
        info[backend] = {
            "chunk_size": enc.batch_size,
            "threads": enc.num_threads if enc.num_threads is not None else torch.get_num_threads(),
        }
        del enc
        gc.collect()
    if "gflops_per_frame" not in row:  # torch not among the timed backends: count on a torch build anyway
        enc = make_encoder(name, backend="torch", image_size=image_size, weights=weights)
        row["feature_dim"] = enc.feature_dim
        row["gflops_per_frame"] = count_flops(enc) / 1e9
        del enc
    row["gmacs_per_frame"] = row["gflops_per_frame"] / 2
    for batch in BATCHES:
        best = min(backends, key=lambda b: row[f"ms_per_frame_b{batch}_{b}"])
        ms = row[f"ms_per_frame_b{batch}_{best}"]
        row[f"best_backend_b{batch}"] = best
        row[f"ms_per_frame_b{batch}"] = ms
        row[f"hours_4m_b{batch}"] = hours_for_steps(ms / 1e3)
    row["pflops_4m"] = STEPS * row["gflops_per_frame"] * 1e9 / 1e15
    return row


def state_row(image_size: int, backends: Sequence[str]) -> dict[str, Any]:
    """The ``state (DAPG)`` row: no image, no encoder, zero encoder cost."""
    row: dict[str, Any] = {"encoder": STATE_ROW, "weights": "-", "image_size": "", "feature_dim": ""}
    row["gflops_per_frame"] = row["gmacs_per_frame"] = 0.0
    for backend in backends:
        for batch in BATCHES:
            row[f"ms_per_frame_b{batch}_{backend}"] = 0.0
    for batch in BATCHES:
        row[f"best_backend_b{batch}"] = ""
        row[f"ms_per_frame_b{batch}"] = 0.0
        row[f"hours_4m_b{batch}"] = 0.0
    row["pflops_4m"] = 0.0
    return row


def columns(backends: Sequence[str]) -> list[str]:
    """CSV columns, in order, for the measured ``backends``."""
    cols = ["encoder", "weights", "image_size", "feature_dim", "gflops_per_frame", "gmacs_per_frame"]
    cols += [f"ms_per_frame_b{batch}_{b}" for b in backends for batch in BATCHES]
    for batch in BATCHES:
        cols += [f"best_backend_b{batch}", f"ms_per_frame_b{batch}", f"hours_4m_b{batch}"]
    return cols + ["pflops_4m"]


# ---------------------------------------------------------------------------------------------------------------
# Outputs


def figure(rows: Sequence[Mapping[str, Any]], image_size: int, where: str | None = None) -> Figure:
    """Log-scale bars of encoder hours for 4M steps per encoder, batch 1 vs batch 32 (best backend of each)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # Agg explicitly, no pyplot global state
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(7.0, 1.7 * len(rows) + 2), 5.2), dpi=130)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(rows))
    width = 0.38
    positive = [r[f"hours_4m_b{b}"] for r in rows for b in BATCHES if r[f"hours_4m_b{b}"] > 0]
    lo = min(positive) / 4 if positive else 0.01
    hi = max(positive) * 3 if positive else 1.0
    colors = {1: "#1f77b4", 32: "#ff7f0e"}
    labels = {1: "batch 1 (no parallelism, appendix 7.6)", 32: "batch 32 (batched encoding)"}
    for k, batch in enumerate(BATCHES):
        hours = np.array([r[f"hours_4m_b{batch}"] for r in rows], dtype=float)
        pos = x + (k - 0.5) * width
        bars = ax.bar(pos, np.where(hours > 0, hours, np.nan), width, color=colors[batch], label=labels[batch])
        for p, h, r, bar in zip(pos, hours, rows, bars):
            if h > 0:
                txt = f"{h:.3g} h\n{r[f'best_backend_b{batch}'].replace('onnxruntime', 'ort')}"
                ax.text(p, bar.get_height() * 1.08, txt, ha="center", va="bottom", fontsize=7)
    for i, r in enumerate(rows):
        if all(r[f"hours_4m_b{b}"] == 0 for b in BATCHES):
            ax.text(x[i], lo * 1.3, "0 h\n(no encoder)", ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ax.set_xlim(-0.7, len(rows) - 0.3)
    ticks = []
    for r in rows:
        name = r["encoder"]
        if r["gflops_per_frame"]:
            name += f"\n{r['gflops_per_frame']:.2f} GFLOPs/frame"
        ticks.append(name)
    ax.set_xticks(x)
    ax.set_xticklabels(ticks, fontsize=8)
    ax.set_ylabel("encoder hours for 4M env steps (log scale)")
    ax.set_title(
        f"Encoder compute for 4M steps (RRL Fig. 4 left / appendix 7.6; no simulation)\n"
        f"{image_size}x{image_size} px, {where or f'CPU ({available_cores()} cores)'}, best backend per bar; "
        "random: = architecture only",
        fontsize=9,
    )
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def format_table(rows: Sequence[Mapping[str, Any]], backends: Sequence[str]) -> str:
    """A plain-text table of the rows (ms per frame per backend and batch, hours and PFLOPs for 4M steps)."""
    short = {"torch": "torch", "onnxruntime": "ort"}
    head = ["encoder", "GFLOPs"] + [f"{short[b]} b{n} ms" for b in backends for n in BATCHES]
    head += ["h/4M b1", "h/4M b32", "PFLOPs/4M"]
    lines = []
    for r in rows:
        cells = [r["encoder"], f"{r['gflops_per_frame']:.3f}"]
        cells += [f"{r[f'ms_per_frame_b{n}_{b}']:.2f}" for b in backends for n in BATCHES]
        cells += [f"{r['hours_4m_b1']:.2f}", f"{r['hours_4m_b32']:.2f}", f"{r['pflops_4m']:.2f}"]
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(c) for c in lines])


# ---------------------------------------------------------------------------------------------------------------
# Entry points


def run(
    out_dir: str | os.PathLike,
    image_size: int = 224,
    encoders: Sequence[str] | str | None = None,
    repeats: int = 3,
    backends: Sequence[str] | str = BACKENDS,
    *,
    weights: Mapping[str, str | os.PathLike] | None = None,
    threads: int | None = None,
    command: str | None = None,
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """Measure every encoder (appendix 7.6 cost for 4M steps) and write CSV, PNG and ``meta.json`` to ``out_dir``.

    Args:
        out_dir: output folder (created).
        image_size: side of the square crop the encoders see (paper: 224).
        encoders: names or a comma-separated string; ``None``: every registered encoder (``random:`` for ResNets
            without local ImageNet weights; ``vae`` only with ``weights={"vae": PATH}``).
        repeats: timed repeats per measurement (median reported).
        backends: any of ``"torch"``, ``"onnxruntime"``.
        weights: explicit checkpoint per encoder name (e.g. ``{"vae": "vae.pt"}``).
        threads: intra-op threads of both backends; ``None``: rrl's defaults (torch's global setting, onnxruntime
            every core). On a loaded machine, fewer threads than cores can be much faster (oversubscription).
        command: the command line recorded in ``meta.json`` (default: this call).
        device: torch device of the encoders; on a GPU only the ``torch`` backend runs (onnxruntime is CPU-only).

    Returns:
        The CSV rows (one per encoder, then the ``state (DAPG)`` row) as dicts.

    Raises:
        ValueError: unknown encoder (the valid names are listed) or backend, or ``repeats < 1``.
    """
    weights = dict(weights or {})
    names = resolve_encoders(encoders, weights)
    on_gpu = torch.device(device).type != "cpu"
    backends = ["torch"] if on_gpu else resolve_backends(backends)
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1 (or None for rrl's defaults), got {threads}")
    out = Path(out_dir)
    if command is None:
        command = (
            f"rrl.experiments.compute_cost.run({str(out)!r}, image_size={image_size}, encoders={names!r}, "
            f"repeats={repeats}, backends={backends!r}, threads={threads!r}, device={device!r})"
        )
    load_before = os.getloadavg()
    started = utc_now()
    t0 = time.perf_counter()
    rows, details = [], {}
    for name in names:
        details[name] = {}
        w = weights.get(_registry.parse_name(name)[0]) if not name.startswith(_registry.RANDOM_PREFIX) else None
        rows.append(measure_encoder(name, image_size, backends, repeats, w, details[name], threads, device))
    rows.append(state_row(image_size, backends))
    elapsed = time.perf_counter() - t0

    where = torch.cuda.get_device_name(torch.device(device)) if on_gpu else None
    meta = {
        "elapsed_s": round(elapsed, 1),
        "image_size": image_size,
        "steps": STEPS,
        "encoders": names,
        "backends": backends,
        "batches": list(BATCHES),
        "repeats": repeats,
        "threads": threads if threads is not None else "rrl defaults (see per_encoder)",
        "timing": (
            f"median of {repeats} repeats after a warm-up; a repeat = {CALLS_PER_REPEAT[1]} calls of 1 frame (batch 1) "
            f"or {CALLS_PER_REPEAT[32]} call of 32 frames (batch 32, split by the encoder into chunks of chunk_size); "
            f"uint8 frames already at the crop size (no resize timed); {where or 'CPU'}; intra-op threads: see "
            "threads and per_encoder"
        ),
        "cost_definition": (
            "appendix 7.6: encoder compute for 4e6 environment steps, simulation excluded, no parallel processing "
            "(batch 1); hours = 4e6 * seconds_per_frame / 3600; batch 32 shown for rrl's batched encoding"
        ),
        "flops": FLOP_CONVENTION,
        "weights_note": RANDOM_NOTE,
        "per_encoder": details,
        "cpu_count": os.cpu_count(),
        "available_cores": available_cores(),
        "torch_threads": torch.get_num_threads(),
        "device": where or "cpu",
        "processor": platform.processor() or platform.machine(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }
    write_result_folder(
        out,
        title=f"Encoder compute for 4M steps (paper Fig. 4 left, appendix 7.6): {where or 'CPU'}, {image_size} px",
        command=command,
        files={"compute_cost.csv": csv_file(rows, columns(backends)),
               "compute_cost.png": figure(rows, image_size, where)},  # fmt: skip
        extra_meta=meta,
        date=started,
    )
    return rows


def _parse_weights(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--weights expects NAME=PATH, got {item!r}")
        out[name] = path
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m rrl.experiments.compute_cost --out DIR [--image-size 224] [--encoders a,b]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="rrl experiment compute_cost",
        description="Encoder compute for 4M environment steps (RRL Fig. 4 left, appendix 7.6): FLOPs per frame, "
        "CPU time per frame at batch 1 and 32, hours for 4M steps.",
    )
    parser.add_argument("--out", required=True, help="output folder (compute_cost.csv, .png, meta.json)")
    parser.add_argument("--image-size", type=int, default=224, help="crop side seen by the encoder (default 224)")
    parser.add_argument(
        "--encoders",
        default=None,
        help=f"comma-separated names ({', '.join(available_encoders())}, or random:<name>); default: all but vae, "
        "random: for ResNets without local ImageNet weights",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, median reported (default 3)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default torch,onnxruntime)")
    parser.add_argument(
        "--threads", type=int, default=None, help="intra-op threads of both backends (default: rrl's defaults)"
    )
    parser.add_argument("--device", default="cpu", help="torch device (cuda: the torch backend only)")
    parser.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="checkpoint for an encoder (e.g. vae=vae.pt)"
    )
    args = parser.parse_args(argv)
    command = shlex.join(["python", "-m", "rrl.experiments.compute_cost", *argv])
    try:
        rows = run(
            args.out,
            image_size=args.image_size,
            encoders=args.encoders,
            repeats=args.repeats,
            backends=args.backends,
            weights=_parse_weights(args.weights),
            threads=args.threads,
            command=command,
            device=args.device,
        )
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    backends = [c.removeprefix("ms_per_frame_b1_") for c in rows[0] if c.startswith("ms_per_frame_b1_")]
    print(format_table(rows, backends))
    print(f"\n{FLOP_CONVENTION}.\n{RANDOM_NOTE}.")
    print(f"wrote {Path(args.out) / 'compute_cost.csv'}, compute_cost.png, meta.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
