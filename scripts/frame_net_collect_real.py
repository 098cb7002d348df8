"""Collect training crops for the frame network from one half of the real yard.

    .venv/bin/python scripts/frame_net_collect_real.py --half west --out bench/out/frames_real_west

Issue 12 allows training on real pixels if part of the scene is held out and
never touched. This takes the labelled yard of ``../shared/real`` (read where it
lies; the crops go to bench/out/, which git ignores, and never into the
repository or the plugin), cuts the image at the agreed cars' median column
(as ``bench/adapt.py`` and ``frame_net_calibrate_real.py`` split it) and keeps
only the chosen half's pixels: the other half is the validation
(``bench/real.py --half``).

Crops are made as ``frame_net_collect.py`` makes them from synthetic yards
(``prepare_tile`` at ``NET_GSD_M``, the tile's own track directions and the
yard's, each sometimes turned by a degree or two), once per ``--passes``: the
first at the stated 0.5 m, each later one at a pixel size drawn between that
and ``--coarsest-m`` (0.8 m; area averaged, as ``bench/real.py`` resamples).
The labelled cars are the targets: agreed cars wholly inside the half are
to be found; disputed cars and cars cut by the half's edge are neither asked
for nor penalised; everything else in the half (fields, villages, roads,
bare track) is background. Labels carry
no width, and their kinds are guesses: the width is taken as 3 m, and a car
labelled coach or unknown gets the kind the shipped network gives it
(``box`` where it finds none), so the kind head is not taught noise.

Writes ``<out>/chunk_00000_real.npz`` in ``frame_net_collect.py``'s format;
``--copies`` links it again as chunk_00001_real ... so that the real crops
weigh more in a fit over a folder of synthetic chunks (the fit holds out the
last chunks by name: these sort first and are all trained on).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from types import SimpleNamespace

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from frame_net_collect import (  # noqa: E402
    CROP_COLS, CROP_ROWS, centre_near_a_car_or_anywhere, crop_at, frame_with_truth, tile_and_directions)

YARD = "hsr_yard_0.5m"
WIDTH_M = 3.0


def half_columns(scene, half: str):
    """(first, end) image columns of ``half``, cut where ``bench/real.py --half`` cuts."""
    from bench.real import split_column

    split = int(split_column(scene))
    return (0, split) if half == "west" else (split, scene.image.shape[1])


def network_kinds(scene):
    """For each labelled car, the kind the shipped network gives the detection on it (or None)."""
    from bench.real import detect
    from bench.scoring import match

    found = detect(scene, min_confidence=0.1).all_cars
    _, pairs = match(found, scene.cars, scene.gsd_m)
    kinds = [None] * len(scene.cars)
    for i, j in pairs:
        kinds[j] = found[i].kind
    return kinds


def labelled_cars(scene, first: int, end: int, kinds):
    """Cars of the half as frame_net_collect's scenes hold them, each with
    ``label``: 1 to find, 0 neither asked for nor penalised."""
    from railwatch_plugin.core.frame_net import KIND_NAMES

    out = []
    for car, net_kind in zip(scene.cars, kinds):
        if not first <= car.col_px < end:
            continue
        h = math.radians(car.heading_deg)
        half_cols = 0.5 * car.length_m / scene.gsd_m * abs(math.sin(h)) + 0.5 * WIDTH_M / scene.gsd_m
        whole = first <= car.col_px - half_cols and car.col_px + half_cols <= end
        kind = car.kind if car.kind in KIND_NAMES else (net_kind if net_kind in KIND_NAMES else "box")
        out.append(SimpleNamespace(col_px=car.col_px - first, row_px=car.row_px, length_m=car.length_m,
                                   width_m=WIDTH_M, heading_deg=car.heading_deg, kind=kind,
                                   label=float(whole and not car.disputed)))
    return out


def crops_of_pass(image: np.ndarray, gsd: float, cars, rng, yard_direction: float):
    """Crops of one pass over the half image (rows, cols, bands) at ``gsd``."""
    work, directions = tile_and_directions(image, None, gsd, yard_direction, rng)
    scene = SimpleNamespace(cars=cars)
    wanted = [c.label for c in cars]
    xs, rows_out = [], []
    for d in directions:
        frame, x, near, label = frame_with_truth(scene, work, d, wanted)
        for _ in range(6 if label.sum() >= 5 else 2):
            centre = centre_near_a_car_or_anywhere(near, label, frame.valid, rng)
            if centre is None:
                continue
            crop, crop_cars = crop_at(x, frame.valid.shape, near, label, *centre, len(xs))
            rows_out += crop_cars
            xs.append(crop)
    return xs, rows_out


def main(argv=None):
    from bench.real import REAL_DIR, load_real_scene, resampled

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=("west", "east"), default="west", help="the half trained on (default west)")
    ap.add_argument("--out", default="bench/out/frames_real_west")
    ap.add_argument("--passes", type=int, default=40)
    ap.add_argument("--copies", type=int, default=1, help="links of the chunk, to weigh it in a fit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--coarsest-m", type=float, default=0.8,
                    help="passes after the first are at pixel sizes drawn from the stated size up to this (default 0.8)")
    a = ap.parse_args(argv)
    if not os.path.exists(os.path.join(REAL_DIR, YARD + ".tif")):
        print(f"the real yard is not in {REAL_DIR}: nothing collected")
        return 0
    scene = load_real_scene(YARD)
    first, end = half_columns(scene, a.half)
    kinds = network_kinds(scene)
    headings = [c.heading_deg for c in scene.cars if not c.disputed]
    yard_direction = (float(np.median(headings)) - 90.0) % 180.0
    rng = np.random.default_rng([a.seed, 12])
    xs, rows = [], []
    for k in range(a.passes):
        gsd = scene.gsd_m if k == 0 else float(rng.uniform(scene.gsd_m, a.coarsest_m))
        view = scene if gsd == scene.gsd_m else resampled(scene, gsd)
        f = view.image.shape[1] / scene.image.shape[1]
        lo, hi = int(round(first * f)), int(round(end * f))
        cars = labelled_cars(view, lo, hi, kinds)
        got, got_rows = crops_of_pass(view.image[:, lo:hi, :3], view.gsd_m, cars, rng, yard_direction)
        rows += [(r[0] + len(xs),) + tuple(r[1:]) for r in got_rows]
        xs += got
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "chunk_00000_real.npz")
    cars_arr = np.array(rows, np.float32).reshape(-1, 8)
    np.savez(path, x=np.array(xs, np.float16).reshape(-1, 4, CROP_ROWS, CROP_COLS), cars=cars_arr)
    for c in range(1, a.copies):
        link = os.path.join(a.out, f"chunk_{c:05d}_real.npz")
        if not os.path.exists(link):
            os.symlink(os.path.basename(path), link)
    print(f"{a.half} half, columns {first}-{end}: {len(xs)} crops, {int(cars_arr[:, 7].sum())} cars to find "
          f"({len(cars_arr)} in all) -> {path} (x{a.copies})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
