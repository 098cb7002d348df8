"""Calibrate the frame network's confidence on the real labelled yard, half against half.

    .venv/bin/python scripts/frame_net_calibrate_real.py bench/out/frame_net_p4.npz --out railwatch_plugin/core/frame_net.npz

Why real pixels: a Platt fit on synthetic yards does not carry over to real
ones (fitted on hard, varied and dense synthetic yards it lifted the real
yard's weak responses: detections at 0.5-0.7 became 22 % true, precision fell
to 0.78). Why half against half: there is one labelled real yard, so it must
not judge a fit it was part of. Its agreed cars are split at their median
column; P(right) = sigmoid(a * logit + b) is fitted on each half's detections
(down to the detector's floor, 0.1) and judged on the other half, where this
prints the share of true cars per confidence bin and F1 / count error at the
default threshold before and after. The weights get the mean of the two
fits' (a, b): the halves agree on the slope and not on the offset, so the
mean is the estimate that leans on neither half.

A network that learnt from one half's pixels (``frame_net_collect_real.py``)
cannot be fitted this way: that half would judge a fit on itself.
``--fixed A B --judge-half east`` folds a given (a, b) instead (the shipped
network's is p4's, fitted as above before any real pixel was trained on)
and only prints how it does on the untouched half.

    .venv/bin/python scripts/frame_net_calibrate_real.py bench/out/frame_net_r1.npz --fixed 2.66 -0.125 --judge-half east --out railwatch_plugin/core/frame_net.npz

Reads ``../shared/real`` where it lies (evaluation only, never copied); exits
with a message where it is absent.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.accuracy import use_detector  # noqa: E402
from bench.real import REAL_DIR, RealScene, calibration_rows, detect, load_real_scene, on_half, real_scene_names, score_scene  # noqa: E402
from bench.scoring import match  # noqa: E402
from railwatch_plugin.core.calibration import fit_platt, fold_calibration, logit  # noqa: E402

YARD = "hsr_yard_0.5m"
THRESHOLD = 0.5


def samples(scene: RealScene, found):
    """(logit, right) of each detection; those on a disputed car are left out."""
    _, pairs = match(found, scene.cars, scene.gsd_m)
    truth_of = dict(pairs)
    kept = [(c, i in truth_of) for i, c in enumerate(found) if not (i in truth_of and scene.cars[truth_of[i]].disputed)]
    return logit([c.confidence for c, _ in kept]), np.array([float(right) for _, right in kept])


def recalibrated(found, scale: float, shift: float):
    """Copies of the detections with their confidence passed through the fit."""
    from dataclasses import replace

    return [replace(c, confidence=float(1 / (1 + np.exp(-(scale * logit(c.confidence) + shift))))) for c in found]


def report(name: str, scene: RealScene, found) -> None:
    s = score_scene([c for c in found if c.confidence >= THRESHOLD], scene)
    bins = "; ".join(f"{lo:.1f}-{min(hi, 1):.1f}: {n} at {share:.0%} true" for lo, hi, n, _, share in calibration_rows(found, scene))
    print(f"    {name}: found {s.n_found}, {s.tp} true of {s.n_true}, F1 {s.f1:.3f}, "
          f"count error {abs(s.n_found - s.n_true) / s.n_true:.1%}\n      per bin: {bins}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--out", help="write the calibrated weights here")
    ap.add_argument("--fixed", type=float, nargs=2, metavar=("A", "B"),
                    help="fold sigmoid(A * logit + B) without fitting (for a network trained on one half)")
    ap.add_argument("--judge-half", choices=("west", "east"), default="east",
                    help="with --fixed: the half the network never saw, where the calibration is shown")
    a = ap.parse_args(argv)
    if YARD not in real_scene_names():
        print(f"no labelled real yard in {REAL_DIR}: nothing to calibrate on")
        return 1
    use_detector(os.path.abspath(a.weights))
    scene = load_real_scene(YARD)
    found = detect(scene, min_confidence=0.1, string_support=False).all_cars  # the network's own confidence
    if a.fixed:
        scale, shift = a.fixed
        judged_scene, judged_found = on_half(scene, found, a.judge_half)
        print(f"fixed: confidence = sigmoid({scale:.3f} * logit + {shift:.3f}); judged on the {a.judge_half} half:")
        report("raw", judged_scene, judged_found)
        report("calibrated", judged_scene, recalibrated(judged_found, scale, shift))
        return _save(a, scale, shift)
    fits = []
    for fit_west in (True, False):
        fit_scene, fit_found = on_half(scene, found, "west" if fit_west else "east")
        x, right = samples(fit_scene, fit_found)
        scale, shift = fit_platt(x, right)
        fits.append((scale, shift))
        judged_scene, judged_found = on_half(scene, found, "east" if fit_west else "west")
        fitted, judged = ("west", "east") if fit_west else ("east", "west")
        print(f"fitted on the {fitted} half ({len(x)} detections, {int(right.sum())} true): "
              f"sigmoid({scale:.3f} * logit + {shift:.3f}); judged on the {judged} half:")
        report("raw", judged_scene, judged_found)
        report("calibrated", judged_scene, recalibrated(judged_found, scale, shift))
    scale, shift = np.mean(fits, axis=0)
    print(f"mean of the two fits: confidence = sigmoid({scale:.3f} * logit + {shift:.3f})")
    return _save(a, scale, shift)


def _save(a, scale: float, shift: float) -> int:
    if a.out:
        with np.load(a.weights) as z:
            weights = {k: z[k].copy() for k in z.files}
        np.savez(a.out, **fold_calibration(weights, float(scale), float(shift)))
        print(f"saved {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
