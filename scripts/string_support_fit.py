"""Measure what a doubtful car standing end to end with a sure one is worth (core/string_support.py).

    .venv/bin/python scripts/string_support_fit.py            # ~12 min on 2 cores the first time
    .venv/bin/python scripts/string_support_fit.py --refit    # from the detections kept in bench/out/

Runs the detector without string support on validation yards (hard, varied
and dense ``railwatch_synth`` presets at 0.3, 0.5 and 0.7 m; seeds 2000-2011,
2100-2111 and 2200-2211: validation's range, which neither training, the
benchmark nor the calibration uses), marks every car it keeps (confidence
0.1 and up) right or wrong as ``bench/accuracy.py`` does, and prints, per
confidence band, how often the cars linked end to end to a sure car were
right against the others. Then it fits P(right) = sigmoid(slope x logit(p) +
offset) on the linked ones by logistic regression; which cars are linked
depends on the fit (a car raised to 0.5 links the next), so fit and links
are repeated until they agree. The figures to put into
``core/string_support.py`` are printed last.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.scoring import match  # noqa: E402
from railwatch_plugin.core.calibration import fit_platt, logit  # noqa: E402
from railwatch_plugin.core.string_support import ANCHOR_CONFIDENCE, supported_cars  # noqa: E402

CACHE = os.path.join(ROOT, "bench", "out", "string_support_cars.pkl")
YARDS = ([("hard", s, g) for s in range(2000, 2012) for g in (0.3, 0.5, 0.7)]
         + [("varied", s, g) for s in range(2100, 2112) for g in (0.3, 0.5, 0.7)]
         + [("dense", s, g) for s in range(2200, 2212) for g in (0.3, 0.5)])
BANDS = (0.1, 0.2, 0.3, 0.4, 0.5)


def detections(job):
    """(preset, gsd, cars found without string support, set of the right ones' indices)."""
    preset, seed, gsd = job
    from railwatch_plugin.core import DetectionParams, detect_railcars_in_array
    from railwatch_synth import make_yard
    from railwatch_synth.config import config_for

    yard = make_yard(seed, gsd_m=gsd, config=config_for(preset))
    cars = detect_railcars_in_array(yard.image, gsd, DetectionParams(string_support=False), mask=yard.valid,
                                    workers=1).all_cars
    _, pairs = match(cars, yard.cars, gsd)
    return preset, gsd, cars, {i for i, _ in pairs}


def linked_samples(scenes, slope, offset):
    """(raw confidence, right) of every car string support would raise, and of every other doubtful car."""
    linked, other = [], []
    for _, gsd, cars, right in scenes:
        raised = supported_cars(cars, (gsd, gsd), slope, offset)
        for i, car in enumerate(cars):
            if car.confidence < ANCHOR_CONFIDENCE:
                (linked if i in raised else other).append((car.confidence, i in right))
    return np.array(linked, float).reshape(-1, 2), np.array(other, float).reshape(-1, 2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--refit", action="store_true", help="reuse the detections kept in bench/out/")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    if a.refit and os.path.exists(CACHE):
        with open(CACHE, "rb") as handle:
            scenes = pickle.load(handle)
    else:
        with ProcessPoolExecutor(a.workers) as pool:
            scenes = list(pool.map(detections, YARDS))
        os.makedirs(os.path.dirname(CACHE), exist_ok=True)
        with open(CACHE, "wb") as handle:
            pickle.dump(scenes, handle)
    slope, offset = 1.0, 0.0
    for _ in range(10):
        linked, _ = linked_samples(scenes, slope, offset)
        new = fit_platt(logit(linked[:, 0]), linked[:, 1])
        if max(abs(new[0] - slope), abs(new[1] - offset)) < 1e-4:
            break
        slope, offset = new
    linked, other = linked_samples(scenes, slope, offset)
    print(f"{len(scenes)} validation yards, {sum(len(s[2]) for s in scenes)} cars found at 0.1 or more")
    print("network's confidence | linked to a sure car: right / found | the other doubtful cars")
    for lo, hi in zip(BANDS[:-1], BANDS[1:]):
        def share(rows):
            band = rows[(rows[:, 0] >= lo) & (rows[:, 0] < hi)]
            return f"{int(band[:, 1].sum()):4d} / {len(band):4d} ({band[:, 1].mean() if len(band) else float('nan'):.2f})"
        print(f"{lo:.1f}-{hi:.1f}                 | {share(linked)}                | {share(other)}")
    print(f"SUPPORT_SLOPE, SUPPORT_OFFSET_LOGIT = {slope:.3f}, {offset:.3f}  ({len(linked)} linked cars, "
          f"{int(linked[:, 1].sum())} right)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
