"""How much the count moves when nothing about the yard changes.

    .venv/bin/python bench/stability.py [--scenes 16] [--gsd 0.5]

An analyst compares counts across dates; a count that moves when the same
picture is cut one pixel differently is noise in that comparison. For each
seeded synthetic yard this runs the detector on the scene as it is, and on
the scene less its first pixel column, and less its first pixel row (the same
yard, its pixel grid shifted by one), and prints the mean |count difference|
as a percentage of the true count, next to each run's F1, so that a change
which only moves the count (not the accuracy) shows.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.scoring import Score, match  # noqa: E402

SHIFTS = {"as drawn": (0, 0), "first column cut": (0, 1), "first row cut": (1, 0)}


def run_scene(args):
    seed, gsd_m, difficulty = args
    from railwatch_plugin.core import detect_railcars_in_array
    from railwatch_synth import make_yard

    scene = make_yard(seed, gsd_m=gsd_m, difficulty=difficulty)
    out = {}
    for name, (dr, dc) in SHIFTS.items():
        mask = None if scene.valid is None else scene.valid[dr:, dc:]
        result = detect_railcars_in_array(scene.image[dr:, dc:], gsd_m, mask=mask, workers=1)
        # Back to the scene's own pixels, where the truth is.
        cars = [replace(c, col_px=c.col_px + dc, row_px=c.row_px + dr) for c in result.cars]
        score, _ = match(cars, scene.cars, gsd_m)
        out[name] = score
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--first-seed", type=int, default=2000)
    ap.add_argument("--difficulty", default="hard")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    jobs = [(a.first_seed + i, a.gsd, a.difficulty) for i in range(a.scenes)]
    with ProcessPoolExecutor(a.workers) as pool:
        scenes = list(pool.map(run_scene, jobs))
    n_true = sum(s["as drawn"].n_true for s in scenes)
    print(f"Count stability: {a.scenes} {a.difficulty} scenes at {a.gsd} m (seeds {a.first_seed}..), {n_true} true cars")
    for name in SHIFTS:
        total = sum((s[name] for s in scenes), Score(0, 0, 0, 0, 0))
        line = f"{name:>17}: found {total.n_found:5d}  F1 {total.f1:.3f}"
        if name != "as drawn":
            moved = sum(abs(s[name].n_found - s["as drawn"].n_found) for s in scenes)
            line += f"  |count change| {moved:4d} cars = {100.0 * moved / max(n_true, 1):.1f} % of the true count"
        print(line)


if __name__ == "__main__":
    main()
