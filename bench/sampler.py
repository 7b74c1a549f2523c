"""Sampling throughput from pixels, side by side in one run (issue: RRL end to end, "Sampling fast").

(a) naive: the original code's loop -- one env; render, encode that one frame, act, step.
(b) rrl:   PipelinedSampler -- envs render in spawn workers (shared memory), the learner encodes one batch per
           group and step, groups pipelined so rendering overlaps encoding.
(c) ceiling: n_cores / (core-seconds per sample of render+step + encode), each stage timed alone on one core
           (render+step in a child process with single-threaded software GL, as in the sampler's workers;
           the naive loop keeps the library defaults, as the original code did). With ``--device cuda`` the
           encoder runs on the GPU, beside the CPU work: ceiling = min(n_cores / render+step, 1 / encode).

Usage:
    python bench/sampler.py --encoder efficientnet_lite0 --size 256 --crop 224 [--n-envs 4 --n-groups 2]
    python bench/sampler.py --encoder random:resnet34 --device cuda --n-envs 16 --n-groups 2   # a GPU box
Prints a markdown table (samples/s, CPU utilisation, peak memory) to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import psutil
import torch

import rrl  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from rrl.encoders import make_encoder
from rrl.envs import EnvConfig, make_env
from rrl.policy import GaussianMLP
from rrl.sampling.pipelined import PipelinedSampler, PipelinedSamplerConfig, VisualFeaturizer, naive_rollout


class Monitor:
    """System CPU utilisation and peak summed RSS of this process tree while a block runs."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.peak_rss, self._stop = interval, 0, threading.Event()

    def _tree_rss(self) -> int:
        me = psutil.Process()
        total = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self._tree_rss())
            time.sleep(self.interval)

    def __enter__(self) -> Monitor:
        psutil.cpu_percent(None)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.cpu = psutil.cpu_percent(None)
        self._stop.set()
        self._thread.join()


def _one_gl_thread() -> None:
    os.environ["LP_NUM_THREADS"] = "1"
    # No ``import rrl`` needed here: this module's top-level ``import rrl`` (MUJOCO_GL before mujoco) has
    # already run in the spawn child, which imports this module to unpickle the initializer.


def time_render_step(cfg: EnvConfig, n: int) -> float:
    """Core-seconds (CPU time of this process) per step of one env: physics step + render of every camera."""
    env = make_env(cfg)
    env.reset(seed=0)
    zero = np.zeros(env.action_space.shape, np.float32)
    for _ in range(5):
        env.step(zero)
    t = time.process_time()  # core-seconds: software GL may use several threads
    for _ in range(n):
        env.step(env.action_space.sample() * 0.1)
    dt = (time.process_time() - t) / n
    env.close()
    return dt


def time_encode(encoder, cfg: EnvConfig, batch: int, reps: int) -> float:
    """Seconds per frame of the encoder at ``batch`` (threads as configured)."""
    side = cfg.crop_size or cfg.render_size
    frames = np.random.default_rng(0).integers(0, 255, (batch, len(cfg.camera_names), side, side, 3), dtype=np.uint8)
    encoder.encode_views(frames)
    t = time.perf_counter()
    for _ in range(reps):
        encoder.encode_views(frames)
    return (time.perf_counter() - t) / (reps * batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="door")
    ap.add_argument("--camera", default=None)
    ap.add_argument("--encoder", default="efficientnet_lite0")
    ap.add_argument("--backend", default="auto", help="encoder backend")
    ap.add_argument("--device", default="cpu", help="torch device of the encoder (cuda: torch backend)")
    ap.add_argument("--no-cuda-graphs", action="store_true", help="eager CUDA encoder calls (default: CUDA graphs)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--n-envs", type=int, default=4)
    ap.add_argument("--n-groups", type=int, default=2)
    ap.add_argument("--naive-steps", type=int, default=100)
    ap.add_argument("--trajectories", type=int, default=4, help="trajectories collected by (b)")
    ap.add_argument("--horizon", type=int, default=100)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    cfg = EnvConfig(
        task=args.task,
        obs_mode="rgb+proprio",
        cameras=(args.camera,) if args.camera else None,
        render_size=args.size,
        crop_size=args.crop,
        horizon=args.horizon,
    )
    torch.set_num_threads(1)
    graphs = not args.no_cuda_graphs
    enc1 = make_encoder(
        args.encoder, backend=args.backend, device=args.device, image_size=args.crop, num_threads=1, cuda_graphs=graphs
    )
    # Timed in a spawn child with single-threaded software GL, exactly as the sampler's render workers run.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_one_gl_thread) as pool:
        render_s = pool.submit(time_render_step, cfg, 60).result()
    encode_s = time_encode(enc1, cfg, batch=args.n_envs // args.n_groups, reps=10)
    on_cpu = torch.device(args.device).type == "cpu"
    ceiling = cores / (render_s + encode_s) if on_cpu else min(cores / render_s, 1 / encode_s)

    feat1 = VisualFeaturizer(enc1, len(cfg.camera_names), 24)
    torch.manual_seed(0)
    policy = GaussianMLP(
        feat1.encoder.feature_dim * len(cfg.camera_names) + 24, make_env(cfg).action_space.shape[0], (256, 256)
    )

    with Monitor() as mon_a:
        t = time.perf_counter()
        naive_rollout(cfg, feat1, policy, args.naive_steps)
        naive = args.naive_steps / (time.perf_counter() - t)

    torch.set_num_threads(cores)
    enc = make_encoder(
        args.encoder, backend=args.backend, device=args.device, image_size=args.crop, num_threads=cores,
        cuda_graphs=graphs,
    )
    feat = VisualFeaturizer(enc, len(cfg.camera_names), 24)
    layout = PipelinedSamplerConfig(n_envs=args.n_envs, n_groups=args.n_groups)
    with PipelinedSampler(cfg, feat, layout) as sampler:
        sampler.collect(policy, args.n_envs, seed=0)  # warm-up round
        with Monitor() as mon_b:
            t = time.perf_counter()
            batch = sampler.collect(policy, args.trajectories, seed=1)
            ours = batch.n_samples / (time.perf_counter() - t)

    where = "" if on_cpu else f" on {torch.cuda.get_device_name()}, CUDA graphs {'on' if graphs else 'off'}"
    print(
        f"task {args.task}, camera {cfg.camera_names}, encoder {args.encoder} ({enc.backend}{where}), "
        f"render {args.size} crop {args.crop}, {cores} cores"
    )
    print(f"stages alone: render+step {render_s * 1e3:.1f} ms (one core), encode {encode_s * 1e3:.1f} ms per frame")
    print()
    print("| method | samples/s | vs naive | vs ceiling | CPU util | peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| (a) naive loop (1 env, encode 1 frame) | {naive:.1f} | 1.00x | {naive / ceiling:.2f} "
        f"| {mon_a.cpu:.0f}% | {mon_a.peak_rss / 2**30:.2f} GiB |"
    )
    print(
        f"| (b) rrl PipelinedSampler ({args.n_envs} envs, {args.n_groups} groups) | {ours:.1f} | {ours / naive:.2f}x "
        f"| {ours / ceiling:.2f} | {mon_b.cpu:.0f}% | {mon_b.peak_rss / 2**30:.2f} GiB |"
    )
    formula = "(render+step + encode)" if on_cpu else "render+step, or 1 / GPU encode"
    print(f"| (c) ceiling = {cores} cores / {formula} | {ceiling:.1f} | {ceiling / naive:.2f}x | 1.00 | | |")


if __name__ == "__main__":
    main()
