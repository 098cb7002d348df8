"""Where the detector's errors come from, on seeded synthetic yards.

    .venv/bin/python bench/diagnose.py [--scenes 10] [--gsd 0.5] [--difficulty hard]

Each scene is run as one tile (no seams), so its figures differ a little from
bench/accuracy.py's. Misses are split into: no hypothesis near the car at
all; one chosen but scored below the threshold; hypotheses near it but none
chosen, or the chosen one merged away as a duplicate. False detections are split by how far they lie from the nearest true car: on a true
car (a mis-split or duplicate), near one (under a car length), or away.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.scoring import MATCH_FRACTION_OF_LENGTH, match  # noqa: E402

SWEEP = (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8)


def diagnose(args):
    seed, gsd_m, threshold, difficulty, scorers = args
    import railwatch_plugin.core.tile_detector as td
    if scorers:
        from railwatch_plugin.core.car_scorer import load_ensemble
        td.load_ensemble = lambda: load_ensemble(tuple(scorers))
    from railwatch_plugin.core import DetectionParams, detect_railcars_in_array
    from railwatch_synth import make_yard

    scene = make_yard(seed, gsd_m=gsd_m, difficulty=difficulty)
    td.DEBUG_SAMPLES = []
    # One tile for the whole scene: the hypotheses recorded in DEBUG_SAMPLES
    # are in tile coordinates, which are then the scene's own.
    one_tile = DetectionParams(min_confidence=threshold, tile_size_px=max(scene.image.shape[:2]))
    result = detect_railcars_in_array(scene.image, gsd_m, mask=scene.valid, workers=1, params=one_tile)
    hyps = np.concatenate([s[2] for s in td.DEBUG_SAMPLES]) if td.DEBUG_SAMPLES else np.zeros((0, 2))
    td.DEBUG_SAMPLES = None
    kept = result.all_cars  # every chosen car above the confidence floor
    found = result.cars
    _, pairs = match(found, scene.cars, gsd_m)
    matched_t = {j for _, j in pairs}
    c = Counter()
    c["kind right"] = sum(found[i].kind == scene.cars[j].kind for i, j in pairs)
    c["kind unknown"] = sum(found[i].kind == "unknown" for i, _ in pairs)
    matched_f = {i for i, _ in pairs}
    for j, t in enumerate(scene.cars):
        if j in matched_t:
            continue
        reach = MATCH_FRACTION_OF_LENGTH * t.length_m / gsd_m
        if not np.any(np.hypot(hyps[:, 0] - t.col_px, hyps[:, 1] - t.row_px) <= reach):
            c["miss: no hypothesis near it"] += 1
        elif any(np.hypot(k.col_px - t.col_px, k.row_px - t.row_px) <= reach for k in kept):
            c["miss: chosen, scored below threshold"] += 1
        else:
            c["miss: not chosen (or merged away)"] += 1
    tc = np.array([[t.col_px, t.row_px, t.length_m] for t in scene.cars]) if scene.cars else np.zeros((0, 3))
    for i, f in enumerate(found):
        if i in matched_f:
            continue
        if len(tc) == 0:
            c["false: away"] += 1
            continue
        d = np.hypot(tc[:, 0] - f.col_px, tc[:, 1] - f.row_px) * gsd_m
        j = int(np.argmin(d))
        if d[j] <= 0.5 * tc[j, 2]:
            c["false: on a true car (split/duplicate)"] += 1
        elif d[j] <= 1.5 * tc[j, 2]:
            c["false: near a car"] += 1
        else:
            c["false: away from cars"] += 1
    for thr in SWEEP:
        sc, _ = match(result.filtered(thr), scene.cars, gsd_m)
        c[f"sweep {thr:.2f} tp"] += sc.tp
        c[f"sweep {thr:.2f} found"] += sc.n_found
        c[f"sweep {thr:.2f} count err"] += abs(sc.n_found - sc.n_true)
    c["true"] = len(scene.cars)
    c["found"] = len(found)
    c["tp"] = len(pairs)
    return c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=10)
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--first-seed", type=int, default=2000)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--difficulty", choices=("hard", "easy"), default="hard")
    ap.add_argument("--scorers", nargs="+", metavar="NPZ",
                    help="weights files to use as the ensemble instead of the shipped ones (to compare networks)")
    a = ap.parse_args(argv)
    jobs = [(a.first_seed + i, a.gsd, a.threshold, a.difficulty, a.scorers) for i in range(a.scenes)]
    with ProcessPoolExecutor(2) as pool:
        total = sum(pool.map(diagnose, jobs), Counter())
    for k in sorted(total):
        if not k.startswith("sweep"):
            print(f"{k:>42}: {total[k]}")
    n = total["true"]
    for thr in SWEEP:
        tp, found = total[f"sweep {thr:.2f} tp"], total[f"sweep {thr:.2f} found"]
        p, r = tp / max(found, 1), tp / max(n, 1)
        print(f"threshold {thr:.2f}: precision {p:.3f} recall {r:.3f} F1 {2 * p * r / max(p + r, 1e-9):.3f} "
              f"count err {100 * total[f'sweep {thr:.2f} count err'] / max(n, 1):.1f} %")


if __name__ == "__main__":
    main()
