"""Collect training crops for the frame network from seeded synthetic yards.

    .venv/bin/python scripts/frame_net_collect.py --first-seed 10000 --scenes 1500 --out bench/out/frames

Each scene is drawn at a random GSD between 0.25 and 0.8 m (hard yards, one
in seven easy, and with ``--varied-share`` that share drawn with the looks of
real yards: ``railwatch_synth.config.VARIED``; ``--dense-share`` that share as
dense marshalling yards: ``DENSE``), made into frames exactly as the detector
makes them (``prepare_tile`` at ``NET_GSD_M``, the tile's own track directions, each
sometimes turned by a degree or two, plus now and then a direction with no
track), and cut into crops of CROP_ROWS x CROP_COLS with every true car
near them (``--look-alike-share``, ``--empty-track-share``: that share centred
on a bus, lorry or container stack, or on track with no car near). Writes
``<out>/chunk_<first seed>.npz`` per CHUNK scenes: ``x`` (n, channels, rows,
cols) float16, and the cars as rows of ``cars`` (crop index, col px, row px,
length m, width m, turn rad, kind index, label), where
label 1 is a car the network must find and 0 one it is neither asked to find
nor to miss (turned 12-20 degrees from the frame's rows: another frame's).

Seeds 1000-1999 (the accuracy benchmark) and 2000-2999 (validation) are not
for training; the script refuses them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CROP_ROWS, CROP_COLS = 96, 384
CHUNK = 50
FIND_TURN_DEG = 12.0  # cars turned less than this from the frame's rows are to be found there
IGNORE_TURN_DEG = 20.0  # between the two: neither asked for nor penalised
RESERVED_SEEDS = range(1000, 3000)


def frame_truth(scene, work, frame):
    """True cars in frame pixels: (n, 6) col, row, length m, width m, turn rad, kind index."""
    from railwatch_plugin.core.frame_net import KIND_NAMES

    fwd = cv2.invertAffineTransform(frame.to_tile)
    rows = []
    for car in scene.cars:
        centre = fwd[:, :2] @ (np.array([car.col_px * work.scale_col, car.row_px * work.scale_row])) + fwd[:, 2]
        # heading_deg: clockwise from image up; the car's direction in the tile, from +col towards +row:
        h = math.radians(car.heading_deg)
        along = fwd[:, :2] @ np.array([math.sin(h) * work.scale_col, -math.cos(h) * work.scale_row])
        turn = math.atan2(along[1], along[0])
        if turn > math.pi / 2:
            turn -= math.pi
        elif turn <= -math.pi / 2:
            turn += math.pi
        rows.append((centre[0], centre[1], car.length_m, car.width_m, turn, KIND_NAMES.index(car.kind)))
    return np.array(rows, np.float64).reshape(-1, 6)


LOOK_ALIKES = ("bus", "lorry", "container_stack")


def look_alike_centres(scene, work, frame) -> np.ndarray:
    """(n, 2) col, row in frame pixels of the scene's railcar look-alikes
    (``LOOK_ALIKES``), for crops that show the network what is not a car."""
    centres = [np.mean(d["corners_px"], axis=0) for d in scene.distractors if d["kind"] in LOOK_ALIKES]
    if not centres:
        return np.zeros((0, 2))
    return _scene_to_frame(np.array(centres), work, frame)


def _scene_to_frame(xy_px: np.ndarray, work, frame) -> np.ndarray:
    """(n, 2) scene pixels (col, row) in the frame's pixels."""
    fwd = cv2.invertAffineTransform(frame.to_tile)
    return (xy_px * [work.scale_col, work.scale_row]) @ fwd[:, :2].T + fwd[:, 2]


def empty_track_centres(scene, work, frame, spacing_m: float = 30.0, clear_m: float = 25.0) -> np.ndarray:
    """(n, 2) col, row in frame pixels of points on the scene's tracks with no car
    within ``clear_m``: bare ballast and rails, which a network that has learnt
    soft-edged cars (painted-out outlines, coarse detail) takes for a long car."""
    gsd = scene.gsd_m
    cars = np.array([(c.col_px, c.row_px) for c in scene.cars]).reshape(-1, 2)
    points = []
    for line in scene.track_lines_px:
        line = np.asarray(line, np.float64)
        for a, b in zip(line[:-1], line[1:]):
            n = max(1, int(np.hypot(*(b - a)) * gsd / spacing_m))
            points += [a + (b - a) * (k + 0.5) / n for k in range(n)]
    if not points:
        return np.zeros((0, 2))
    points = np.array(points)
    if len(cars):
        d = np.hypot(points[:, None, 0] - cars[None, :, 0], points[:, None, 1] - cars[None, :, 1]).min(axis=1)
        points = points[d * gsd > clear_m]
    if not len(points):
        return np.zeros((0, 2))
    return _scene_to_frame(points, work, frame)


def _inside_frame(xy: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return xy[(xy[:, 0] >= 0) & (xy[:, 0] < cols) & (xy[:, 1] >= 0) & (xy[:, 1] < rows)]


def centre_near_a_car_or_anywhere(near: np.ndarray, label: np.ndarray, valid: np.ndarray, rng):
    """(col, row) in the frame for a crop: mostly near a car to find, else
    anywhere valid; None when the frame has no valid pixel."""
    if label.sum() and rng.random() < 0.65:
        pick = near[rng.choice(np.nonzero(label)[0])]
        return pick[0] + rng.uniform(-150, 150), pick[1] + rng.uniform(-30, 30)
    ok = np.argwhere(valid[::8, ::8])
    if len(ok) == 0:
        return None
    rc, cc = ok[rng.integers(len(ok))] * 8
    return cc, rc


def crop_at(x: np.ndarray, frame_shape, near: np.ndarray, label: np.ndarray, cc: float, rc: float, index: int):
    """The CROP_ROWS x CROP_COLS crop of the frame input ``x`` around (cc, rc),
    kept inside the frame's ``frame_shape`` (rows, cols: ``x`` is padded beyond
    it), and the rows of ``cars`` (see the module) for the frame's cars
    ``near`` it, as crop number ``index``."""
    rows, cols = frame_shape
    c0 = int(np.clip(round(cc - CROP_COLS / 2), 0, max(0, cols - CROP_COLS)))
    r0 = int(np.clip(round(rc - CROP_ROWS / 2), 0, max(0, rows - CROP_ROWS)))
    crop = np.zeros((x.shape[0], CROP_ROWS, CROP_COLS), np.float16)
    part = x[:, r0 : r0 + CROP_ROWS, c0 : c0 + CROP_COLS]
    crop[:, : part.shape[1], : part.shape[2]] = part
    inside = ((near[:, 0] > c0 - 40) & (near[:, 0] < c0 + CROP_COLS + 40)
              & (near[:, 1] > r0 - 20) & (near[:, 1] < r0 + CROP_ROWS + 20))
    cars = [(index, car[0] - c0, car[1] - r0, car[2], car[3], car[4], car[5], lab)
            for car, lab in zip(near[inside], label[inside])]
    return crop, cars


def tile_and_directions(image: np.ndarray, valid, gsd: float, yard_direction_deg: float, rng):
    """The image prepared as the detector prepares a tile, and the directions to
    turn its frames along: the ones the detector would find in it, the yard's
    own where none is within 3 degrees of it, each moved by a degree or two
    half the time (the detector's directions are that far off a track's)."""
    from railwatch_plugin.core.frame_net import NET_GSD_M
    from railwatch_plugin.core.orientation import ANALYSIS_GSD_M, dominant_directions, with_direction
    from railwatch_plugin.core.prepare import coarse_look, prepare_tile

    work = prepare_tile(image, valid, (gsd, gsd), NET_GSD_M)
    coarse, coarse_valid, coarse_g = coarse_look(image, valid, (gsd, gsd), ANALYSIS_GSD_M)
    directions = with_direction(dominant_directions(coarse, coarse_g, coarse_valid), yard_direction_deg)
    directions = [(d + rng.normal(0, 1.5)) % 180.0 if rng.random() < 0.5 else d for d in directions]
    return work, directions


def frame_with_truth(scene, work, direction_deg: float, wanted=None):
    """The tile turned along ``direction_deg``, the network's input of it, the
    cars turned less than IGNORE_TURN_DEG from it (frame_truth's rows) and, per
    such car, 1 to find it or 0 to ask nothing of it: turned FIND_TURN_DEG or
    more, or 0 in ``wanted`` (one value per car of the scene, if given)."""
    from railwatch_plugin.core.frame import rotate_to_horizontal
    from railwatch_plugin.core.net_input import frame_input

    frame = rotate_to_horizontal(work.features, work.valid, direction_deg)
    truth = frame_truth(scene, work, frame)
    turn_deg = np.degrees(np.abs(truth[:, 4]))
    keep = turn_deg < IGNORE_TURN_DEG
    label = (turn_deg[keep] < FIND_TURN_DEG).astype(np.float64)
    if wanted is not None:
        label = label * np.asarray(wanted, np.float64)[keep]
    return frame, frame_input(frame), truth[keep], label


def crops_of_scene(seed: int, varied_share: float = 0.0, look_alike_share: float = 0.0, dense_share: float = 0.0,
                   empty_track_share: float = 0.0, ballast_matched: float = 0.0):
    from railwatch_synth import make_yard

    rng = np.random.default_rng([seed, 77])
    gsd = float(np.exp(rng.uniform(np.log(0.25), np.log(0.8))))
    pick = rng.random()
    difficulty = ("easy" if pick < 1 / 7 else "dense" if pick < 1 / 7 + dense_share
                  else "varied" if pick < 1 / 7 + dense_share + varied_share else "hard")
    config = None
    if ballast_matched and difficulty in ("varied", "dense"):
        from railwatch_synth.config import config_for

        config = config_for(difficulty).with_(ballast_matched_string_probability=ballast_matched)
    scene = make_yard(seed, gsd_m=gsd, difficulty=difficulty, config=config)
    work, directions = tile_and_directions(scene.image, scene.valid, gsd, (scene.meta["heading_deg"] - 90.0) % 180.0, rng)
    if rng.random() < 0.2:
        directions.append(float(rng.uniform(0, 180)))
    xs, cars = [], []
    for d in directions:
        frame, x, near, label = frame_with_truth(scene, work, d)
        rows, cols = frame.valid.shape
        n_crops = 6 if label.sum() >= 5 else 2
        alikes, empties = np.zeros((0, 2)), np.zeros((0, 2))
        if look_alike_share:  # no extra draw otherwise: earlier collections stay reproducible
            alikes = _inside_frame(look_alike_centres(scene, work, frame), rows, cols)
        if empty_track_share:
            empties = _inside_frame(empty_track_centres(scene, work, frame), rows, cols)
        for _ in range(n_crops):
            if len(alikes) and rng.random() < look_alike_share:
                cc, rc = alikes[rng.integers(len(alikes))] + [rng.uniform(-100, 100), rng.uniform(-20, 20)]
            elif len(empties) and rng.random() < empty_track_share:
                cc, rc = empties[rng.integers(len(empties))] + [rng.uniform(-60, 60), rng.uniform(-6, 6)]
            else:
                centre = centre_near_a_car_or_anywhere(near, label, frame.valid, rng)
                if centre is None:
                    continue
                cc, rc = centre
            crop, crop_cars = crop_at(x, (rows, cols), near, label, cc, rc, len(xs))
            cars += crop_cars
            xs.append(crop)
    return seed, np.array(xs, np.float16).reshape(-1, 4, CROP_ROWS, CROP_COLS), np.array(cars, np.float32).reshape(-1, 8)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--first-seed", type=int, default=10000)
    ap.add_argument("--scenes", type=int, default=1500)
    ap.add_argument("--out", default="bench/out/frames")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--varied-share", type=float, default=0.0,
                    help="share of scenes drawn with real yards' looks (railwatch_synth VARIED), 0-0.85")
    ap.add_argument("--dense-share", type=float, default=0.0,
                    help="share of scenes drawn as dense marshalling yards (railwatch_synth DENSE); with "
                         "--varied-share at most 0.85 together")
    ap.add_argument("--empty-track-share", type=float, default=0.0,
                    help="share of crops centred on track with no car within 25 m, where a frame has some")
    ap.add_argument("--look-alike-share", type=float, default=0.0,
                    help="share of crops centred on a look-alike (bus, lorry, container stack) where a frame has one")
    ap.add_argument("--ballast-matched", type=float, default=0.0,
                    help="varied and dense scenes: chance that a string is painted in the tone of its ballast")
    a = ap.parse_args(argv)
    seeds = list(range(a.first_seed, a.first_seed + a.scenes))
    if a.varied_share + a.dense_share > 6 / 7:
        ap.error("--varied-share and --dense-share add up to more than 6/7 (one scene in seven is easy)")
    if any(s in RESERVED_SEEDS for s in seeds):
        ap.error("seeds 1000-2999 are the benchmark's and validation's; pick others (default 10000 on)")
    os.makedirs(a.out, exist_ok=True)
    with ProcessPoolExecutor(a.workers) as pool:
        for k in range(0, len(seeds), CHUNK):
            part = seeds[k : k + CHUNK]
            path = os.path.join(a.out, f"chunk_{part[0]}.npz")
            if os.path.exists(path):
                continue
            xs, cars = [], []
            of_scene = partial(crops_of_scene, varied_share=a.varied_share, look_alike_share=a.look_alike_share,
                               dense_share=a.dense_share, empty_track_share=a.empty_track_share,
                               ballast_matched=a.ballast_matched)
            for seed, x, c in pool.map(of_scene, part):
                c[:, 0] += sum(len(v) for v in xs)
                xs.append(x)
                cars.append(c)
            np.savez(path + ".tmp.npz", x=np.concatenate(xs), cars=np.concatenate(cars))
            os.replace(path + ".tmp.npz", path)
            print(f"{path}: {sum(len(v) for v in xs)} crops, {sum(len(v) for v in cars)} cars", flush=True)


if __name__ == "__main__":
    main()
