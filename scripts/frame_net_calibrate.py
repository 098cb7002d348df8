"""Make the frame network's confidence a probability: Platt scaling, folded into its weights.

    .venv/bin/python scripts/frame_net_calibrate.py bench/out/frame_net.npz --out railwatch_plugin/core/frame_net.npz

The heat the network is trained to give peaks below 1 even for a plain car
(CenterNet's targets are Gaussians), so its raw value is no probability and a
0.5 threshold would mean nothing in particular. This runs the whole detector
with the given weights on calibration yards (seeds 3000 on, at 0.3, 0.5 and
0.7 m, hard or taken in turn from ``--difficulties``: neither training's nor
the benchmark's nor validation's), marks
each detection right or wrong as bench/accuracy.py does, and fits
P(right) = sigmoid(a * logit + b). Because the heat head is one linear
output, a and b are folded into its weights: the detector runs unchanged and
its confidence is that probability, so the default threshold of 0.5 keeps
the cars more likely right than wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.accuracy import use_detector  # noqa: E402
from bench.scoring import match  # noqa: E402
from railwatch_plugin.core.calibration import fit_platt, fold_calibration, logit  # noqa: E402

FIRST_SEED = 3000


def scene_samples(args):
    seed, gsd_m, weights, difficulty = args
    use_detector(weights)
    from railwatch_plugin.core import DetectionParams, detect_railcars_in_array
    from railwatch_synth import make_yard

    scene = make_yard(seed, gsd_m=gsd_m, difficulty=difficulty)
    # The default floor: the fit is for the detections the detector keeps, at the
    # network's own confidence (string support raises some afterwards, by its own measure).
    result = detect_railcars_in_array(scene.image, gsd_m, DetectionParams(string_support=False), mask=scene.valid,
                                      workers=1)
    cars = result.all_cars
    _, pairs = match(cars, scene.cars, gsd_m)
    right = np.zeros(len(cars))
    right[[i for i, _ in pairs]] = 1.0
    return logit([c.confidence for c in cars]), right


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--out", required=True)
    ap.add_argument("--scenes", type=int, default=30, help="per GSD (default 30)")
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    ap.add_argument("--difficulties", nargs="+", default=["hard"],
                    help="synthetic presets taken in turn, scene by scene (hard, varied: real yards' looks)")
    a = ap.parse_args(argv)
    jobs = [(FIRST_SEED + i, g, os.path.abspath(a.weights), a.difficulties[i % len(a.difficulties)])
            for g in a.gsd for i in range(a.scenes)]
    with ProcessPoolExecutor(2) as pool:
        parts = list(pool.map(scene_samples, jobs))
    logit = np.concatenate([p[0] for p in parts])
    right = np.concatenate([p[1] for p in parts])
    scale, shift = fit_platt(logit, right)
    print(f"{len(logit)} detections ({int(right.sum())} right): confidence = sigmoid({scale:.3f} * logit + {shift:.3f})")
    with np.load(a.weights) as z:
        weights = {k: z[k].copy() for k in z.files}
    np.savez(a.out, **fold_calibration(weights, scale, shift))
    print(f"saved {a.out}")


if __name__ == "__main__":
    main()
