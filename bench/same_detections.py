"""Does a speed-up change what the detector finds? Save, then compare.

    .venv/bin/python bench/same_detections.py save out.npz     # before a change
    .venv/bin/python bench/same_detections.py compare out.npz  # after it

Runs ``detect_railcars_in_array`` on 21 seeded hard synthetic yards (GSD 0.3,
0.5 and 0.7 m, seven seeds each) and records every car above the confidence
floor: centre, length, confidence and kind. ``compare`` passes when each scene
has the same number of cars, centres within 1e-3 px, lengths within 1e-3 m,
confidences within 1e-4 and the same kinds; it prints the largest differences
either way, so a tiny, explainable change can be measured and reported.
Runs on one process (the machine is shared), about a minute; ``--cpu`` prints
the detector's CPU seconds, a second, noisy speed figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCENES = [(seed, gsd_m) for gsd_m in (0.3, 0.5, 0.7) for seed in range(2000, 2007)]
POSITION_TOL_PX = 1e-3
LENGTH_TOL_M = 1e-3
CONFIDENCE_TOL = 1e-4


def detections(seed: int, gsd_m: float):
    """(n, 4) float64 (col, row, length, confidence) and the kinds, in output order; CPU seconds."""
    from railwatch_plugin.core import detect_railcars_in_array
    from railwatch_synth import make_yard

    scene = make_yard(seed, gsd_m=gsd_m, difficulty="hard")
    cpu0 = time.process_time()
    result = detect_railcars_in_array(scene.image, gsd_m, mask=scene.valid, workers=1)
    cpu_s = time.process_time() - cpu0
    cars = result.all_cars
    values = np.array([[c.col_px, c.row_px, c.length_m, c.confidence] for c in cars], np.float64).reshape(-1, 4)
    return values, np.array([c.kind for c in cars], dtype=str), cpu_s


def run_all(verbose: bool):
    out, total_cpu_s = {}, 0.0
    for seed, gsd_m in SCENES:
        values, kinds, cpu_s = detections(seed, gsd_m)
        total_cpu_s += cpu_s
        out[f"{seed}_{gsd_m:g}_values"] = values
        out[f"{seed}_{gsd_m:g}_kinds"] = kinds
        if verbose:
            print(f"seed {seed} gsd {gsd_m:g}: {len(values)} cars, {cpu_s:.2f} CPU s", flush=True)
    return out, total_cpu_s


def compare(saved, now) -> bool:
    same = True
    worst = dict(position_px=0.0, length_m=0.0, confidence=0.0)
    changed_scenes = 0
    for seed, gsd_m in SCENES:
        key = f"{seed}_{gsd_m:g}"
        a, b = saved[key + "_values"], now[key + "_values"]
        ka, kb = saved[key + "_kinds"], now[key + "_kinds"]
        if a.shape != b.shape:
            print(f"{key}: {len(a)} cars saved, {len(b)} now")
            same = False
            changed_scenes += 1
            continue
        if len(a) == 0:
            continue
        pos = float(np.abs(a[:, :2] - b[:, :2]).max())
        length = float(np.abs(a[:, 2] - b[:, 2]).max())
        conf = float(np.abs(a[:, 3] - b[:, 3]).max())
        kinds_differ = int((ka != kb).sum())
        worst = dict(position_px=max(worst["position_px"], pos), length_m=max(worst["length_m"], length),
                     confidence=max(worst["confidence"], conf))
        bad = pos > POSITION_TOL_PX or length > LENGTH_TOL_M or conf > CONFIDENCE_TOL or kinds_differ
        if pos > 0 or length > 0 or conf > 0 or kinds_differ:
            changed_scenes += 1
        if bad:
            same = False
            print(f"{key}: position {pos:.2e} px, length {length:.2e} m, confidence {conf:.2e}, "
                  f"{kinds_differ} kinds differ")
    print(f"largest differences: position {worst['position_px']:.2e} px, length {worst['length_m']:.2e} m, "
          f"confidence {worst['confidence']:.2e}; scenes with any difference: {changed_scenes} of {len(SCENES)}")
    print("SAME detections" if same else "DIFFERENT detections")
    return same


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("save", "compare"))
    ap.add_argument("path", help=".npz file of saved detections")
    ap.add_argument("--verbose", action="store_true", help="one line per scene")
    a = ap.parse_args(argv)
    now, cpu_s = run_all(a.verbose)
    n_cars = sum(len(v) for k, v in now.items() if k.endswith("_values"))
    print(f"{len(SCENES)} scenes, {n_cars} cars, detector {cpu_s:.1f} CPU s")
    if a.action == "save":
        np.savez(a.path, **now)
        return
    with np.load(a.path) as z:
        saved = {k: z[k] for k in z.files}
    sys.exit(0 if compare(saved, now) else 1)


if __name__ == "__main__":
    main()
