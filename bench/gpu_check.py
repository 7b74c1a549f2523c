"""GPU box check: is rendering on the GPU, do CUDA features equal CPU features, how fast is each stage?

Run this first on a new GPU machine (``MUJOCO_GL=egl``, NVIDIA driver with its EGL vendor file). It prints:

1. the OpenGL vendor/renderer of MuJoCo's EGL context (``NVIDIA ...`` on a GPU; ``Mesa``/``llvmpipe`` means
   software rendering, about 90 frames/s) and single-process frames/s of the task camera, with and without the
   Gymnasium-Robotics render defaults (shadows, reflections, 8x MSAA);
2. the largest and the mean difference between CUDA and CPU features of the same rendered frames, per encoder,
   relative to the features' std (torch runs cuDNN convolutions in TF32 by default, 10-bit mantissas;
   ``--no-tf32`` turns that off to tell rounding from a bug);
3. the difference between CUDA graphs (rrl's default on a GPU) and eager calls, and CUDA images/s per encoder at
   the paper's 224 crop: eager and graphs at the sampler's batch (``--small``), graphs at ``--batch``.

Usage:
    MUJOCO_GL=egl python bench/gpu_check.py --task door --encoders efficientnet_lite0 random:resnet34
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import rrl  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from rrl.encoders import make_encoder
from rrl.envs import EnvConfig, make_env

from encoders import images_per_second  # bench/encoders.py (this script's folder is on sys.path)


def gl_strings() -> tuple[str, str]:
    """(vendor, renderer) of the GL context mujoco creates for offscreen rendering."""
    import mujoco
    from OpenGL import GL

    from rrl.rendering import import_triton_before_gl

    import_triton_before_gl()  # the segfault trap of README.md "Practical notes": triton after a Mesa EGL context
    ctx = mujoco.GLContext(64, 64)
    ctx.make_current()
    try:
        return GL.glGetString(GL.GL_VENDOR).decode(), GL.glGetString(GL.GL_RENDERER).decode()
    finally:
        ctx.free()


def render_rate(cfg: EnvConfig, n: int) -> tuple[float, np.ndarray]:
    """Frames/s of step + render of one env in this process, and the last ``n // 4`` observations' frames."""
    env = make_env(cfg)
    env.reset(seed=0)
    frames = []
    t = time.perf_counter()
    for i in range(n):
        obs = env.step(env.action_space.sample() * 0.3)[0]
        if i >= n - n // 4:
            frames.append(obs["pixels"][0])
    rate = n / (time.perf_counter() - t)
    env.close()
    return rate, np.stack(frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="door")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument(
        "--encoders", nargs="+", default=["efficientnet_lite0", "random:resnet18", "random:resnet34", "random:resnet50"]
    )
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--small", type=int, default=8, help="the sampler's batch: envs per group (paper preset: 8)")
    ap.add_argument("--no-tf32", action="store_true", help="full fp32 convolutions (torch.backends.cudnn.allow_tf32)")
    args = ap.parse_args()
    torch.backends.cudnn.allow_tf32 = not args.no_tf32

    vendor, renderer = gl_strings()
    print(f"OpenGL: {vendor} / {renderer}")
    cfg = EnvConfig(task=args.task, obs_mode="rgb+proprio", render_size=args.size, crop_size=args.crop)
    rate, frames = render_rate(cfg, args.frames)
    print(f"step + render {args.size} px, rrl defaults (no shadows/reflections/MSAA): {rate:.0f} frames/s, one process")
    heavy = EnvConfig(
        task=args.task, obs_mode="rgb+proprio", render_size=args.size, crop_size=args.crop,
        shadows=True, reflections=True, multisample=8,
    )
    print(
        f"step + render {args.size} px, Gymnasium-Robotics defaults (shadows, reflections, 8x MSAA): "
        f"{render_rate(heavy, args.frames)[0]:.0f} frames/s"
    )

    if not torch.cuda.is_available():
        raise SystemExit("torch sees no CUDA device: skipping the encoder checks")
    print(
        f"CUDA: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
        f"cuDNN TF32 {'off' if args.no_tf32 else 'on'}"
    )
    print()
    print(
        "| encoder | CUDA vs CPU: max abs diff / feature std | mean | graphs vs eager: max "
        f"| eager img/s b{args.small} | graphs img/s b{args.small} | graphs img/s b{args.batch} |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    small = np.resize(frames, (args.small, *frames.shape[1:]))
    batch = np.resize(frames, (args.batch, *frames.shape[1:]))
    for name in args.encoders:
        cpu = make_encoder(name, backend="torch", device="cpu", image_size=args.crop)
        eager = make_encoder(name, backend="torch", device="cuda", image_size=args.crop, cuda_graphs=False)
        graphs = make_encoder(name, backend="torch", device="cuda", image_size=args.crop)
        ref, out = cpu(frames), graphs(frames)
        diff = np.abs(out - ref) / (ref.std() + 1e-12)
        vs_eager = np.abs(out - eager(frames)).max() / (ref.std() + 1e-12)
        rates = []
        for enc, x in ((eager, small), (graphs, small), (graphs, batch)):
            enc(x)  # warm-up: graph capture, cuDNN setup. Timed calls return numpy: host<->device copies included
            rates.append(images_per_second(enc, x, 1.0))
        cells = " | ".join(f"{r:.0f}" for r in rates)
        print(f"| {name} | {diff.max():.1e} | {diff.mean():.1e} | {vs_eager:.1e} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
