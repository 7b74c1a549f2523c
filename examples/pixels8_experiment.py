"""A comparison of your own, run like the paper's (docs/extending.md): RRL's EfficientNet-Lite0 features against
the frame averaged to 8x8 pixels (examples/rrl_pixels8), door, 25 expert demos, the Fig. 5 protocol.

    PYTHONPATH=examples/rrl_pixels8 python examples/pixels8_experiment.py --scale cpu --seeds 1,2
    PYTHONPATH=examples/rrl_pixels8 python examples/pixels8_experiment.py --scale cpu --seeds 1,2 --export-only

Run folders: runs/experiments/pixels8/<scale>/door/<variant>_s<seed>; curves: results/pixels8_door_<scale>/.
The "RRL" variant is the `cpu` preset itself, i.e. the same run as `rrl experiment representations`'
EfficientNet-Lite0 variant: link those folders in (rrl_s<seed>) to avoid training them twice.
"""

from __future__ import annotations

import argparse

from rrl.experiments.ablations import Experiment, Variant, run_experiment

PIXELS8 = Experiment(
    "pixels8",
    "Extension (not in the paper)",
    "Do 8x8 raw pixels do as well as ImageNet features? (The 8x8 runs' commands need "
    "PYTHONPATH=examples/rrl_pixels8.)",
    (Variant("RRL"), Variant("8x8 pixels", {"encoder": "rrl_pixels8:Pixels8"})),
    tasks=("door",),
)

if __name__ == "__main__":  # needed: the sampler's worker processes are spawned and re-import this file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="cpu", help="smoke, cpu or paper (presets of rrl.config)")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--iterations", type=int, default=None, help="the scale's preset when not given")
    parser.add_argument("--export-only", action="store_true", help="train nothing; export what has run")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    extra = {} if args.iterations is None else {"iterations": args.iterations}
    report = run_experiment(PIXELS8, scale=args.scale, seeds=seeds, export_only=args.export_only, **extra)
    print("\n".join(report["results"]))
