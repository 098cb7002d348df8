"""What adapting the detector to a site's reviewed cars (core/adapt.py) buys.

    nice -n 10 .venv/bin/python bench/adapt.py real        # the labelled real yard, half / half
    nice -n 10 .venv/bin/python bench/adapt.py shift       # a synthetic look the network was not trained on
    nice -n 10 .venv/bin/python bench/adapt.py shift --look dense-painted   # dense yards, outlines painted out
    nice -n 10 .venv/bin/python bench/adapt.py real --train head   # the head alone instead of the last block
    nice -n 10 .venv/bin/python bench/adapt.py shift --look dense-painted --on days yards --keep-adapted
        # other days of the reviewed yard too; the adapted model even where the check keeps the base

real: on the labelled yard of ``../shared/real`` (read where it lies, never
copied; without it the script says so and exits 0), the agreed cars of one
half (split at their median column: west, then east; the adaptation is given
that half of the image only) are the analyst's review: accepted cars,
with the base model's detections there that match no label as rejected ones
and the disputed cars as unreviewed. The model adapted on them is measured on
the other half against its agreed cars (disputed cars are don't-cares, as in
``bench/real.py``): F1 and count error, base and adapted.

shift: one synthetic yard of a look the network was not trained on, or
handles poorly (``LOOKS``; ``--look dense-painted``: dense yards with every
label outline painted out), is reviewed (its true cars accepted, the base model's false ones rejected),
and base and adapted are measured on ``--scenes`` other yards of that look.
``--on days`` measures on other days of the reviewed yard instead (or as well):
its tracks, ground and buildings with cars, sun, grain and sensor drawn anew.
``--save`` keeps the adapted model (for ``bench/accuracy.py --frame-net``,
the check that it is no worse on the ordinary benchmark).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.real import REAL_DIR, LabelledCar, RealScene, load_real_scene, score_scene  # noqa: E402
from bench.scoring import Score, match  # noqa: E402

YARD = "hsr_yard_0.5m"


def load_yard(folder=REAL_DIR):
    """(image, gsd, labels) of the labelled yard as ``bench/real.py`` loads it;
    labels: (col, row, length, heading, disputed)."""
    scene = load_real_scene(YARD, folder)
    labels = [(c.col_px, c.row_px, c.length_m, c.heading_deg, c.disputed) for c in scene.cars]
    return scene.image, scene.gsd_m, labels


class _Car:
    def __init__(self, col, row, length=14.0):
        self.col_px, self.row_px, self.length_m = col, row, length


def score_half(found, labels, gsd, inside) -> Score:
    """Detections and agreed cars with ``inside(col)``; detections on disputed
    cars are don't-cares (``bench.real.score_scene``)."""
    half = [LabelledCar(c, r, length, heading, "unknown", disputed)
            for c, r, length, heading, disputed in labels if inside(c)]
    return score_scene([c for c in found if inside(c.col_px)],
                       RealScene("half", np.empty((0, 0, 3), np.uint8), gsd, half, rough=False))


def stage_timer():
    """A progress callback that notes the wall time of each stage (in ``stage_timer.last``)."""
    times, start = {}, [time.perf_counter()]

    def report(fraction, stage):
        times[stage] = round(time.perf_counter() - start[0])
    stage_timer.last = times
    return report


def line(name, s: Score) -> str:
    err = abs(s.n_found - s.n_true) / max(s.n_true, 1)
    return (f"{name:<28} true {s.n_true:>4} found {s.n_found:>4} tp {s.tp:>4} precision {s.precision:.3f} "
            f"recall {s.recall:.3f} F1 {s.f1:.3f} count err {100 * err:.1f} %")


def run_real(a):
    from railwatch_plugin.core import DetectionParams, detect_railcars_in_array
    from railwatch_plugin.core.adapt import IGNORE, NEGATIVE, POSITIVE, ReviewedCar, ReviewedScene, adapt
    from railwatch_plugin.core.model_file import load_model, save_model

    if not os.path.exists(os.path.join(REAL_DIR, YARD + ".tif")):
        print(f"bench/adapt.py: no labelled yard in {REAL_DIR}; nothing to measure.")
        return 0
    image, gsd, labels = load_yard()
    mid = float(np.median([lab[0] for lab in labels if not lab[4]]))  # as many agreed cars each side
    base = load_model(a.base)
    base_cars = detect_railcars_in_array(image, gsd, DetectionParams(), model=base).cars
    print(f"RailWatch adaptation on the real yard ({YARD}, {image.shape[1]} x {image.shape[0]} px), "
          f"train {a.train}, split at column {mid:.0f}")
    totals = {"base": Score(0, 0, 0, 0, 0), "adapted": Score(0, 0, 0, 0, 0)}
    for review_name, review_side in (("west", lambda c: c < mid), ("east", lambda c: c >= mid)):
        if a.halves and review_name not in a.halves:
            continue
        other = (lambda c, side=review_side: not side(c))
        cars = [ReviewedCar(c, r, IGNORE if disputed else POSITIVE, length, heading)
                for c, r, length, heading, disputed in labels if review_side(c)]
        truth = [_Car(c, r, length) for c, r, length, _, _ in labels if review_side(c)]
        found = [c for c in base_cars if review_side(c.col_px)]
        _, pairs = match(found, truth, gsd)
        matched = {i for i, _ in pairs}
        cars += [ReviewedCar(c.col_px, c.row_px, NEGATIVE, c.length_m, c.heading_deg)
                 for i, c in enumerate(found) if i not in matched]
        n_pos = sum(c.status == POSITIVE for c in cars)
        n_neg = sum(c.status == NEGATIVE for c in cars)
        # The review sees only its own half of the image: the other half stays unseen imagery.
        c0, c1 = (0, int(mid)) if review_name == "west" else (int(mid), image.shape[1])
        cars = [ReviewedCar(c.col_px - c0, c.row_px, c.status, c.length_m, c.heading_deg) for c in cars]
        scene = ReviewedScene(f"{YARD} {review_name}", np.ascontiguousarray(image[:, c0:c1]), (gsd, gsd), cars)
        t0, c0 = time.perf_counter(), time.process_time()
        result = adapt([scene], base, settings(a), progress=stage_timer())
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"adaptation: {seconds:.0f} s wall, {cpu:.0f} s CPU; stages: {stage_timer.last}")
        print(f"review: {review_name} half, {n_pos} accepted, {n_neg} rejected; adaptation {seconds:.0f} s; "
              f"{result.summary}")
        adapted = adapted_model(result, a)
        if a.save:
            path = a.save.replace(".npz", f"_{review_name}.npz")
            save_model(path, result.weights, dict(result.header, name=f"{YARD} {review_name} half"))
        for name, model in (("base", base), ("adapted", adapted)):
            cars_found = base_cars if model is base else detect_railcars_in_array(image, gsd, DetectionParams(), model=model).cars
            s = score_half(cars_found, labels, gsd, other)
            totals[name] = totals[name] + s
            print("  " + line(f"{name} on the {'east' if review_name == 'west' else 'west'} half", s))
    for name, s in totals.items():
        print(line(f"{name}, both halves", s))
    return 0


def settings(a):
    from railwatch_plugin.core.adapt import AdaptSettings

    return AdaptSettings(train=a.train, epochs=a.epochs, augmentations=a.views, keep_always=a.keep_adapted,
                         **dict(a.set or []))


def adapted_model(result, a):
    """The model the adaptation wrote; with ``--adapted-string-support``, run with the shipped network's raise."""
    from dataclasses import replace

    from railwatch_plugin.core.model_file import model_from_weights

    model = model_from_weights(result.weights, "adapted")
    return replace(model, string_support=True) if a.adapted_string_support else model


@dataclass(frozen=True)
class Look:
    """A synthetic look: ``changes`` to railwatch_synth's ``preset`` yards, drawn ``size_m`` wide and high
    (None: the generator's own size)."""
    changes: dict
    preset: str = "hard"
    size_m: Optional[Tuple[float, float]] = None


# Looks the network was not trained on (soft, hazy, flat: an old or poor
# product), as changes to railwatch_synth's hard yards; and one it handles
# poorly though it saw some of it in training: a dense European-like yard
# with every label outline painted out (as the hidden European yard of issue
# 12), on varied yards 400 x 300 m.
LOOKS = {
    "hazy": Look(dict(blur_sigma_px=(1.4, 1.7), haze=(0.35, 0.45), contrast=(0.7, 0.8), noise_sigma_dn=(5.0, 8.0))),
    "soft-hazy": Look(dict(blur_sigma_px=(1.8, 2.2), haze=(0.45, 0.55), contrast=(0.6, 0.7), noise_sigma_dn=(6.0, 9.0))),
    "dense-painted": Look(dict(n_tracks=(18, 24), track_spacing_m=(4.4, 5.0), catenary_probability=1.0, fill_sidings=True,
                               vehicle_depot_probability=0.0, coach_string_probability=0.0, tight_string_probability=0.6,
                               painted_out_outline_probability=1.0),
                          preset="varied", size_m=(400.0, 300.0)),
}
REVIEWED_SEED, FIRST_TEST_SEED = 5000, 5001  # neither training's (10000 on) nor the benchmark's (1000-2999)
FIRST_DAY_SEED = 7000  # looks of the reviewed yard's other days


def synthetic_review(scene, base, gsd):
    """The review an analyst would make of ``scene``: its true cars accepted (or added), the
    base model's detections that are no car rejected."""
    from railwatch_plugin.core import DetectionParams, detect_railcars_in_array
    from railwatch_plugin.core.adapt import NEGATIVE, POSITIVE, ReviewedCar

    found = detect_railcars_in_array(scene.image, gsd, DetectionParams(), mask=scene.valid, model=base).cars
    _, pairs = match(found, scene.cars, gsd)
    matched = {i for i, _ in pairs}
    cars = [ReviewedCar(c.col_px, c.row_px, POSITIVE, c.length_m, c.heading_deg, c.width_m) for c in scene.cars]
    return cars + [ReviewedCar(c.col_px, c.row_px, NEGATIVE, c.length_m, c.heading_deg, c.width_m)
                   for i, c in enumerate(found) if i not in matched]


def run_shift(a):
    from railwatch_plugin.core import DetectionParams, detect_railcars_in_array
    from railwatch_plugin.core.adapt import ReviewedScene, adapt
    from railwatch_plugin.core.model_file import load_model, save_model
    from railwatch_synth import make_yard
    from railwatch_synth.config import config_for

    gsd = a.gsd
    look = LOOKS[a.look]
    config = config_for(look.preset).with_(**look.changes)
    size = {} if look.size_m is None else {"size_m": look.size_m}
    base = load_model(a.base)
    if FIRST_TEST_SEED <= a.review_seed < FIRST_TEST_SEED + a.scenes:
        raise SystemExit(f"--review-seed {a.review_seed} is one of the yards measured on ({FIRST_TEST_SEED} on)")
    scene = make_yard(a.review_seed, gsd_m=gsd, config=config, n_cars=a.cars, **size)
    cars = synthetic_review(scene, base, gsd)
    reviewed = ReviewedScene(f"{a.look} {a.review_seed}", scene.image, (gsd, gsd), cars, scene.valid)
    t0, c0 = time.perf_counter(), time.process_time()
    result = adapt([reviewed], base, settings(a), progress=stage_timer())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"adaptation: {seconds:.0f} s wall, {cpu:.0f} s CPU; stages: {stage_timer.last}")
    print(f"RailWatch adaptation to a look the network reads poorly ({a.look}, {gsd} m): reviewed yard seed "
          f"{a.review_seed}, {result.positives} cars, {result.negatives} rejected; adaptation {seconds:.0f} s; "
          f"train {a.train}; {result.summary}")
    adapted = adapted_model(result, a)
    if a.save:
        save_model(a.save, result.weights, dict(result.header, name=f"synthetic {a.look}"))
    for on in a.on:
        totals = {"base": Score(0, 0, 0, 0, 0), "adapted": Score(0, 0, 0, 0, 0)}
        for test in measured_scenes(on, a, config, size):
            for name, model in (("base", base), ("adapted", adapted)):
                found = detect_railcars_in_array(test.image, gsd, DetectionParams(), mask=test.valid, model=model).cars
                totals[name] = totals[name] + match(found, test.cars, gsd)[0]
        for name, s in totals.items():
            print(line(f"{name}, {a.scenes} other {on}", s))
    return 0


def measured_scenes(on, a, config, size):
    """The scenes a shift is measured on: other ``yards`` of the look (new tracks, ground and
    cars), or other ``days`` of the reviewed yard (its tracks, ground and buildings; cars, sun,
    grain and sensor drawn anew, as ``SceneConfig.look_seed`` does): the site log's use, a site
    reviewed once and counted again on later images."""
    from railwatch_synth import make_yard

    for k in range(a.scenes):
        if on == "yards":
            yield make_yard(FIRST_TEST_SEED + k, gsd_m=a.gsd, config=config, **size)
        else:  # as many cars as the reviewed day: an exact count may redraw the layout, the same count redraws it alike
            yield make_yard(a.review_seed, gsd_m=a.gsd, config=config.with_(look_seed=FIRST_DAY_SEED + k),
                            n_cars=a.cars, **size)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("real", "shift"))
    ap.add_argument("--train", default="last", choices=("head", "last"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--views", type=int, default=4, help="augmented views of every frame")
    ap.add_argument("--set", nargs="*", type=lambda kv: (kv.split("=")[0], float(kv.split("=")[1])),
                    help="other AdaptSettings, e.g. background_weight=3 (numbers)")
    ap.add_argument("--base", help="model to adapt (default: the shipped one)")
    ap.add_argument("--keep-adapted", action="store_true",
                    help="keep the adapted model even where the held-out check would keep the base: what it refuses")
    ap.add_argument("--adapted-string-support", action="store_true",
                    help="run the adapted model with the shipped network's string support on the scenes "
                         "measured (the adaptation's held-out check still scores it without)")
    ap.add_argument("--scenes", type=int, default=5, help="shift: scenes of the look to measure on")
    ap.add_argument("--save", help="write the adapted model here (real: one file per reviewed half, _west/_east)")
    ap.add_argument("--halves", nargs="*", choices=("west", "east"), help="real: review only these halves")
    ap.add_argument("--look", default="soft-hazy", choices=sorted(LOOKS))
    ap.add_argument("--gsd", type=float, default=0.5, help="shift: pixel size of the yards")
    ap.add_argument("--on", nargs="+", default=["yards"], choices=("yards", "days"),
                    help="shift: measure on other yards of the look, or on other days of the reviewed yard")
    ap.add_argument("--cars", type=int, default=100, help="shift: cars in the reviewed yard")
    ap.add_argument("--review-seed", type=int, default=REVIEWED_SEED,
                    help="shift: the reviewed yard's seed (not one of the yards measured on)")
    a = ap.parse_args(argv)
    return run_real(a) if a.what == "real" else run_shift(a)


if __name__ == "__main__":
    sys.exit(main())
