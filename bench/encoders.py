"""Encoder throughput: encoder x image size x backend -> images/s and ms/image at batch 1 and 32, side by side.

Every configuration is measured in each of ``--rounds`` interleaved rounds (so that a burst of load from other
processes hits all backends alike) and the median round is reported. Inputs are uint8 frames already at the crop
size (the normal case: the env renders 256 and crops 224), so the time is the network's (plus normalisation, which
is part of the graph). A batch bigger than the encoder's ``batch_size`` is split into chunks (default: torch 8,
onnxruntime 16, the fastest on this CPU; ``--chunk`` overrides). ResNets use seeded random weights when no
pretrained file is present: the architecture, not the weights, determines the speed.

Usage:
    python bench/encoders.py                                   # all encoders, sizes 224 and 128
    python bench/encoders.py --encoders resnet34 efficientnet_lite0 --sizes 224 --rounds 5
    python bench/encoders.py --nchw-reference                  # also torch without channels_last
    python bench/encoders.py --ort-variants --chunk 32         # onnxruntime settings; no chunking of batch 32
    python bench/encoders.py --ort-profile --sizes 224         # onnxruntime kernel time per operator type
    python bench/encoders.py --device cuda --batches 1 64 256   # a GPU box: torch on CUDA (chunks of 64)

Prints a markdown table to paste into docs/benchmarks.md ("## Encoders").
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time

import numpy as np
import torch

from rrl.encoders import make_encoder
from rrl.encoders.backends import available_cores, onnxruntime_available


def build(name: str, backend: str, size: int, threads: int, chunk: int | None = None, device: str = "cpu"):
    """The encoder, falling back to random weights (same architecture) when the pretrained file is missing."""
    kw = dict(backend=backend, device=device, image_size=size, num_threads=threads, batch_size=chunk)
    try:
        return make_encoder(name, **kw), "pretrained"
    except FileNotFoundError:
        return make_encoder(f"random:{name}", **kw), "random"


class OrtVariant:
    """A raw onnxruntime session on the encoder's cached graph with other session options (whole batch at once)."""

    def __init__(self, enc, label: str, level: str = "all", spin: bool = False) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = enc.num_threads, 1
        opts.graph_optimization_level = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        }[level]
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self.session = ort.InferenceSession(str(enc.onnx_path), opts, providers=["CPUExecutionProvider"])
        self.backend = label

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"pixels": pixels})[0]


class NchwReference:
    """torch without channels_last (contiguous NCHW input and weights): the layout of the original RRL code."""

    backend = "torch NCHW (ref.)"

    def __init__(self, enc) -> None:
        self.model = enc.model.to(memory_format=torch.contiguous_format)
        self.threads = enc.num_threads

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        torch.set_num_threads(self.threads)
        with torch.inference_mode():
            x = self.model.normalize(torch.from_numpy(pixels)).contiguous()
            return self.model.backbone(x).numpy()


def ort_profile(enc, batch: int = 8, runs: int = 10) -> str:
    """Share of onnxruntime kernel time per operator type (session profiling on the encoder's cached graph)."""
    import collections
    import json
    import tempfile

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = enc.num_threads
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    session = ort.InferenceSession(str(enc.onnx_path), opts, providers=["CPUExecutionProvider"])
    pixels = np.zeros((batch, enc.image_size, enc.image_size, 3), np.uint8)
    for _ in range(runs):
        session.run(None, {"pixels": pixels})
    with open(session.end_profiling()) as f:
        events = json.load(f)
    per_op: collections.Counter = collections.Counter()
    for ev in events:
        if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
            per_op[ev["args"]["op_name"]] += ev["dur"]
    total = sum(per_op.values())
    return ", ".join(f"{op} {100 * t / total:.1f}%" for op, t in per_op.most_common())


def images_per_second(fn, frames: np.ndarray, min_time: float) -> float:
    n = 0
    start = time.perf_counter()
    while True:
        fn(frames)
        n += len(frames)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=["resnet18", "resnet34", "resnet50", "efficientnet_lite0"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[224, 128])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"])
    parser.add_argument("--threads", type=int, default=available_cores(), help="intra-op threads (both backends)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement (at least one call)")
    parser.add_argument("--nchw-reference", action="store_true", help="add torch without channels_last")
    parser.add_argument("--chunk", type=int, default=None, help="encoder batch_size (default: the encoder's)")
    parser.add_argument("--device", default="cpu", help="torch device; not cpu: the torch backend only")
    parser.add_argument("--ort-profile", action="store_true", help="only print onnxruntime kernel time per op type")
    parser.add_argument(
        "--ort-variants", action="store_true", help="add onnxruntime with spinning threads / without NCHWc (EXTENDED)"
    )
    args = parser.parse_args()
    if args.device != "cpu":
        args.backends = ["torch"]  # onnxruntime runs on the CPU (rrl.encoders.backends)
    if "onnxruntime" in args.backends and not onnxruntime_available():
        raise SystemExit("onnxruntime is not installed; pass --backends torch")
    torch.set_num_threads(args.threads)
    if args.ort_profile:
        for name in args.encoders:
            for size in args.sizes:
                enc = build(name, "onnxruntime", size, args.threads)[0]
                print(f"{enc.name}@{size}, batch 8, 10 runs: {ort_profile(enc)}")
        return
    load_before = os.getloadavg()
    started = datetime.datetime.now().isoformat(timespec="seconds")
    rng = np.random.default_rng(0)
    rows = []
    for name in args.encoders:
        for size in args.sizes:
            runners, weights = {}, "?"
            for backend in args.backends:
                enc, weights = build(name, backend, size, args.threads, args.chunk, args.device)
                runners[enc.backend] = enc
            if args.ort_variants and "onnxruntime" in runners:
                for variant in (
                    OrtVariant(runners["onnxruntime"], "onnxruntime, whole batch"),
                    OrtVariant(runners["onnxruntime"], "onnxruntime, whole batch, spin", spin=True),
                    OrtVariant(runners["onnxruntime"], "onnxruntime, whole batch, EXTENDED", level="extended"),
                ):
                    runners[variant.backend] = variant
            if args.nchw_reference:
                ref = NchwReference(build(name, "torch", size, args.threads)[0])
                runners[ref.backend] = ref
            frames = {b: rng.integers(0, 256, (b, size, size, 3), dtype=np.uint8) for b in args.batches}
            for fn in runners.values():  # warm-up: ONNX session init, oneDNN primitive creation
                for b in args.batches:
                    fn(frames[b])
            speed = {(be, b): [] for be in runners for b in args.batches}
            for _ in range(args.rounds):
                for be, fn in runners.items():
                    for b in args.batches:
                        speed[be, b].append(images_per_second(fn, frames[b], args.min_time))
            med = {k: statistics.median(v) for k, v in speed.items()}
            for be in runners:
                cells = []
                for b in args.batches:
                    best = max(med[other, b] for other in runners)
                    cells += [f"{med[be, b]:.1f}", f"{1000 / med[be, b]:.1f}", f"{med[be, b] / best:.2f}"]
                rows.append([name, weights, str(size), be, *cells])
                print(" | ".join(rows[-1]), flush=True)
    load_after = os.getloadavg()
    header = ["encoder", "weights", "size", "backend"]
    for b in args.batches:
        header += [f"b{b} img/s", f"b{b} ms/img", f"b{b} vs best"]
    print()
    chunk = args.chunk or "default (torch 8, onnxruntime 16)"
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{args.threads} threads"
    print(f"date {started}; {where}; encoder chunk {chunk}; ", end="")
    print(f"median of {args.rounds} rounds of >= {args.min_time} s;")
    print(f"load average (1/5/15 min) before {load_before}, after {load_after}")
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
