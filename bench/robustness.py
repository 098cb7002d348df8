"""How the detector holds up on pictures its training never drew.

    .venv/bin/python bench/robustness.py [--scenes 12] [--gsd 0.5]

The frame network learnt from the synthetic generator, so the accuracy
benchmark (other seeds of that same generator) cannot show what it has
learnt of the generator's own habits. Here the same validation yards (seeds
2000 on) are changed after they are drawn, in ways a real archive differs
from one scene to the next and the generator never does, and the detector
is scored on each version as bench/accuracy.py scores it:

- gamma 0.6 and 1.6 (a sensor's or a vendor's tone curve),
- the colour channels swapped (a BGR file, or bands in another order),
- one panchromatic band,
- 12-bit data in uint16 with a dark, low-contrast stretch,
- JPEG at quality 25, extra blur (sigma 1.5 px), strong noise (sigma 10),
- half the scene's brightness (a winter scene, low sun),
- the image turned upside down (the sun from the other side of the world).
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from types import SimpleNamespace

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.accuracy import use_detector  # noqa: E402
from bench.scoring import Score, match  # noqa: E402


def _gamma(img, g):
    return (255.0 * (img / 255.0) ** g).astype(np.uint8)


def _jpeg(img, quality):
    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]


def _noise(img, sigma, seed):
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def _pixels(change):
    """A change of the pixels alone: the valid mask and the truth stay."""
    return lambda scene: (change(scene.image, scene.meta["seed"]), scene.valid, scene.cars)


def _upside_down(scene):
    rows, cols = scene.image.shape[:2]
    valid = None if scene.valid is None else np.ascontiguousarray(scene.valid[::-1, ::-1])
    truth = [SimpleNamespace(col_px=cols - c.col_px, row_px=rows - c.row_px, length_m=c.length_m) for c in scene.cars]
    return np.ascontiguousarray(scene.image[::-1, ::-1]), valid, truth


CHANGES = {  # scene -> (image, valid, truth)
    "as drawn": _pixels(lambda img, seed: img),
    "gamma 0.6": _pixels(lambda img, seed: _gamma(img.astype(np.float64), 0.6)),
    "gamma 1.6": _pixels(lambda img, seed: _gamma(img.astype(np.float64), 1.6)),
    "channels swapped": _pixels(lambda img, seed: np.ascontiguousarray(img[:, :, ::-1])),
    "panchromatic": _pixels(lambda img, seed: img.astype(np.float64).mean(axis=2, keepdims=True).astype(np.uint8)),
    "12-bit, dark stretch": _pixels(lambda img, seed: (200 + img.astype(np.float64) * 6.0).astype(np.uint16)),
    "JPEG quality 25": _pixels(lambda img, seed: _jpeg(img, 25)),
    "blur 1.5 px": _pixels(lambda img, seed: cv2.GaussianBlur(img, (0, 0), 1.5)),
    "noise 10": _pixels(lambda img, seed: _noise(img.astype(np.float64), 10.0, seed)),
    "half as bright": _pixels(lambda img, seed: (img.astype(np.float64) * 0.5).astype(np.uint8)),
    "upside down": _upside_down,
}


def run_scene(args):
    seed, gsd_m, change, frame_net = args
    use_detector(frame_net)
    from railwatch_plugin.core import detect_railcars_in_array
    from railwatch_synth import make_yard

    image, valid, truth = CHANGES[change](make_yard(seed, gsd_m=gsd_m))
    result = detect_railcars_in_array(image, gsd_m, mask=valid, workers=1)
    return change, match(result.cars, truth, gsd_m)[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--first-seed", type=int, default=2000)
    ap.add_argument("--frame-net", help="frame network weights instead of the shipped ones")
    a = ap.parse_args(argv)
    seeds = range(a.first_seed, a.first_seed + a.scenes)
    jobs = [(s, a.gsd, c, a.frame_net) for c in CHANGES for s in seeds]
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(run_scene, jobs))
    print(f"RailWatch detector on changed pictures: {a.scenes} hard validation yards at {a.gsd} m (seeds {a.first_seed}..)")
    print(f"{'change':>22} {'true':>6} {'found':>6} {'prec':>6} {'recall':>6} {'F1':>6}")
    for change in CHANGES:
        s = sum((r[1] for r in results if r[0] == change), Score(0, 0, 0, 0, 0))
        print(f"{change:>22} {s.n_true:>6} {s.n_found:>6} {s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}")


if __name__ == "__main__":
    main()
